"""Which pretraining recipe converges fastest for a fixed step budget (the cpu-budget preset).

Trains the paper's SRResNet from scratch once per setting, same data, seed and step budget,
one run after another (each its own train.py process, so one setting's mixed-precision policy
cannot leak into the next), then scores every final generator on Set5 and Set14 in float32
with the papers' protocol and prints one table: setting, its flags, measured seconds per step,
PSNR-Y / SSIM-Y. The settings are the levers the issue names: the learning rate, a cosine
schedule fitted to the budget, EMA of the weights, the pixel loss, and the precision.

A setting whose run already finished (its ``generator.keras`` exists) is not trained again, so
an interrupted comparison continues where it stopped; ``--only`` picks settings by name.

    python benchmarks/budget_comparison.py --steps 1500 --out runs/budget
        [--train-dir ../shared/datasets/train] [--data-dir ../shared/datasets] [--only A B]
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe_cpu  # noqa: E402
from runtime import rundir  # noqa: E402

COSINE = ["--schedule", "cosine", "--learning-rate", "5e-4", "--warmup-steps", "100"]
COSINE += ["--min-learning-rate", "1e-6"]

# name -> (what it tests, train.py flags beyond the shared ones). Precision is auto (bfloat16
# on a CPU with native bf16) except where the setting is about precision.
SETTINGS = {
    "paper": ("the paper's recipe: Adam 1e-4 constant, MSE", ["--learning-rate", "1e-4"]),
    "const5e-4": ("the rate alone: Adam 5e-4 constant, MSE", ["--learning-rate", "5e-4"]),
    "cosine": ("5e-4, 100 warm-up steps, cosine to 1e-6 at the last step, MSE", COSINE),
    "cosine-ema": ("cosine as above, EMA 0.999 of the weights", [*COSINE, "--ema", "0.999"]),
    "cosine-l1": ("cosine as above, L1 pixel loss", [*COSINE, "--pixel-loss", "l1"]),
    "cosine-f32": ("cosine as above, in float32", [*COSINE, "--precision", "float32"]),
}


def train_folders(train_dir):
    names = ("T91", "BSD200", "BSDS500_test")
    return ",".join(str(Path(train_dir) / name) for name in names)


def train_command(name, steps, train_dir, out):
    """The train.py command of one setting: the paper preset, `steps` steps in one epoch."""
    shared = ["--preset", "paper", "--stage", "pretrain", "--dataset", train_folders(train_dir)]
    shared += ["--epochs", "1", "--steps-per-epoch", str(steps), "--seed", "0", "--no-progress"]
    shared += ["--run-dir", str(Path(out) / name)]
    return [sys.executable, str(ROOT / "train.py"), *shared, *SETTINGS[name][1]]


def run_setting(name, steps, train_dir, out):
    run_dir = Path(out) / name
    if (run_dir / rundir.GENERATOR).is_file():
        print(f"{name}: already trained in {run_dir}", flush=True)
        return
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    command = train_command(name, steps, train_dir, out)
    print(f"{name}: {' '.join(command[1:])}", flush=True)
    with open(Path(out) / f"{name}.log", "w") as log:
        result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"{name}: train.py exited with {result.returncode}; see {log.name}")


def score(names, out, data_dir):
    """Set5 / Set14 PSNR-Y and SSIM-Y of each setting's final generator, in float32."""
    from evaluation.benchmark import evaluate, load_methods, resolve_datasets
    from evaluation.runs import step_seconds

    specs = [f"{name}={Path(out) / name / rundir.GENERATOR}" for name in names]
    methods = load_methods(specs, bicubic=False)
    datasets = resolve_datasets(["Set5", "Set14"], data_dir)
    evaluation = evaluate(methods, datasets, progress=False)
    rows = []
    for name in names:
        row = [name, SETTINGS[name][0], f"{step_seconds(Path(out) / name):.3f}"]
        for dataset in ("Set5", "Set14"):
            psnr = evaluation.mean(name, dataset, "psnr_y")
            ssim = evaluation.mean(name, dataset, "ssim_y")
            row.append(f"{psnr:.2f} / {ssim:.4f}")
        rows.append(row)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--out", default="runs/budget")
    parser.add_argument("--train-dir", default=str(ROOT.parent / "shared/datasets/train"))
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared/datasets"))
    parser.add_argument("--only", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    if not Path(args.train_dir, "T91").is_dir():
        parser.error(f"--train-dir {args.train_dir}: no T91 folder there")

    print(describe_cpu(), flush=True)
    for name in args.only:
        run_setting(name, args.steps, args.train_dir, args.out)

    from evaluation.tables import markdown_table

    header = ["setting", "what", "s/step", "Set5 PSNR / SSIM", "Set14 PSNR / SSIM"]
    print(f"\n{args.steps} steps each, batch 16, HR 96, seed 0; {describe_cpu()}")
    print(markdown_table(header, score(args.only, args.out, args.data_dir)))


if __name__ == "__main__":
    main()
