"""kill -9 at random moments of real training runs, the first checkpoint included: does every
run continue (a resume, or a clean start over) to the same final weights as one never killed?

Trains a tiny SRResNet on the embedded sample photos (``--blocks`` blocks, 32-px crops, batch
4, ``--epochs`` epochs of 2 steps, a checkpoint every epoch) once without interruption, then
``--runs`` times with a SIGKILL at a moment drawn uniformly, in even runs from the start of
the process to the reference run's end (start-up, set-up and training), in odd runs from the
moment its ``config.json`` appears (training is about to start) to the reference's end (so
many land in or between checkpoints, the first included), each followed
by ``train.py --resume`` on the same run directory (and, when that run directory was never
created, the original command again). Prints one line per run: when it was killed, what the
run directory held (nothing, only a temporary checkpoint, or checkpoint step N), what the
resume said it did, and whether the final generator and optimiser equal the reference's bit
for bit; then the count.

    python benchmarks/kill_resume.py [--runs 20] [--blocks 2] [--epochs 3] [--seed 0]
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402

from benchmarks.machine import describe_cpu  # noqa: E402
from runtime import rundir  # noqa: E402
from training import checkpoints  # noqa: E402


def command(args, folder, run_dir):
    flags = ["--dataset", "sample", "--data-dir", str(folder / "data"), "--preset", "paper"]
    flags += ["--stage", "pretrain", "--blocks", str(args.blocks), "--hr-size", "32"]
    flags += ["--batch-size", "4", "--steps-per-epoch", "2", "--epochs", str(args.epochs)]
    flags += ["--checkpoint-every", "1", "--validation-images", "1", "--validation-crop", "48"]
    flags += ["--no-progress", "--run-dir", str(run_dir)]
    return [sys.executable, "train.py", *flags]


def final_state(run_dir):
    """Every array of the final checkpoint: its generator's weights and optimiser state."""
    import io
    import zipfile

    import h5py

    latest = rundir.latest_checkpoint(run_dir)
    if latest is None:
        return None
    _, optimizers = checkpoints.read_checkpoint(latest)
    arrays = {f"opt/{k}": v for name in optimizers for k, v in optimizers[name].items()}
    with zipfile.ZipFile(latest / rundir.GENERATOR) as archive:
        weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
    with weights:
        weights.visititems(
            lambda name, item: (
                arrays.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None
            )
        )
    return latest.name, arrays


def same(a, b):
    if a is None or b is None or a[0] != b[0] or a[1].keys() != b[1].keys():
        return False
    return all(np.array_equal(np.asarray(a[1][k]), np.asarray(b[1][k])) for k in a[1])


def held(run_dir):
    if not run_dir.exists():
        return "nothing"
    complete = rundir.complete_checkpoints(run_dir)
    if complete:
        return complete[-1].name
    return (
        "a temporary checkpoint only" if rundir.temporary_checkpoints(run_dir) else "no checkpoint"
    )


def wait_for_config(run_dir, process):
    """When ``run_dir/config.json`` appeared (or the process ended first)."""
    while not (run_dir / rundir.CONFIG).exists() and process.poll() is None:
        time.sleep(0.02)
    return time.monotonic()


def run(argv):
    return subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, check=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(describe_cpu(), flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        started = time.monotonic()
        reference = subprocess.Popen(
            command(args, folder, folder / "reference"),
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        set_up = wait_for_config(folder / "reference", reference) - started
        _, err = reference.communicate()
        span = time.monotonic() - started
        if reference.returncode != 0:
            raise SystemExit(f"the reference run failed: {err.strip()[-300:]}")
        expected = final_state(folder / "reference")
        print(
            f"reference run: {span:.1f} s ({set_up:.1f} s to its {rundir.CONFIG}), "
            f"final {expected[0]}",
            flush=True,
        )
        good = 0
        for index in range(args.runs):
            run_dir = folder / f"run{index:02d}"
            process = subprocess.Popen(
                command(args, folder, run_dir),
                cwd=REPO_ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            begun = time.monotonic()
            if index % 2:
                begun = wait_for_config(run_dir, process)
                delay = rng.uniform(0, span - set_up)
            else:
                delay = rng.uniform(0, span)
            try:
                process.wait(timeout=max(0.0, begun + delay - time.monotonic()))
                killed = "finished before the kill"
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)  # our own child
                process.wait()
                since = f"after {rundir.CONFIG}" if index % 2 else "after start"
                killed = f"killed {delay:5.1f} s {since}"
            state = held(run_dir)
            had_checkpoint = bool(rundir.complete_checkpoints(run_dir))
            if run_dir.exists():
                again = run([*command(args, folder, run_dir)[:2], "--resume", str(run_dir)])
            else:
                again = run(command(args, folder, run_dir))
            said = [line for line in again.stdout.splitlines() if "starting it over" in line]
            outcome = "restarted" if said else f"rc {again.returncode}"
            if again.returncode == 0 and not said:
                outcome = "resumed" if had_checkpoint else "ran"
            equal = again.returncode == 0 and same(final_state(run_dir), expected)
            good += equal
            print(
                f"run {index:2d}: {killed}; held {state}; {outcome}; "
                f"{'same final weights' if equal else 'DIFFERENT: ' + again.stderr[-200:]}",
                flush=True,
            )
        print(f"{good} of {args.runs} runs ended with the reference's final weights")


if __name__ == "__main__":
    main()
