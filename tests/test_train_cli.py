"""train.py end to end: one-line errors, Ctrl-C, kill -9 and --resume."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest

import cli
import train
from models import vgg
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


def test_resume_of_a_missing_run(tmp_path, capsys):
    assert run_main(["--resume", str(tmp_path / "nothing")]) == 2
    assert "nothing to resume" in one_error_line(capsys)


def test_summary_prints_the_three_models(capsys):
    assert run_main(["--summary", "--content-loss", "mse", "--blocks", "2"]) == 0
    out = capsys.readouterr().out
    for name in ("srresnet_pixelshuffle_b2", "discriminator", "srgan"):
        assert name in out


def start_training(photo_folder, tmp_path, run_dir, epochs):
    args = tiny_args(
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


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_resume_finishes(photo_folder, tmp_path):
    run_dir = tmp_path / "run"
    process = start_training(photo_folder, tmp_path, run_dir, epochs=200)
    history = run_dir / "history.csv"
    wait_for(lambda: history.exists() and len(history.read_text().splitlines()) > 3, process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "resume with: python train.py --resume" in out
    interrupted_at = int(
        checkpoints.read_checkpoint(checkpoints.latest_checkpoint(run_dir))[0]["step"]
    )
    assert interrupted_at >= 3

    resumed = resume_training(run_dir, epochs=interrupted_at // 2 + 2)
    assert resumed.returncode == 0, resumed.stderr
    final = checkpoints.latest_checkpoint(run_dir)
    assert checkpoints.read_checkpoint(final)[0]["step"] == 2 * (interrupted_at // 2 + 2)


@pytest.mark.slow
def test_kill_9_loses_at_most_the_work_since_the_last_checkpoint(photo_folder, tmp_path):
    run_dir = tmp_path / "run"
    process = start_training(photo_folder, tmp_path, run_dir, epochs=200)
    wait_for(
        lambda: (
            checkpoints.latest_checkpoint(run_dir) is not None
            and checkpoints.latest_checkpoint(run_dir).name >= "step_0000004"
        ),
        process,
    )
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    latest = checkpoints.latest_checkpoint(run_dir)
    state, _ = checkpoints.read_checkpoint(latest)
    assert state["step"] >= 4
    generator = keras.models.load_model(latest / "generator.keras")  # complete, not half-written
    assert generator.count_params() > 0
    resumed = resume_training(run_dir, epochs=state["step"] // 2 + 1)
    assert resumed.returncode == 0, resumed.stderr
    assert "done:" in resumed.stdout


def test_the_real_command_prints_exactly_one_line_on_stderr():
    """No TensorFlow start-up notices around the error (cli.py silences them)."""
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
