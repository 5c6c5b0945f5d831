"""SIGTERM at random moments of real training runs: does every one stop cleanly, and how fast?

Starts ``train.py`` N times (pretraining on the embedded sample photos, by default 8 blocks,
96-px crops, batch 8) with 2 steps per epoch and a checkpoint every epoch, so that a good
share of the moments fall inside a checkpoint. Each run gets one SIGTERM at a moment drawn
uniformly from the ``--window`` seconds after its first step; a run is clean when it exits
130 and its latest checkpoint loads (``state.json``, ``optimizers.npz``, ``generator.keras``).
Prints one line per run (``saving`` when a checkpoint folder was being written as the signal
left) and the exit times after the signal. A run still alive ``--timeout`` seconds after its
signal counts as hung and is killed.

    python benchmarks/stop_stress.py [--runs 20] [--blocks 8] [--hr-size 96] [--batch-size 8]
"""

import argparse
import csv
import itertools
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from runtime import rundir  # noqa: E402 (after the path set-up)
from training import checkpoints  # noqa: E402


def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def checkpoint_loads(run_dir):
    """(step, None) for a loadable latest checkpoint, else (None, why)."""
    latest = rundir.latest_checkpoint(run_dir)
    if latest is None:
        return None, "no checkpoint"
    try:
        state, _ = checkpoints.read_checkpoint(latest)
        from runtime import cli

        cli.import_keras_quietly()
        import keras

        import models.generator  # noqa: F401 (registers the custom layers load_model needs)

        keras.models.load_model(latest / rundir.GENERATOR)
    except Exception as error:  # any failure to load is what this script looks for
        reason = str(error).splitlines()[0][:200] if str(error) else ""
        return None, f"{latest.name} does not load: {type(error).__name__}: {reason}"
    return int(state["step"]), None


def step_and_checkpoint_seconds(history_csv, steps_per_epoch=2):
    """(median seconds of a plain step, median of a step that followed a checkpoint) from a
    run's history: the latter is one step plus one checkpoint (validation and save), the time
    a stop may take by the issue's bound."""
    with open(history_csv, newline="") as handle:
        rows = [(int(r["step"]), float(r["seconds"])) for r in csv.DictReader(handle)]
    plain, after_checkpoint = [], []
    for (_, before), (step, seconds) in itertools.pairwise(rows):
        gaps = after_checkpoint if step % steps_per_epoch == 0 else plain
        gaps.append(seconds - before)
    if not plain or not after_checkpoint:
        return None, None
    return statistics.median(plain), statistics.median(after_checkpoint)


def one_run(args, index, rng, folder):
    run_dir = folder / f"run{index:02d}"
    command = [
        sys.executable,
        "train.py",
        "--dataset",
        "sample",
        "--data-dir",
        str(folder / "data"),
        "--preset",
        "paper",
        "--stage",
        "pretrain",
        "--blocks",
        str(args.blocks),
        "--hr-size",
        str(args.hr_size),
        "--batch-size",
        str(args.batch_size),
        "--steps-per-epoch",
        "2",
        "--epochs",
        "100000",
        "--checkpoint-every",
        "1",
        "--validation-images",
        "1",
        "--no-progress",
        "--run-dir",
        str(run_dir),
    ]
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    history = run_dir / rundir.HISTORY
    while not (history.exists() and history.stat().st_size > 0):
        if process.poll() is not None:
            return {"index": index, "error": f"ended before training: {process.stderr.read()}"}
        time.sleep(0.05)
    delay = rng.uniform(0, args.window)
    time.sleep(delay)
    saving = bool(rundir.temporary_checkpoints(run_dir))
    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    try:
        _, err = process.communicate(timeout=args.timeout)
        hung = False
    except subprocess.TimeoutExpired:
        process.kill()  # our own child
        _, err = process.communicate()
        hung = True
    seconds = time.monotonic() - sent
    step, why = checkpoint_loads(run_dir)
    clean = not hung and process.returncode == 130 and why is None
    plain, bound = step_and_checkpoint_seconds(history)
    return {
        "index": index,
        "delay": delay,
        "phase": "saving" if saving else "step",
        "rc": "hung" if hung else process.returncode,
        "seconds": seconds,
        "step": step,
        "why": why or ("" if clean else err.strip().splitlines()[-1:]),
        "clean": clean,
        "step_seconds": plain,
        "bound": bound,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--hr-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--window", type=float, default=20.0, help="seconds after the first step")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before 'hung'")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(
        f"{cpu_model()}, {os.cpu_count()} cores; {args.runs} runs: {args.blocks} blocks, "
        f"{args.hr_size}-px crops, batch {args.batch_size}, a checkpoint every 2 steps; "
        f"SIGTERM 0-{args.window:g} s after the first step"
    )
    results = []
    with tempfile.TemporaryDirectory() as temporary:
        for index in range(args.runs):
            result = one_run(args, index, rng, Path(temporary))
            results.append(result)
            if "error" in result:
                print(f"run {index:2d}: {result['error']}")
                continue
            bound = result["bound"]
            within = "?" if bound is None else f"{result['seconds'] / bound:.2f}x"
            print(
                f"run {index:2d}: signal {result['delay']:5.2f} s in ({result['phase']:6s}) "
                f"rc {result['rc']}, exited {result['seconds']:5.2f} s after it "
                f"({within} a step + checkpoint), "
                f"checkpoint step {result['step']} {'clean' if result['clean'] else 'NOT CLEAN'} "
                f"{result['why'] or ''}".rstrip()
            )
    timed = [r["seconds"] for r in results if "seconds" in r]
    clean = sum(r.get("clean", False) for r in results)
    print(f"clean: {clean}/{len(results)} (rc 130 and a loadable checkpoint)")
    if timed:
        print(
            f"exit after SIGTERM: median {statistics.median(timed):.2f} s, "
            f"max {max(timed):.2f} s, min {min(timed):.2f} s"
        )
    ratios = [r["seconds"] / r["bound"] for r in results if r.get("bound")]
    if ratios:
        steps = [r["step_seconds"] for r in results if r.get("step_seconds")]
        bounds = [r["bound"] for r in results if r.get("bound")]
        print(
            f"one step {statistics.median(steps):.2f} s, one step + checkpoint "
            f"{statistics.median(bounds):.2f} s (medians over the runs' {rundir.HISTORY}); "
            f"exit time / that: median {statistics.median(ratios):.2f}, max {max(ratios):.2f}; "
            f"{sum(r <= 1 for r in ratios)}/{len(ratios)} within it"
        )
    return 0 if clean == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
