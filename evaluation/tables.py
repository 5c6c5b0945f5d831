"""The tables and result files of an evaluation: what ``evaluate.py`` prints and writes.

Markdown tables for the paper's benchmark (one row per method, ``PSNR / SSIM`` per dataset,
one table per scale, with Ledig et al.'s published x4 rows beside ours at x4) and for the
student report (method x data x epoch, read from training runs), and CSV and JSON files written
atomically.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from data.conventions import DEFAULT_SCALE
from evaluation.benchmark import PROTOCOL, Dataset, Evaluation
from evaluation.perceptual import LABELS, format_score
from runtime import atomic, rundir
from runtime.errors import UserError

# Ledig et al., CVPR 2017, table 2 (x4, PSNR dB / SSIM): beside our x4 tables only. The same
# figures are quoted by several independent reimplementations (e.g. twhui/SRGAN-PyTorch, the
# Keras and PyTorch SRGAN READMEs that compare against "CVPR17"). Their SSIM was computed
# with a different implementation from ours: compare PSNR, and SSIM only loosely (their
# bicubic Set5 SSIM is 0.8211, the MATLAB-style SSIM of the same images is 0.811).
PAPER_SCALE = DEFAULT_SCALE
PAPER_RESULTS = {
    "Bicubic (Ledig et al.)": {
        "Set5": (28.43, 0.8211),
        "Set14": (25.99, 0.7486),
        "BSD100": (25.94, 0.6935),
    },
    "SRResNet (Ledig et al.)": {
        "Set5": (32.05, 0.9019),
        "Set14": (28.49, 0.8184),
        "BSD100": (27.58, 0.7620),
    },
    "SRGAN (Ledig et al.)": {
        "Set5": (29.40, 0.8472),
        "Set14": (26.02, 0.7397),
        "BSD100": (25.16, 0.6688),
    },
}
# Ledig et al. publish no LPIPS or NIQE, and no citable source gives either for their own SR
# images: those cells of their rows print '–', and the perception-distortion plot has no
# point for them.


REPORT_NOTE = (
    f"PSNR-Y / SSIM-Y on each run's own validation images ({rundir.VALIDATION}: Y channel, "
    "a border of the run's scale shaved); runs on different data are not compared on the "
    "same images"
)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _pair(psnr_value, ssim_value) -> str:
    if psnr_value is None or (isinstance(psnr_value, float) and math.isnan(psnr_value)):
        return "–"
    return f"{psnr_value:.2f} / {ssim_value:.4f}"


def paper_rows(dataset_names, perceptual=()) -> list[list[str]]:
    """Ledig et al.'s published rows for the datasets they report, '–' elsewhere (and in
    every ``perceptual`` column: they publish neither LPIPS nor NIQE)."""
    rows = []
    for method, results in PAPER_RESULTS.items():
        cells = []
        for name in dataset_names:
            published = results.get(name)
            cells.append(_pair(*published) if published else "–")
            cells += ["–"] * len(perceptual)
        rows.append([method, *cells])
    return rows


def benchmark_table(evaluation: Evaluation, *, paper: bool = False, columns=None) -> str:
    """The paper's table: one row per method, ``PSNR / SSIM`` per dataset, then that dataset's
    LPIPS and NIQE where they were scored (RGB PSNR at the end if asked).

    ``columns`` fixes the datasets shown, e.g. the paper's three even where one is not on disk.
    ``paper`` adds Ledig et al.'s rows to a x4 table; they publish no other scale.
    """
    names = list(columns or [dataset.name for dataset in evaluation.datasets])
    perceptual = evaluation.perceptual
    header = ["Method"]
    for name in names:
        header += [f"{name} PSNR / SSIM"] + [f"{name} {LABELS[m]}" for m in perceptual]
    if evaluation.rgb:
        header += [f"{name} PSNR-RGB" for name in names]
    rows = []
    for method in evaluation.methods:
        row = [method]
        for name in names:
            row.append(
                _pair(
                    evaluation.mean(method, name, "psnr_y"),
                    evaluation.mean(method, name, "ssim_y"),
                )
            )
            row += [format_score(m, evaluation.mean(method, name, m)) for m in perceptual]
        if evaluation.rgb:
            rgb = [evaluation.mean(method, name, "psnr_rgb") for name in names]
            row += ["–" if math.isnan(value) else f"{value:.2f}" for value in rgb]
        rows.append(row)
    if paper and evaluation.scale == PAPER_SCALE:
        rows += [row + ["–"] * len(names) * evaluation.rgb for row in paper_rows(names, perceptual)]
    return markdown_table(header, rows)


def describe_lr(datasets: list[Dataset]) -> str:
    parts = []
    for dataset in datasets:
        count, official = len(dataset.images), dataset.official_lr
        if official == count:
            parts.append(f"{dataset.name}: {count} images, official LR")
        elif official == 0:
            parts.append(f"{dataset.name}: {count} images, LR made by MATLAB-exact bicubic")
        else:
            parts.append(
                f"{dataset.name}: {count} images, {official} official LR, the rest made by bicubic"
            )
    return "; ".join(parts)


def _scored(rows: list[dict], key: str) -> bool:
    return any(not _missing(row.get(key)) for row in rows)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float | np.floating) and math.isnan(value))


def report_table(rows: list[dict], benchmark_columns: list[str] = (), *, rank_by=None) -> str:
    """Method | Data | Epoch | PSNR-Y, plus a column per benchmark when checkpoints were scored.

    ``benchmark_columns`` are dataset names whose ``<name>_psnr_y``/``_ssim_y`` (and
    ``_lpips``, ``_niqe``) some rows hold; a GAN run's validation LPIPS gets its column too.
    ``rank_by`` ("lpips" or "psnr") orders the rows best first (``runs.rank_rows``) instead of
    by method, data, run and step. Rows of ``--ema`` checkpoints name their ``weights`` in a
    column (``runs.score_checkpoints``); a raw row has no validation figures ("–").
    """
    from evaluation.runs import rank_rows

    validation_lpips = _scored(rows, "lpips")
    weights = any(row.get("weights") for row in rows)  # --ema checkpoints: average and raw
    header = ["Method", "Data", "Epoch", "Step", *(["Weights"] if weights else [])]
    header += ["PSNR-Y (dB)", "SSIM-Y"]
    header += ["LPIPS"] if validation_lpips else []
    extra = {}
    for name in benchmark_columns:
        extra[name] = [m for m in LABELS if _scored(rows, f"{name}_{m}")]
        header += [f"{name} PSNR / SSIM"] + [f"{name} {LABELS[m]}" for m in extra[name]]
    header += ["Run"]
    if rank_by:
        ordered = rank_rows(rows, rank_by, benchmark_columns[0] if benchmark_columns else None)
    else:
        ordered = sorted(
            rows, key=lambda r: (r["method"], r["data"], r["run"], r["step"], r.get("weights", ""))
        )
    table = []
    for row in ordered:
        cells = [
            row["method"],
            row["data"],
            row["epoch"],
            row["step"],
            *([row.get("weights") or "–"] if weights else []),
            "–" if _missing(row["psnr_y"]) else f"{row['psnr_y']:.2f}",
            "–" if _missing(row["ssim_y"]) else f"{row['ssim_y']:.4f}",
        ]
        if validation_lpips:
            cells.append(format_score("lpips", row.get("lpips")))
        for name in benchmark_columns:
            cells.append(_pair(row.get(f"{name}_psnr_y"), row.get(f"{name}_ssim_y")))
            cells += [format_score(m, row.get(f"{name}_{m}")) for m in extra[name]]
        table.append([*cells, row["run"]])
    return markdown_table(header, table)


# -- files ----------------------------------------------------------------------------------
def write_file(path, data: bytes) -> Path:
    """``atomic.write_bytes`` with the user's mistakes (no such folder, no space) as one line.

    Every file of this package goes through here, ``figures.save_figure``'s too.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise UserError(f"{path}: folder {path.parent} does not exist")
    try:
        return atomic.write_bytes(path, data)
    except OSError as error:
        raise UserError(f"{path}: cannot write ({error.strerror or error})") from None


