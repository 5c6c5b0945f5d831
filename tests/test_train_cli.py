"""train.py end to end: one-line errors, Ctrl-C, kill -9 and --resume."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

import train
from models import vgg
from runtime import cli, rundir
from training import checkpoints

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_main(argv):
    return cli.run(train.main, argv)


def tiny_args(photo_folder, tmp_path, *extra):
    return [
        "--dataset",
        str(photo_folder),
        "--data-dir",
        str(tmp_path / "data"),
        "--preset",
        "paper",
        "--blocks",
        "1",
        "--hr-size",
        "32",
        "--batch-size",
        "2",
        "--validation-images",
        "1",
        "--validation-crop",
        "48",
        "--no-progress",
        *extra,
    ]


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    return err[0]


def test_missing_vgg_file(photo_folder, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(vgg.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv(vgg.URL_ENV, "http://127.0.0.1:9/vgg19.h5")  # nothing listens there
    code = run_main(
        tiny_args(photo_folder, tmp_path, "--stage", "gan", "--run-dir", str(tmp_path / "run"))
    )
    assert code == 2
    assert "VGG19 weights" in one_error_line(capsys)
    assert not (tmp_path / "run").exists()  # stopped before writing anything


def test_explicit_vgg_path_that_does_not_exist(photo_folder, tmp_path, capsys):
    code = run_main(
        tiny_args(
            photo_folder, tmp_path, "--stage", "gan", "--vgg-weights", str(tmp_path / "none.h5")
        )
    )
    assert code == 2
    assert "not found at" in one_error_line(capsys)


def test_empty_dataset_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert run_main(["--dataset", str(tmp_path / "empty"), "--stage", "pretrain"]) == 2
    assert "empty" in one_error_line(capsys)


def test_unknown_dataset_name(capsys):
    assert run_main(["--dataset", "ImageNet42", "--stage", "pretrain"]) == 2
    line = one_error_line(capsys)
    assert "ImageNet42" in line and "DF2K" in line


def test_bad_flag_value(capsys):
    assert run_main(["--hr-size", "100"]) == 2
    assert "multiple of 16" in one_error_line(capsys)


def test_help_shows_real_defaults_and_not_none_for_the_presets_values():
    from training.arguments import build_parser

    text = " ".join(build_parser().format_help().split())
    assert "(default: None)" not in text
    assert "(default: report)" in text  # --preset's own default
    assert "--coherent-grid-weight" in text


def test_resume_of_a_missing_run(tmp_path, capsys):
    assert run_main(["--resume", str(tmp_path / "nothing")]) == 2
    assert "nothing to resume" in one_error_line(capsys)


def test_summary_prints_the_three_models(capsys):
    assert run_main(["--summary", "--content-loss", "mse", "--blocks", "2"]) == 0
    out = capsys.readouterr().out
    for name in ("srresnet_pixelshuffle_b2", "discriminator", "srgan"):
        assert name in out


def training_args(photo_folder, tmp_path, run_dir, epochs):
    return tiny_args(
        photo_folder,
        tmp_path,
        "--stage",
        "pretrain",
        "--steps-per-epoch",
        "2",
        "--epochs",
        str(epochs),
        "--checkpoint-every",
        "1",
        "--run-dir",
        str(run_dir),
    )


def start_training(photo_folder, tmp_path, run_dir, epochs):
    args = training_args(photo_folder, tmp_path, run_dir, epochs)
    return subprocess.Popen(
        [sys.executable, "train.py", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def resume_training(run_dir, *, epochs):
    args = ["train.py", "--resume", str(run_dir), "--epochs", str(epochs), "--no-progress"]
    return subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=240
    )


def wait_for(condition, process, timeout=240):
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"train.py ended early: {process.communicate()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("timed out")
        time.sleep(0.2)


def generator_arrays(checkpoint):
    model = keras.models.load_model(checkpoint / "generator.keras")
    return [keras.ops.convert_to_numpy(weight) for weight in model.weights]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_in_seconds_and_resume_matches_an_uninterrupted_run(
    photo_folder, tmp_path, signum
):
    run_dir = tmp_path / "run"
    process = start_training(photo_folder, tmp_path, run_dir, epochs=200)
    history = run_dir / "history.csv"
    wait_for(lambda: history.exists() and len(history.read_text().splitlines()) > 3, process)
    process.send_signal(signum)
    sent = time.monotonic()
    out, err = process.communicate(timeout=120)
    seconds = time.monotonic() - sent
    assert process.returncode == 130, err
    assert seconds < 15, f"took {seconds:.1f} s to stop"  # one tiny step, a save, TF's exit
    assert f"resume with: python train.py --resume {run_dir}" in out
    assert "Traceback" not in err
    interrupted_at = int(checkpoints.read_checkpoint(rundir.latest_checkpoint(run_dir))[0]["step"])
    assert interrupted_at >= 3

    epochs = interrupted_at // 2 + 2
    resumed = resume_training(run_dir, epochs=epochs)
    assert resumed.returncode == 0, resumed.stderr
    final = rundir.latest_checkpoint(run_dir)
    assert checkpoints.read_checkpoint(final)[0]["step"] == 2 * epochs
    straight_dir = tmp_path / "straight"
    assert run_main(training_args(photo_folder, tmp_path, straight_dir, epochs)) == 0
    straight = rundir.latest_checkpoint(straight_dir)
    assert straight.name == final.name
    for a, b in zip(generator_arrays(straight), generator_arrays(final), strict=True):
        np.testing.assert_array_equal(a, b)


# train.py in a process whose second checkpoint stalls after writing its optimiser file: the
# test signals it there, deterministically, instead of racing a timer.
STALLED_SAVE = """
import sys, time
from runtime import cli
import train

