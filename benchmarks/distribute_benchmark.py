"""Training steps per second with 1 and 2 local workers (training/launch.py).

Each count runs ``python -m training.launch --workers N -- <train.py flags>`` on the embedded
sample photos (one worker is plain train.py: one worker in TF_CONFIG means no strategy) and
reads the per-step timestamps of its history.csv, the first steps (tracing) excluded. The
global batch stays ``--batch-size``, so two workers each compute half of it. On CPUs the
launcher gives each worker its share of the cores; with GPUs, one GPU each.

    python benchmarks/distribute_benchmark.py [--workers 1 2] [--stage pretrain] [--steps 12]

Prints the CPU (model, cores, SIMD flags from /proc/cpuinfo) and the load average before and
after, since other work on the machine changes the figures.
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.machine import describe_cpu  # noqa: E402 (no TensorFlow: the workers load it)
from runtime import rundir  # noqa: E402

WARMUP = 3


def load():
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def steps_per_second(history_csv):
    with open(history_csv, newline="") as handle:
        seconds = [float(row["seconds"]) for row in csv.DictReader(handle)]
    # seconds[i] is when step i finished; the first steps include tracing.
    return (len(seconds) - WARMUP) / (seconds[-1] - seconds[WARMUP - 1])


def run(workers, args, folder):
    run_dir = folder / f"workers_{workers}"
    flags = [
        "--dataset", "sample", "--data-dir", str(folder / "data"), "--stage", args.stage,
        "--preset", "paper", "--blocks", str(args.blocks), "--hr-size", str(args.hr_size),
        "--batch-size", str(args.batch_size), "--epochs", "1",
        "--steps-per-epoch", str(args.steps), "--content-loss", "mse",
        "--precision", args.precision, "--validation-images", "1", "--no-progress",
        "--run-dir", str(run_dir),
    ]  # fmt: skip
    command = [sys.executable, "-m", "training.launch", "--workers", str(workers), "--", *flags]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{workers} workers failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return steps_per_second(run_dir / rundir.HISTORY), wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--stage", choices=("pretrain", "gan"), default="pretrain")
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--hr-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=8, help="the global batch")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--precision", default="float32")
    args = parser.parse_args()
    if args.steps <= WARMUP:
        parser.error(f"--steps must be above the {WARMUP} warm-up steps")
    print(describe_cpu())
    print(
        f"{args.stage}, {args.blocks} blocks, HR {args.hr_size}, global batch "
        f"{args.batch_size}, {args.precision}, {args.steps} steps (first {WARMUP} not timed)"
    )
    print(f"load average before: {load()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="distribute-benchmark-") as folder:
        baseline = None
        for workers in args.workers:
            rate, wall = run(workers, args, Path(folder))
            baseline = baseline or rate
            print(
                f"{workers} worker{'s' if workers > 1 else ' '}: {rate:.3f} steps/s "
                f"({rate * args.batch_size:.1f} images/s, x{rate / baseline:.2f}; "
                f"whole command {wall:.0f} s)",
                flush=True,
            )
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
