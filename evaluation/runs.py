"""Training runs as evaluation reads them: ``config.json``, ``validation.csv`` and checkpoints.

Each run's ``validation.csv`` holds the PSNR-Y of every checkpoint on that run's own validation
images, which is the shape of the student report's table (method x data x epoch). Those figures
compare epochs of one run, not runs on different data; ``score_checkpoints`` scores the
checkpoints still on disk on a shared benchmark, which is the fair comparison.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluation.benchmark import Dataset, checkpoint_label, evaluate, load_method
from runtime import rundir
from runtime.errors import UserError

# config.json's ``upsample`` as the student report names its two methods.
UPSAMPLE_NAMES = {"pixelshuffle": "Pixel Shuffle", "upsampling": "UpSampling2D"}

# The columns of a report row that come from the run's own validation.csv.
VALIDATION_FIELDS = ("psnr_y", "ssim_y", "psnr_rgb", "lpips")


@dataclass
class Run:
    path: Path
    name: str
    method: str
    data: str
    stage: str
    config: dict
    validation: list[dict]


def read_run(path) -> Run:
    """A run directory's config and per-checkpoint validation scores."""
    path = Path(path)
    config_file = path / rundir.CONFIG
    if not config_file.is_file():
        raise UserError(f"{path}: not a training run directory (no {rundir.CONFIG})")
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"{config_file}: unreadable ({error})") from None
    validation_file = path / rundir.VALIDATION
    if not validation_file.is_file():
        raise UserError(f"{path}: no {rundir.VALIDATION} yet (the run has not finished an epoch)")
    try:
        rows = rundir.read_csv(validation_file)
    except (OSError, ValueError, KeyError) as error:
        raise UserError(f"{validation_file}: unreadable ({error})") from None
    upsample = config.get("upsample", "?")
    dataset = str(config.get("dataset", "?"))
    if re.search(r"[/\\]", dataset):  # folders, comma-joined: T91+BSD200+BSDS500_test
        dataset = "+".join(Path(part).name for part in dataset.split(",") if part)
    return Run(
        path=path,
        name=path.resolve().name,
        method=UPSAMPLE_NAMES.get(upsample, upsample),
        data=dataset,
        stage=str(config.get("stage", "?")),
        config=config,
        validation=rows,
    )


def report_rows(runs: list[Run]) -> list[dict]:
    """The student report's table as rows: method x data x epoch -> validation PSNR-Y."""
    rows = []
    for run in runs:
        for row in run.validation:
            rows.append(
                {
                    "method": run.method,
                    "data": run.data,
                    "epoch": int(row["epoch"]),
                    "step": int(row["step"]),
                    "psnr_y": row.get("psnr_y", float("nan")),
                    "ssim_y": row.get("ssim_y", float("nan")),
                    "psnr_rgb": row.get("psnr_rgb", float("nan")),
                    "lpips": row.get("lpips", float("nan")),  # GAN runs' validation only
                    "stage": run.stage,
                    "run": run.name,
                }
            )
    return rows


def checkpoints_of(run: Run) -> list[tuple[int, int, Path]]:
    """(epoch, step, folder) of each checkpoint still on disk (runs keep only the newest)."""
    found = []
    for checkpoint in rundir.checkpoint_dirs(run.path):
        step = rundir.checkpoint_step(checkpoint)
        if step is None or not (checkpoint / rundir.GENERATOR).is_file():
            continue  # a half-written checkpoint or a stray folder
        try:
            state = json.loads((checkpoint / rundir.STATE).read_text())
            epoch = int(state["epoch"])
        except (OSError, ValueError, KeyError):
            epoch = next((int(r["epoch"]) for r in run.validation if r["step"] == step), -1)
        found.append((epoch, step, checkpoint))
    return found