marker, args = sys.argv[1], sys.argv[2:]
calls = []

def main(argv):
    import numpy  # inside cli.run, as train.py imports it: its threads inherit the block

    original = numpy.savez

    def savez(*a, **k):
        original(*a, **k)
        calls.append(1)
        if len(calls) == 2:
            open(marker, "w").close()
            time.sleep(120)

    numpy.savez = savez
    return train.main(argv)

sys.exit(cli.run(main, args))
"""


@pytest.mark.slow
def test_a_second_signal_while_saving_exits_at_once_and_keeps_the_last_checkpoint(
    photo_folder, tmp_path
):
    run_dir, marker = tmp_path / "run", tmp_path / "saving"
    args = training_args(photo_folder, tmp_path, run_dir, epochs=200)
    process = subprocess.Popen(
        [sys.executable, "-c", STALLED_SAVE, str(marker), *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(marker.exists, process)
    process.send_signal(signal.SIGTERM)  # a stop request: waits for the save to finish
    time.sleep(1)
    assert process.poll() is None
    process.send_signal(signal.SIGTERM)  # stop now, without saving
    sent = time.monotonic()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert time.monotonic() - sent < 5  # not the 120 s stall
    assert "stopped at once, without saving" in err
    latest = rundir.latest_checkpoint(run_dir)
    assert latest.name == "step_0000002"  # the first checkpoint; the second never landed
    assert checkpoints.read_checkpoint(latest)[0]["step"] == 2
    assert generator_arrays(latest)  # loads
    assert not (run_dir / "checkpoints" / "step_0000004").exists()


@pytest.mark.slow
def test_kill_9_loses_at_most_the_work_since_the_last_checkpoint(photo_folder, tmp_path):
    run_dir = tmp_path / "run"
    process = start_training(photo_folder, tmp_path, run_dir, epochs=200)
    wait_for(
        lambda: (
            rundir.latest_checkpoint(run_dir) is not None
            and rundir.latest_checkpoint(run_dir).name >= "step_0000004"
        ),
        process,
    )
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    latest = rundir.latest_checkpoint(run_dir)
    state, _ = checkpoints.read_checkpoint(latest)
    assert state["step"] >= 4
    generator = keras.models.load_model(latest / "generator.keras")  # complete, not half-written
    assert generator.count_params() > 0
    resumed = resume_training(run_dir, epochs=state["step"] // 2 + 1)
    assert resumed.returncode == 0, resumed.stderr
    assert "done:" in resumed.stdout


def test_the_real_command_prints_exactly_one_line_on_stderr():
    """No TensorFlow start-up notices around the error (runtime/cli.py silences them)."""
    result = subprocess.run(
        [sys.executable, "train.py", "--dataset", "nope"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown training set 'nope': use one of sample, DIV2K, Flickr2K, DF2K, "
        "or a path to a folder of images"
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("junk{", "is not a readable config"),
        ("[1, 2, 3]", "holds list, not a config"),
        ('{"blocks": "abc"}', "blocks is 'abc', which is not int"),
        ('{"stage": "banana"}', "unknown stage 'banana'"),
        ('{"ema": true}', "ema is True, which is not float or null"),
    ],
)
def test_resume_refuses_a_broken_config_json_in_one_line(tmp_path, capsys, content, expected):
    (tmp_path / "config.json").write_text(content)
    assert run_main(["--resume", str(tmp_path)]) == 2
    assert expected in one_error_line(capsys)


def test_resume_validates_the_epochs_and_refuses_flags_it_would_ignore(tmp_path, capsys):
    from training.config import resolve_config

    (tmp_path / "config.json").write_text(resolve_config("paper", "pretrain").to_json())
    assert run_main(["--resume", str(tmp_path), "--epochs", "-1"]) == 2
    assert "--epochs must be at least 1" in one_error_line(capsys)
    argv = ["--resume", str(tmp_path), "--learning-rate", "0.5", "--batch-size=3"]
    assert run_main(argv) == 2
    line = one_error_line(capsys)
    assert "--batch-size, --learning-rate cannot change it" in line and "--init-generator" in line
    assert "0.0001" in (tmp_path / "config.json").read_text()  # untouched


def test_an_abbreviated_flag_is_the_flag_also_when_its_value_is_none():
    """argparse takes any unambiguous prefix of a flag; ``none`` given so clears the preset's
    value as the full flag does (cpu-budget's GAN stage: 1,000 steps an epoch, EMA 0.999,
    192-pixel validation crops)."""

    def config(*flags):
        argv = ["--preset", "cpu-budget", "--stage", "gan", *flags]
        return train.config_from_args(
            train.build_parser().parse_args(argv), argv, check_paths=False
        )

    full = config("--steps-per-epoch", "none", "--ema", "none", "--validation-crop=none")
    assert (full.steps_per_epoch, full.ema, full.validation_crop) == (None, None, None)
    assert config("--steps-per", "none", "--em", "none", "--validation-c=none") == full


def test_resume_knows_abbreviated_flags_by_their_full_names(tmp_path, capsys):
    from training.config import resolve_config

    (tmp_path / "config.json").write_text(resolve_config("paper", "pretrain").to_json())
    assert run_main(["--resume", str(tmp_path), "--epoch", "-1"]) == 2
    assert "--epochs must be at least 1" in one_error_line(capsys)
    assert run_main(["--resume", str(tmp_path), "--batch", "3", "--no-aug"]) == 2
    assert "--augment, --batch-size cannot change it" in one_error_line(capsys)


def test_a_run_dir_that_is_a_file_is_one_line(photo_folder, tmp_path, capsys):
    (tmp_path / "taken").write_text("not a folder")
    argv = tiny_args(photo_folder, tmp_path, "--stage", "pretrain", "--run-dir")
    assert run_main([*argv, str(tmp_path / "taken")]) == 2
    assert "exists and is not a folder" in one_error_line(capsys)
    assert (tmp_path / "taken").read_text() == "not a folder"


def test_a_full_disk_at_a_checkpoint_is_one_line_and_the_last_one_stays(
    photo_folder, tmp_path, capsys, mount
):
    from training.loop import train as train_run

    disk = mount("size=32m")
    argv = tiny_args(photo_folder, tmp_path, "--stage", "pretrain", "--epochs", "2")
    argv += ["--steps-per-epoch", "3", "--checkpoint-every", "1"]
    config = train.config_from_args(train.build_parser().parse_args(argv), argv)
    run = disk / "run"

    def fill_the_disk(trainer, step, losses):
        if step == 4:  # after the first checkpoint (step 3): leave no byte free
            with open(disk / "filler", "wb") as filler, contextlib.suppress(OSError):
                while True:
                    filler.write(b"\0" * (1 << 16))
                    filler.flush()

    def main(argv):
        train_run(config, run_dir=run, progress=False, on_step=fill_the_disk)

    assert cli.run(main, []) == 1
    line = one_error_line(capsys)
    assert "No space left on device" in line and "written before are intact" in line
    checkpoints.verify_checkpoint(run / "checkpoints" / "step_0000003")
    assert not list((run / "checkpoints").glob(".step_*"))  # the half-written one is gone
    (disk / "filler").unlink()
    resumed = train_run(config, run_dir=run, resume=True, progress=False)
    assert resumed.step == 6


def test_a_run_dir_on_a_read_only_file_system_is_one_line(photo_folder, tmp_path, capsys, mount):
    read_only = mount("ro,size=1m")
    argv = tiny_args(photo_folder, tmp_path, "--stage", "pretrain", "--epochs", "1")
    assert run_main([*argv, "--run-dir", str(read_only / "run")]) == 1
    assert "Read-only file system" in one_error_line(capsys)


def test_a_data_dir_on_a_read_only_file_system_is_one_line(photo_folder, tmp_path, capsys, mount):
    read_only = mount("ro,size=1m")
    argv = tiny_args(photo_folder, tmp_path, "--stage", "pretrain", "--epochs", "1")
    argv[argv.index("--data-dir") + 1] = str(read_only / "data")
    assert run_main([*argv, "--run-dir", str(tmp_path / "run")]) == 1
    assert "Read-only file system" in one_error_line(capsys)


def test_resuming_a_finished_run_reports_its_validation(photo_folder, tmp_path, capsys):
    run = tmp_path / "run"
    argv = tiny_args(photo_folder, tmp_path, "--stage", "pretrain", "--epochs", "1")
    argv += ["--steps-per-epoch", "2", "--run-dir", str(run)]
    assert run_main(argv) == 0
    first = [line for line in capsys.readouterr().out.splitlines() if line.startswith("done:")]
    assert run_main(["--resume", str(run)]) == 0
    again = [line for line in capsys.readouterr().out.splitlines() if line.startswith("done:")]
    assert again == first and "nan" not in again[0] and "dB" in again[0]


def test_importing_the_cli_loads_no_tensorflow():
    """Flags and presets are checked before TensorFlow starts (and before its threads, which
    must inherit runtime.stop's signal mask): train.py's imports must not pull Keras in."""
    code = "import sys, train; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "False"]


def test_init_generator_of_another_network_is_one_line(photo_folder, tmp_path, capsys, recwarn):
    other = keras.Sequential([keras.Input((10,)), keras.layers.Dense(3)])
    other.save(tmp_path / "dense.keras")
    argv = tiny_args(photo_folder, tmp_path, "--stage", "pretrain", "--epochs", "1")
    argv += ["--init-generator", str(tmp_path / "dense.keras"), "--run-dir", str(tmp_path / "r")]
    assert run_main(argv) == 2
    assert "cannot load generator weights from" in one_error_line(capsys)
    assert not [w for w in recwarn if "Skipping" in str(w.message)]  # Keras's per-layer lines
