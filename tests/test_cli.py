"""The process-wide settings that decide training and inference speed."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_onednn_is_requested_before_tensorflow_loads():
    assert os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1"


# The tools turn it on through runtime.cli, before their first import of TensorFlow: training
# steps are ~4x faster with oneDNN, upscaling 1.5-3x.
def last_line_printed(code, *, unset):
    """The last line ``python -c code`` prints in a fresh process without the ``unset``
    environment variables."""
    env = {k: v for k, v in os.environ.items() if k not in unset}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.strip().splitlines()[-1]


@pytest.mark.parametrize(
    "entry",
    [
        "from runtime import cli",
        "import train",
        "import upscale",
        "import evaluate",
        "import runpy; runpy.run_path('export.py')",  # import export is the package
    ],
)
def test_every_entry_point_turns_onednn_on(entry):
    pytest.importorskip("tensorflow")
    code = (
        f"{entry}\nimport tensorflow\n"
        "from tensorflow.python.util import _pywrap_util_port as port\n"
        "print(port.IsMklEnabled())"
    )
    assert last_line_printed(code, unset=("TF_ENABLE_ONEDNN_OPTS",)) == "True"


def test_importing_the_networks_changes_no_tensorflow_setting():
    """models/ is a library: the tools make TensorFlow's settings (runtime.cli), and a notebook
    or another program that imports the networks chooses its own."""
    code = (
        "import importlib, os, pkgutil\nimport models\n"
        "for module in pkgutil.iter_modules(models.__path__):\n"
        "    importlib.import_module('models.' + module.name)\n"
        "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), os.environ.get('TF_NUM_INTEROP_THREADS'))"
    )
    unset = ("TF_ENABLE_ONEDNN_OPTS", "TF_NUM_INTEROP_THREADS")
    assert last_line_printed(code, unset=unset) == "None None"


def test_one_op_at_a_time_sets_tensorflows_inter_op_pool_unless_set(monkeypatch):
    from runtime import cli

    def record(argv):
        seen.append(os.environ.get("TF_NUM_INTEROP_THREADS"))

    seen = []
    monkeypatch.delenv("TF_NUM_INTEROP_THREADS", raising=False)
    cli.run(record, needs_keras=False)
    cli.run(record, needs_keras=False, one_op_at_a_time=True)
    monkeypatch.setenv("TF_NUM_INTEROP_THREADS", "3")
    cli.run(record, needs_keras=False, one_op_at_a_time=True)
    assert seen == [None, "1", "3"]


# Inference tools only: one op at a time is what their memory figures were measured with.
@pytest.mark.parametrize(
    ("script", "expected"), [("upscale.py", True), ("evaluate.py", True), ("train.py", False)]
)
def test_inference_tools_run_one_op_at_a_time(monkeypatch, script, expected):
    import runpy

    from runtime import cli

    asked = []
    monkeypatch.setattr(cli, "run", lambda main, **options: asked.append(options) or 0)
    with pytest.raises(SystemExit):
        runpy.run_path(str(REPO_ROOT / script), run_name="__main__")
    assert asked and asked[0].get("one_op_at_a_time", False) is expected


@pytest.mark.parametrize("code, teardown", [(130, False), (0, True), (2, True)])
def test_after_a_stop_the_process_ends_without_teardown_but_with_its_output(code, teardown):
    script = (
        "import atexit, sys\n"
        "from runtime import cli\n"
        "atexit.register(lambda: print('teardown ran', file=sys.stderr))\n"
        "print('checkpoint saved', end='')\n"  # unflushed: os._exit alone would lose it
        "sys.stderr.write('stopped; resume with ...')\n"
        f"cli.exit_with({code})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == code
    assert result.stdout == "checkpoint saved"
    assert result.stderr.startswith("stopped; resume with ...")
    assert ("teardown ran" in result.stderr) == teardown


@pytest.mark.parametrize("at_once", [True, False])
def test_an_error_that_ends_at_once_skips_teardown_after_its_line(at_once):
    """A lost worker's teardown printed a traceback under the one line (CI, stop 41)."""
    script = (
        "import atexit, sys\n"
        "from runtime import cli\n"
        "from runtime.errors import UserError\n"
        "atexit.register(lambda: print('teardown ran', file=sys.stderr))\n"
        "class Lost(UserError):\n"
        f"    end_at_once = {at_once}\n"
        "def main(argv):\n"
        "    print('step 2 saved', end='')\n"
        "    raise Lost('the cluster broke')\n"
        "cli.exit_with(cli.run(main, [], needs_keras=False))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stdout == "step 2 saved"
    assert result.stderr.startswith("error: the cluster broke\n")
    assert ("teardown ran" in result.stderr) != at_once


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "data.download", "--list"],
        [
            "-c",
            "from runtime import cli; cli.exit_with(cli.run(lambda a: print('x' * 9), [], "
            "needs_keras=False))",
        ],
    ],
)
def test_a_reader_that_goes_away_ends_the_tool_quietly(command):
    """`tool | head`: the pipe closes before the tool writes; no traceback, exit 141."""
    process = subprocess.Popen(
        [sys.executable, *command],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # long before the interpreter has started and printed
    _, stderr = process.communicate(timeout=120)
    assert "Traceback" not in stderr.decode(), stderr.decode()
    assert process.returncode == 141


def test_tensorflow_warnings_are_silenced_once_keras_is_imported_quietly():
    """The retracing warnings of multi-model evaluations (notebooks, --report-checkpoints) are
    not for users; an error from TensorFlow still shows. ``-i`` is interactive, as in Jupyter,
    where TensorFlow sets its logger to INFO on stdout the first time it is asked for it."""
    code = (
        "from runtime import cli; cli.import_keras_quietly(); import tensorflow as tf; "
        "tf.get_logger().warning('quiet'); tf.get_logger().error('loud')"
    )
    result = subprocess.run(
        [sys.executable, "-i", "-c", code],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
    )
    said = result.stdout + result.stderr
    assert "loud" in said and "quiet" not in said
