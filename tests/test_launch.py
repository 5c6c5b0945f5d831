"""training/launch.py: several train.py workers on this machine, watched as one command."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime import rundir
from training import checkpoints, launch

REPO_ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 420  # two workers on a shared 2-core machine are slow; never hang forever


def test_each_worker_gets_the_cluster_its_index_and_a_share_of_the_machine(monkeypatch):
    monkeypatch.setattr(launch.shutil, "which", lambda name: None)  # no nvidia-smi
    cpus = launch.worker_environments(2, environ={"PATH": "/bin"})
    configs = [json.loads(env["TF_CONFIG"]) for env in cpus]
    addresses = configs[0]["cluster"]["worker"]
    assert len(set(addresses)) == 2 and all(a.startswith("127.0.0.1:") for a in addresses)
    assert [c["task"] for c in configs] == [{"type": "worker", "index": i} for i in range(2)]
    assert all(c["cluster"] == configs[0]["cluster"] for c in configs)
    threads = str(max(1, (os.cpu_count() or 1) // 2))
    assert all(env["TF_NUM_INTRAOP_THREADS"] == threads for env in cpus)
    assert all("CUDA_VISIBLE_DEVICES" not in env for env in cpus)
    gpus = launch.worker_environments(2, environ={"CUDA_VISIBLE_DEVICES": "3,5"})
    assert [env["CUDA_VISIBLE_DEVICES"] for env in gpus] == ["3", "5"]
    assert all("TF_NUM_INTRAOP_THREADS" not in env for env in gpus)
    with pytest.raises(SystemExit, match="2 workers need 2 GPUs; 1 are visible"):
        launch.worker_environments(2, environ={"CUDA_VISIBLE_DEVICES": "0"})


def test_every_worker_is_given_the_same_run_directory(photo_folder, monkeypatch):
    from training.config import resolve_config

    monkeypatch.setattr(time, "strftime", lambda *args: "20260101-000000")
    args = ["--dataset", str(photo_folder), "--blocks", "1"]
    given, run_dir = launch.with_run_dir(args)
    config = resolve_config("report", None, {"dataset": str(photo_folder), "blocks": 1})
    assert run_dir == str(Path("runs") / rundir.default_run_name(config))  # as train.py names it
    assert given == [*args, "--run-dir", run_dir]
    assert launch.with_run_dir([*args, "--run-dir", "x"]) == ([*args, "--run-dir", "x"], "x")
    assert launch.with_run_dir(["--resume", "runs/y"]) == (["--resume", "runs/y"], "runs/y")


def tiny_flags(photo_folder, tmp_path, epochs):
    from test_distribute import tiny_flags as flags

    return flags(photo_folder, tmp_path / "data", stage="pretrain", epochs=epochs)


def start_launcher(tmp_path, train_args, name):
    """``python -m training.launch --workers 2`` with its output in files (never a full pipe)."""
    out = open(tmp_path / f"{name}.out", "w")  # noqa: SIM115 (closed by wait_launcher)
    err = open(tmp_path / f"{name}.err", "w")  # noqa: SIM115
    log_dir = tmp_path / f"{name}_workers"
    command = ["-m", "training.launch", "--workers", "2", "--log-dir", str(log_dir), "--"]
    process = subprocess.Popen(
        ["nice", "-n", "10", sys.executable, *command, *train_args, "--no-progress"],
        cwd=REPO_ROOT,
        env={**os.environ, "SRGAN_COLLECTIVE_TIMEOUT": "300"},
        stdout=out,
        stderr=err,
        start_new_session=True,
    )
    process.files = (out, err)
    process.log_dir = log_dir
    return process


def wait_launcher(process, timeout=TIMEOUT):
    try:
        process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for handle in process.files:
            handle.close()
    out = Path(process.files[0].name).read_text()
    err = Path(process.files[1].name).read_text()
    return process.returncode, out, err


def wait_for_a_checkpoint(process, run_dir):
    deadline = time.monotonic() + TIMEOUT
    while rundir.latest_checkpoint(run_dir) is None:
        assert process.poll() is None, "the launcher ended before the first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return json.loads((process.log_dir / "workers.json").read_text())["pids"]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def history_steps(run_dir):
    rows = (run_dir / "history.csv").read_text().splitlines()[1:]
    return [int(row.split(",")[0]) for row in rows]


def test_a_dead_worker_stops_the_others_in_one_line_and_resume_continues(photo_folder, tmp_path):
    run_dir = tmp_path / "run"
    flags = [*tiny_flags(photo_folder, tmp_path, epochs=30), "--run-dir", str(run_dir)]
    process = start_launcher(tmp_path, flags, "first")
    pids = wait_for_a_checkpoint(process, run_dir)
    os.kill(pids[1], signal.SIGKILL)
    killed = time.monotonic()
    code, out, err = wait_launcher(process, timeout=90)
    seconds = time.monotonic() - killed
    print(f"the launcher ended {seconds:.1f} s after the kill; stderr:\n{err}")
    assert seconds < 60
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: worker 1 of 2 killed by SIGKILL; stopped the others;")
    assert last.endswith(
        f"resume with: python -m training.launch --workers 2 -- --resume {run_dir}"
    )
    assert not any(alive(pid) for pid in pids), "a worker outlived the launcher"
    assert (process.log_dir / "worker_1.log").is_file()  # kept for the post-mortem
    kept = int(rundir.latest_checkpoint(run_dir).name.split("_")[1])
    # The same launcher, --resume, two more epochs than were kept.
    resume = ["--resume", str(run_dir), "--epochs", str(kept // 2 + 1)]
    code, out, err = wait_launcher(start_launcher(tmp_path, resume, "resumed"))
    assert code == 0, out[-3000:] + err[-3000:]
    assert f"done: {kept + 2} steps" in out  # the chief's output, streamed
    assert rundir.latest_checkpoint(run_dir).name == f"step_{kept + 2:07d}"
    assert history_steps(run_dir) == list(range(kept + 2))
    assert not (tmp_path / "resumed_workers").exists()  # removed after a clean run


def test_sigterm_is_forwarded_every_worker_stops_after_the_same_step_and_the_chief_saves(
    photo_folder, tmp_path
):
    run_dir = tmp_path / "run"
    flags = [*tiny_flags(photo_folder, tmp_path, epochs=30), "--run-dir", str(run_dir)]
    process = start_launcher(tmp_path, flags, "run")
    pids = wait_for_a_checkpoint(process, run_dir)
    process.send_signal(signal.SIGTERM)
    code, out, err = wait_launcher(process, timeout=120)
    assert code == launch.STOPPED, out[-3000:] + err[-3000:]
    assert err.strip().splitlines()[-1] == (
        f"stopped; resume with: python -m training.launch --workers 2 -- --resume {run_dir}"
    )
    assert not any(alive(pid) for pid in pids)
    other = (process.log_dir / "worker_1.log").read_text()
    assert "SIGTERM: stopping after the current step" in other  # forwarded to it too
    assert "SIGTERM: stopping after the current step" in out
    state, _ = checkpoints.read_checkpoint(rundir.latest_checkpoint(run_dir))
    assert state["step"] == len(history_steps(run_dir))  # saved where every worker stopped


def test_the_failure_reported_is_the_killed_worker_before_those_that_followed_it():
    from training.launch import first_failure

    assert first_failure([None, None]) is None and first_failure([0, launch.STOPPED]) is None
    assert first_failure([2, -9]) == (1, -9)  # the chief's exit 2 came of worker 1's SIGKILL
    assert first_failure([2, None]) == (0, 2)
    assert first_failure([3, 2]) == (0, 3)