def _plain(value):
    if isinstance(value, float | np.floating):
        value = float(value)
        return None if math.isnan(value) else round(value, 6)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def write_csv(path, rows: list[dict]) -> Path:
    columns = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _plain(row.get(key)) for key in columns})
    return write_file(path, buffer.getvalue().encode())


def write_json(path, document) -> Path:
    def plain(value):
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        if isinstance(value, Path):
            return str(value)
        return _plain(value)

    text = json.dumps(plain(document), indent=2, allow_nan=False) + "\n"
    return write_file(path, text.encode())


def sibling(path, suffix: str) -> Path:
    """``results.csv`` -> ``results_per_image.csv``: companions of one ``--csv`` path."""
    path = Path(path)
    return path.with_name(f"{path.stem}_{suffix}{path.suffix or '.csv'}")


def json_document(evaluations, report: list[dict] | None, *, chosen: dict | None = None) -> dict:
    """Everything evaluate.py found; ``chosen`` is the checkpoint ``runs.choose_checkpoint``
    picked, if it was asked to pick one.

    ``evaluations``: one ``Evaluation``, a list of them (one per scale, each row saying its
    scale), or None.
    """
    if isinstance(evaluations, Evaluation):
        evaluations = [evaluations]
    document = {"protocol": PROTOCOL}
    if evaluations:
        document["datasets"] = [
            {
                "name": d.name,
                "scale": e.scale,
                "images": len(d.images),
                "official_lr": d.official_lr,
            }
            for e in evaluations
            for d in e.datasets
        ]
        document["methods"] = [name for e in evaluations for name in e.methods]
        document["summary"] = [row for e in evaluations for row in e.summary()]
        document["per_image"] = [row for e in evaluations for row in e.per_image]
    if report is not None:
        document["report"] = {"note": REPORT_NOTE, "rows": report}
        if chosen is not None:
            document["report"]["chosen"] = chosen
    document["paper"] = {
        "source": "Ledig et al., CVPR 2017, table 2",
        "scale": PAPER_SCALE,
        "note": "they publish PSNR and SSIM, no LPIPS or NIQE",
        "results": {
            method: {name: {"psnr_y": p, "ssim_y": s} for name, (p, s) in results.items()}
            for method, results in PAPER_RESULTS.items()
        },
    }
    return document
