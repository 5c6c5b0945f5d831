"""A finished training run cut down to what the comparison notebook shows, small enough to commit.

A 5,000-step run directory holds checkpoints with optimiser states, TensorBoard logs and sample
grids: far too much for git, and it lives on one machine. The notebook needs the run's config,
its loss and validation curves, its final generator, and every checkpoint's scores on the
shared benchmarks (the report's "method x step -> PSNR" table). ``export_run`` scores the
checkpoints still on disk first, then writes those files into ``<destination>/<run name>/``
(a few MB, one generator), whole or not at all: a folder that exists is complete.

    python -m evaluation.run_export RUN... --to notebooks/results/upsamplers \
        --datasets Set5 Set14 --data-dir ../shared/datasets
"""

from __future__ import annotations

import argparse
import csv
import shutil
import tempfile
from pathlib import Path

from evaluation.runs import read_run, report_rows, score_checkpoints
from evaluation.tables import write_csv
from runtime import rundir
from runtime.errors import UserError

COPIED = (rundir.CONFIG, rundir.HISTORY, rundir.VALIDATION)
SCORES = "checkpoint_scores.csv"


def export_run(run_dir, destination, datasets, *, perceptual=None, progress=False) -> Path:
    """Score ``run_dir``'s checkpoints on ``datasets`` and write the exported folder."""
    run = read_run(run_dir)
    target = Path(destination) / run.name
    if target.exists():
        raise UserError(f"{target} exists: remove it to export {run.path} again")
    for name in COPIED:
        if not (run.path / name).is_file():
            raise UserError(f"{run.path}: no {name} (has the run finished an epoch?)")
    generator = rundir.generator_file(run.path)
    rows = report_rows([run])
    if score_checkpoints([run], rows, datasets, perceptual=perceptual, progress=progress) is None:
        raise UserError(f"{run.path}: no checkpoint left on disk to score")
    scored = []
    for row in rows:
        if "checkpoint" in row:
            # The folder is this machine's; its name is what identifies it.
            scored.append({**row, "checkpoint": Path(row["checkpoint"]).name})
    Path(destination).mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{run.name}.", dir=destination))
    try:
        for name in COPIED:
            shutil.copyfile(run.path / name, staging / name)
        shutil.copyfile(generator, staging / rundir.GENERATOR)
        write_csv(staging / SCORES, scored)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def read_scores(run_dir) -> list[dict] | None:
    """An exported run's checkpoint scores (numbers as floats), or None if it has none."""
    path = Path(run_dir) / SCORES
    if not path.is_file():
        return None
    with open(path, newline="") as handle:
        return [
            {key: _number(key, value) for key, value in row.items()}
            for row in csv.DictReader(handle)
        ]


NAMES = ("method", "data", "stage", "run", "checkpoint")


def _number(key, value):
    if key in NAMES:
        return value
    if key in ("step", "epoch"):
        return int(value)
    return float(value) if value != "" else float("nan")  # write_csv leaves NaN empty


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.run_export", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("runs", nargs="+", metavar="RUN", help="training run directories")
    parser.add_argument("--to", required=True, help="folder to write <run name>/ into")
    parser.add_argument("--datasets", nargs="+", default=["Set5", "Set14"])
    parser.add_argument("--data-dir", help="where the benchmarks lie (default: datasets/)")
    parser.add_argument("--perceptual", choices=("lpips", "none"), default="lpips")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    from evaluation.benchmark import resolve_datasets
    from evaluation.perceptual import perceptual_metrics

    for run in args.runs:
        read_run(run)  # a folder that is no run is refused before any benchmark is read
    datasets = resolve_datasets(args.datasets, args.data_dir)
    perceptual = perceptual_metrics() if args.perceptual == "lpips" else None
    for run in args.runs:
        target = export_run(
            run, args.to, datasets, perceptual=perceptual, progress=not args.no_progress
        )
        print(f"{run}: exported to {target}")
    return 0


if __name__ == "__main__":
    from runtime.cli import exit_with, run

    exit_with(run(main))
