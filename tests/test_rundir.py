"""runtime/rundir.py: the run directory's names, its checkpoints, and the generator a path
stands for."""

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from runtime import rundir
from runtime.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[1]


def make_checkpoint(run, step, *, complete=True, generator=True):
    folder = rundir.checkpoint_dir(run, step)
    folder.mkdir(parents=True)
    if generator:
        (folder / rundir.GENERATOR).write_bytes(b"g")
    if complete:
        (folder / rundir.STATE).write_text("{}")
    return folder


def test_names_sort_as_steps_and_parse_back(tmp_path):
    assert rundir.checkpoint_name(12) == "step_0000012"
    assert sorted(rundir.checkpoint_name(s) for s in (100, 9, 20)) == [
        rundir.checkpoint_name(s) for s in (9, 20, 100)
    ]
    folder = rundir.checkpoint_dir(tmp_path, 340)
    assert folder == tmp_path / "checkpoints" / "step_0000340"
    assert rundir.checkpoint_step(folder) == 340
    assert rundir.checkpoint_step(tmp_path / "step_0000340") is None  # not under checkpoints/
    assert rundir.checkpoint_step(tmp_path / "checkpoints" / "step_x") is None
    assert rundir.GENERATOR == "generator.keras"
    assert rundir.RAW_GENERATOR == "generator_raw.keras"


def test_latest_follows_the_pointer_then_the_newest_complete(tmp_path):
    assert rundir.latest_checkpoint(tmp_path) is None
    older = make_checkpoint(tmp_path, 1)
    newer = make_checkpoint(tmp_path, 2)
    make_checkpoint(tmp_path, 3, complete=False)
    assert rundir.latest_checkpoint(tmp_path) == newer
    rundir.latest_pointer(tmp_path).write_text(older.name + "\n")
    assert rundir.latest_checkpoint(tmp_path) == older
    rundir.latest_pointer(tmp_path).write_text("step_0000003\n")  # never completed
    assert rundir.latest_checkpoint(tmp_path) == newer
    assert [p.name for p in rundir.checkpoint_dirs(tmp_path)] == [
        "step_0000001",
        "step_0000002",
        "step_0000003",
    ]
    assert rundir.complete_checkpoints(tmp_path) == [older, newer]


def test_temporary_checkpoints_are_this_process_s_and_listed_apart(tmp_path):
    temporary = rundir.temporary_checkpoint(tmp_path, 5)
    assert temporary.parent == tmp_path / "checkpoints" and str(os.getpid()) in temporary.name
    temporary.mkdir(parents=True)
    assert rundir.temporary_checkpoints(tmp_path) == [temporary]
    assert rundir.checkpoint_dirs(tmp_path) == []


def test_generator_file_rule(tmp_path):
    """A file; a checkpoints/ folder as its run; a folder's generator.keras; a run's newest
    checkpoint when the run has no generator.keras yet; anything else one line."""
    loose = tmp_path / "loose.keras"
    loose.write_bytes(b"g")
    assert rundir.generator_file(loose) == loose
    run = tmp_path / "run"
    first = make_checkpoint(run, 1)
    second = make_checkpoint(run, 2)
    assert rundir.generator_file(run) == second / rundir.GENERATOR
    assert rundir.generator_file(run / "checkpoints") == second / rundir.GENERATOR
    assert rundir.generator_file(first) == first / rundir.GENERATOR
    (run / rundir.GENERATOR).write_bytes(b"g")
    assert rundir.generator_file(run) == run / rundir.GENERATOR
    assert rundir.generator_file(run / "checkpoints") == run / rundir.GENERATOR
    empty = tmp_path / "empty"
    empty.mkdir()
    for path, reason in ((empty, "no generator.keras"), (tmp_path / "gone", "no such file")):
        with pytest.raises(UserError, match=reason) as error:
            rundir.generator_file(path)
        assert "\n" not in str(error.value)


def test_read_csv_gives_floats_and_drops_empty_cells(tmp_path):
    path = tmp_path / rundir.HISTORY
    path.write_text("step,loss,lpips\n0,0.5,\n1,0.25,0.1\n")
    assert rundir.read_csv(path) == [
        {"step": 0.0, "loss": 0.5},
        {"step": 1.0, "loss": 0.25, "lpips": 0.1},
    ]


def test_runs_under_finds_runs_one_and_two_levels_down(tmp_path):
    for run in ("a", "b/c", "d/e/f"):
        (tmp_path / run).mkdir(parents=True)
        (tmp_path / run / rundir.CONFIG).write_text("{}")
    assert rundir.runs_under(tmp_path) == [tmp_path / "a", tmp_path / "b" / "c"]


def test_default_run_name(monkeypatch):
    monkeypatch.setattr(time, "strftime", lambda *args: "20260101-000000")
    config = SimpleNamespace(
        dataset="/data/T91,/data/BSD200",
        stage="gan",
        upsample="pixelshuffle",
        blocks=16,
        scale=2,
        preset="paper",
    )
    expected = "20260101-000000_gan_x2_pixelshuffle_b16_T91+BSD200_paper"
    assert rundir.default_run_name(config) == expected


def test_importing_it_loads_no_keras():
    """The launcher and evaluate.py's bicubic baseline use it before (or without) Keras."""
    code = "import sys, runtime.rundir; print('keras' in sys.modules, 'numpy' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "False"]
