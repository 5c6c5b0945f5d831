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

from evaluation.benchmark import Dataset, evaluate, load_method
from runtime.errors import UserError

# config.json's ``upsample`` as the student report names its two methods.
UPSAMPLE_NAMES = {"pixelshuffle": "Pixel Shuffle", "upsampling": "UpSampling2D"}


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
    from training.logs import read_csv

    path = Path(path)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise UserError(f"{path}: not a training run directory (no config.json)")
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"{config_file}: unreadable ({error})") from None
    validation_file = path / "validation.csv"
    if not validation_file.is_file():
        raise UserError(f"{path}: no validation.csv yet (the run has not finished an epoch)")
    try:
        rows = read_csv(validation_file)
    except (OSError, ValueError, KeyError) as error:
        raise UserError(f"{validation_file}: unreadable ({error})") from None
    upsample = config.get("upsample", "?")
    dataset = str(config.get("dataset", "?"))
    if re.search(r"[/\\]", dataset):
        dataset = Path(dataset).name
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
                    "stage": run.stage,
                    "run": run.name,
                }
            )
    return rows


def checkpoints_of(run: Run) -> list[tuple[int, int, Path]]:
    """(epoch, step, folder) of each checkpoint still on disk (runs keep only the newest)."""
    found = []
    folder = run.path / "checkpoints"
    if not folder.is_dir():
        return found
    for checkpoint in sorted(folder.glob("step_*")):
        if not (checkpoint / "generator.keras").is_file():
            continue  # a half-written checkpoint (its temporary name) or a stray folder
        step = int(checkpoint.name.split("_")[1])
        try:
            state = json.loads((checkpoint / "state.json").read_text())
            epoch = int(state["epoch"])
        except (OSError, ValueError, KeyError):
            epoch = next((int(r["epoch"]) for r in run.validation if r["step"] == step), -1)
        found.append((epoch, step, checkpoint))
    return found


def score_checkpoints(
    runs: list[Run], rows: list[dict], datasets: list[Dataset], *, tile=None, progress=True
):
    """Add ``<dataset>_psnr_y`` and ``<dataset>_ssim_y`` to the rows of each checkpoint still
    on disk.

    Every run's checkpoints are scored on the same benchmark images, so unlike validation.csv
    these columns compare runs trained on different data.
    """
    methods, keys = [], {}
    for run in runs:
        for _epoch, step, folder in checkpoints_of(run):
            method = load_method(folder, f"{run.name}-step{step}")
            methods.append(method)
            keys[method.name] = (run.name, step)
    if not methods:
        return None
    evaluation = evaluate(methods, datasets, tile=tile, progress=progress)
    for method in methods:
        run_name, step = keys[method.name]
        for row in rows:
            if row["run"] == run_name and row["step"] == step:
                for dataset in datasets:
                    for metric in ("psnr_y", "ssim_y"):
                        row[f"{dataset.name}_{metric}"] = evaluation.mean(
                            method.name, dataset.name, metric
                        )
    return evaluation


def latest_runs(folder) -> list[Path]:
    """The newest run of each upsampler under ``folder`` (two levels deep): what a notebook
    just trained, without the user copying its timestamped names."""
    folder = Path(folder)
    found = {}
    candidates = [*folder.glob("*/config.json"), *folder.glob("*/*/config.json")]
    for config_file in candidates:
        run = config_file.parent
        validation = run / "validation.csv"
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
    from training.logs import read_csv

    seconds = [row["seconds"] for row in read_csv(Path(run_dir) / "history.csv")]
    if len(seconds) < 2:
        return float("nan")
    steps = np.diff(seconds)
    steps = steps[warmup:] if len(steps) > warmup else steps
    return float(np.median(steps))