def score_checkpoints(
    runs: list[Run],
    rows: list[dict],
    datasets: list[Dataset],
    *,
    tile=None,
    progress=True,
    perceptual=None,
    precision="float32",
):
    """Add ``<dataset>_psnr_y`` and ``<dataset>_ssim_y`` (and ``_lpips``, ``_niqe`` with
    ``perceptual``) and the ``checkpoint`` folder to the rows of each checkpoint still on disk;
    returns the checkpoints' ``Evaluation`` (None if none is left). The generators compute in
    ``precision`` (``evaluation.benchmark.load_method``).

    Every run's checkpoints are scored on the same benchmark images, so unlike validation.csv
    these columns compare runs trained on different data. A checkpoint of an ``--ema`` run
    holds two generators, the average (``generator.keras``, what validation scored) and the
    raw weights (``generator_raw.keras``); a GAN's raw weights can be the better pick (lower
    LPIPS: the average still holds some of the PSNR model it started from), so each gets its
    own row, ``weights`` "ema" or "raw", inserted in ``rows`` after the checkpoint's row. The
    raw row has no validation figures: validation scored the average.

    The checkpoints are scored at their generators' own scale (``datasets`` are found again
    there: ``Dataset.at_scale``); runs of different scales cannot share these columns.
    """
    methods, keys = [], {}
    for run in runs:
        for _epoch, step, folder in checkpoints_of(run):
            raw = folder / rundir.RAW_GENERATOR
            label = checkpoint_label(run.name, step)
            candidates = [(folder, label, "ema" if raw.is_file() else None)]
            if raw.is_file():
                candidates.append((raw, checkpoint_label(run.name, step, raw=True), "raw"))
            for path, name, weights in candidates:
                method = load_method(path, name, precision)
                methods.append(method)
                keys[method.name] = (run.name, step, path, weights)
    if not methods:
        return None
    scales = sorted({method.scale for method in methods})
    if len(scales) > 1:
        named = ", ".join(f"x{scale}" for scale in scales)
        raise UserError(
            f"the runs' generators are {named}: their checkpoints cannot share benchmark "
            "columns; score the runs of each scale on their own"
        )
    evaluation = evaluate(methods, datasets, tile=tile, progress=progress, perceptual=perceptual)
    for method in methods:
        run_name, step, path, weights = keys[method.name]
        index = next(
            (i for i, row in enumerate(rows) if row["run"] == run_name and row["step"] == step),
            None,
        )
        if index is None:
            continue  # a checkpoint validation.csv does not list (its row was never written)
        row = rows[index]
        if weights == "raw":
            row = {**row, **dict.fromkeys(VALIDATION_FIELDS, float("nan"))}
            rows.insert(index + 1, row)
        if weights is not None:
            row["weights"] = weights
        row["checkpoint"] = str(path)
        for dataset in datasets:
            for metric in ("psnr_y", "ssim_y", *evaluation.perceptual):
                row[f"{dataset.name}_{metric}"] = evaluation.mean(method.name, dataset.name, metric)
    return evaluation


def _value(row: dict, key: str) -> float:
    value = row.get(key)
    return float(value) if value is not None else float("nan")


def rank_rows(rows: list[dict], by: str, dataset: str | None = None) -> list[dict]:
    """``rows`` best first: by LPIPS (lowest first) or PSNR-Y (highest first), on ``dataset``'s
    benchmark columns if given, else on each run's own validation. Rows without the score
    come last, in their old order."""
    if by not in ("lpips", "psnr"):
        raise ValueError(f"rank by 'lpips' or 'psnr', not {by!r}")
    key = {"lpips": "lpips", "psnr": "psnr_y"}[by]
    key = f"{dataset}_{key}" if dataset else key
    sign = 1 if by == "lpips" else -1
    scored = [row for row in rows if np.isfinite(_value(row, key))]
    unscored = [row for row in rows if not np.isfinite(_value(row, key))]
    return sorted(scored, key=lambda row: sign * _value(row, key)) + unscored


def choose_checkpoint(rows: list[dict], floor_psnr: float, dataset: str = "Set5"):
    """The row of the checkpoint with the lowest ``dataset`` LPIPS among those whose
    ``dataset`` PSNR-Y stays at or above ``floor_psnr`` (bicubic's): a GAN checkpoint that
    looks better without falling below the baseline it started from. None if no row
    qualifies. Ties go to the higher PSNR-Y, then to the later step."""
    lpips, psnr = f"{dataset}_lpips", f"{dataset}_psnr_y"
    candidates = [
        row for row in rows if np.isfinite(_value(row, lpips)) and _value(row, psnr) >= floor_psnr
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda r: (_value(r, lpips), -_value(r, psnr), -r["step"]))


def latest_runs(folder) -> list[Path]:
    """The newest run of each upsampler under ``folder`` (two levels deep): what a notebook
    just trained, without the user copying its timestamped names."""
    folder = Path(folder)
    found = {}
    for run in rundir.runs_under(folder, depth=2):
        config_file = run / rundir.CONFIG
        validation = run / rundir.VALIDATION
        if not validation.is_file():
            continue
        try:
            upsample = json.loads(config_file.read_text()).get("upsample")
        except (OSError, ValueError):
            continue
        age = validation.stat().st_mtime
        if upsample not in found or age > found[upsample][0]:
            found[upsample] = (age, run)
    return [found[key][1] for key in sorted(found)]


def step_seconds(run_dir, *, warmup: int = 3) -> float:
    """Median seconds per training step from history.csv, tracing steps left out."""
    seconds = [row["seconds"] for row in rundir.read_csv(Path(run_dir) / rundir.HISTORY)]
    if len(seconds) < 2:
        return float("nan")
    steps = np.diff(seconds)
    steps = steps[warmup:] if len(steps) > warmup else steps
    return float(np.median(steps))
