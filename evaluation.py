"""Benchmark tables and figures, measured the way the SR papers measure them.

The protocol (SRCNN, EDSR, SRGAN's table 2): HR is ``modcrop(HR, 4)``; LR is the dataset's
official MATLAB-bicubic x4 file where it ships one, else our MATLAB-exact
``bicubic_downscale``; PSNR and SSIM are scored on the BT.601 luma with 4 pixels shaved off
each border (``metrics.py``). A greyscale HR (Set14's ``bridge``) is scored on its own grey
channel, as MATLAB scripts do, and a network's colour output is brought back to grey as luma
first (``inference.upscale`` does this for grey input). Converting ``bridge`` to RGB instead
would move the Set14 bicubic mean from 26.00 to 26.09 dB.

A second table reads training runs, not images: each run's ``validation.csv`` holds the PSNR-Y
of every checkpoint on that run's own validation images, which is the shape of the student
report's table (method x data x epoch). Those figures compare epochs of one run, not runs on
different data; ``evaluate`` on a shared benchmark is the fair comparison.

TensorFlow is imported only when a generator is loaded: the bicubic baseline needs numpy
alone and runs in seconds.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import atomic
import stop
from data.catalog import BenchmarkImage, lookup, resolve_benchmark
from data.images import bicubic_downscale, bicubic_upscale, decode_image, modcrop, write_image
from errors import UserError
from metrics import psnr, ssim

SCALE = 4
BICUBIC = "Bicubic"
DEFAULT_DATASETS = ("Set5", "Set14")
# Smallest HR side that survives the 4-pixel shave with room for SSIM's 11x11 window.
MIN_HR_SIDE = 2 * SCALE + 11

PROTOCOL = (
    "x4; PSNR (dB) and SSIM on the Y channel (BT.601), 4-pixel border shaved, HR = modcrop(HR, 4); "
    "LR = the official MATLAB-bicubic file where the dataset ships one, else MATLAB-exact bicubic "
    "of modcrop(HR); greyscale HR scored on its grey channel"
)

# Ledig et al., CVPR 2017, table 2 (x4, PSNR dB / SSIM). The same figures are quoted by
# several independent reimplementations (e.g. twhui/SRGAN-PyTorch, the Keras and PyTorch
# SRGAN READMEs that compare against "CVPR17"). Their SSIM was computed with a different
# implementation from ours: compare PSNR, and SSIM only loosely (their bicubic Set5 SSIM is
# 0.8211, the MATLAB-style SSIM of the same images is 0.811).
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

# config.json's ``upsample`` as the student report names its two methods.
UPSAMPLE_NAMES = {"pixelshuffle": "Pixel Shuffle", "upsampling": "UpSampling2D"}


# -- methods --------------------------------------------------------------------------------
@dataclass
class Method:
    """Bicubic (``generator is None``) or a loaded generator, under the name the tables use."""

    name: str
    path: Path | None = None
    generator: object = None

    @property
    def is_bicubic(self) -> bool:
        return self.generator is None


def bicubic_method() -> Method:
    return Method(BICUBIC)


def split_model_spec(text: str) -> tuple[str | None, Path]:
    """``name=path`` or ``path``. A path that itself holds ``=`` and exists wins."""
    text = str(text)
    name, sep, rest = text.partition("=")
    if sep and name and rest and not Path(text).exists() and not re.search(r"[/\\]", name):
        return name, Path(rest).expanduser()
    return None, Path(text).expanduser()


def default_name(path: Path) -> str:
    """A run is named by its folder, a checkpoint by run and step, a loose file by its stem.

    ``generator.keras`` says nothing, so its folder names it instead.
    """
    path = Path(path)
    if path.is_file() and path.stem == "generator":
        path = path.parent
    elif path.is_file():
        return path.stem
    path = path.resolve()
    match = re.fullmatch(r"step_(\d+)", path.name)
    if match and path.parent.name == "checkpoints":
        return f"{path.parent.parent.name}-step{int(match.group(1))}"
    return path.name


def load_method(path, name: str | None = None) -> Method:
    """A generator from a ``.keras`` file, a run directory or a checkpoint folder."""
    import inference
    from training.loop import generator_file

    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or folder (give a .keras file or a run directory)")
    source = generator_file(path)
    generator = inference.load_generator(source)
    return Method(name or default_name(path), source, generator)


def load_methods(specs, *, bicubic: bool = True) -> list[Method]:
    """Bicubic first (the baseline every SR table starts with), then each model in order.

    ``specs`` are ``PATH`` or ``NAME=PATH`` strings, as the command line gives them.
    """
    methods = [bicubic_method()] if bicubic else []
    for spec in specs:
        name, path = split_model_spec(spec)
        methods.append(load_method(path, name))
    names = [method.name for method in methods]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise UserError(f"two methods are both called {duplicates[0]!r}; label them with NAME=PATH")
    return methods


# -- images ---------------------------------------------------------------------------------
@dataclass
class Dataset:
    """A benchmark by the name its table column shows, with its images still on disk."""

    name: str
    images: list[BenchmarkImage]

    @property
    def official_lr(self) -> int:
        return sum(image.lr is not None for image in self.images)


def resolve_dataset(name_or_path, data_dir=None) -> Dataset:
    images = resolve_benchmark(name_or_path, data_dir)
    spec = lookup(str(name_or_path))
    if spec is not None and not re.search(r"[/\\]", str(name_or_path)):
        label = spec.name
    elif str(name_or_path).strip().lower() == "sample":
        label = "sample"
    else:
        label = Path(name_or_path).expanduser().resolve().name
    return Dataset(label, images)


def resolve_datasets(names, data_dir=None) -> list[Dataset]:
    """Every dataset up front, so a missing one stops the run before any work is done."""
    datasets = [resolve_dataset(name, data_dir) for name in names]
    labels = [dataset.name for dataset in datasets]
    for label in labels:
        if labels.count(label) > 1:
            raise UserError(f"dataset {label!r} is listed twice")
    return datasets


def load_pixels(path) -> np.ndarray:
    """uint8 grey (HxW) or RGB (HxWx3), whatever the file stores.

    ``decode_image`` rather than ``read_rgb``: a grey image must stay grey to be scored on its
    own channel. 16-bit is rounded to 8 bits and alpha dropped, as ``read_rgb`` does.
    """
    pixels = decode_image(path)
    if pixels.dtype == np.uint16:
        pixels = ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if pixels.ndim == 3:
        pixels = pixels[:, :, 0] if pixels.shape[2] in (1, 2) else pixels[:, :, :3]
    return np.ascontiguousarray(pixels)


def to_grey(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma rescaled to 0-255: the grey a metric compares with a grey HR."""
    luma = np.asarray(rgb, np.float64) @ np.array([0.299, 0.587, 0.114])
    return np.clip(np.rint(luma), 0, 255).astype(np.uint8)


def match_mode(image: np.ndarray, like: np.ndarray) -> np.ndarray:
    if image.ndim == like.ndim:
        return image
    if like.ndim == 2:
        return to_grey(image)
    return np.repeat(image[:, :, None], 3, axis=2)


@dataclass
class BenchmarkPair:
    dataset: str
    name: str
    hr: np.ndarray
    lr: np.ndarray
    official_lr: bool

    @property
    def grey(self) -> bool:
        return self.hr.ndim == 2


def load_test_image(dataset: str, image: BenchmarkImage) -> BenchmarkPair:
    """HR mod-cropped, and the LR the protocol prescribes for it."""
    hr = modcrop(load_pixels(image.hr), SCALE)
    if min(hr.shape[:2]) < MIN_HR_SIDE:
        raise UserError(
            f"{image.hr}: {hr.shape[1]}x{hr.shape[0]} (mod-cropped) is too small to score; "
            f"images need at least {MIN_HR_SIDE} pixels a side"
        )
    if image.lr is None:
        return BenchmarkPair(dataset, image.name, hr, bicubic_downscale(hr, SCALE), False)
    lr = match_mode(load_pixels(image.lr), hr)
    expected = (hr.shape[0] // SCALE, hr.shape[1] // SCALE)
    if lr.shape[:2] != expected:
        raise UserError(
            f"{image.lr}: {lr.shape[1]}x{lr.shape[0]} is not a x{SCALE} LR of {image.hr} "
            f"(expected {expected[1]}x{expected[0]})"
        )
    return BenchmarkPair(dataset, image.name, hr, lr, True)


# -- scoring --------------------------------------------------------------------------------
def super_resolve(method: Method, lr: np.ndarray, *, tile=None) -> np.ndarray:
    """The x4 image in the LR's mode; large images go through the generator in tiles."""
    if method.is_bicubic:
        return bicubic_upscale(lr, SCALE)
    import inference

    return inference.upscale(lr, method.generator, tile=tile)


def score(hr: np.ndarray, sr: np.ndarray, *, rgb: bool = False) -> dict:
    scores = {
        "psnr_y": psnr(hr, sr, crop_border=SCALE, y_channel=True),
        "ssim_y": ssim(hr, sr, crop_border=SCALE, y_channel=True),
    }
    if rgb:
        scores["psnr_rgb"] = psnr(hr, sr, crop_border=SCALE, y_channel=False)
    return scores


@dataclass
class FigureData:
    """One image's HR and every method's SR with its scores: what the comparison figure shows."""

    dataset: str
    name: str
    hr: np.ndarray
    panels: list = field(default_factory=list)  # (method name, SR, scores)


@dataclass
class Evaluation:
    methods: list[str]
    datasets: list[Dataset]
    per_image: list[dict]
    rgb: bool = False
    figure: FigureData | None = None

    def mean(self, method: str, dataset: str, metric: str) -> float:
        values = [
            row[metric]
            for row in self.per_image
            if row["method"] == method and row["dataset"] == dataset
        ]
        return float(np.mean(values)) if values else float("nan")

    def summary(self) -> list[dict]:
        """One row per method and dataset, in table order."""
        metrics = ["psnr_y", "ssim_y"] + (["psnr_rgb"] if self.rgb else [])
        rows = []
        for method in self.methods:
            for dataset in self.datasets:
                row = {"method": method, "dataset": dataset.name, "images": len(dataset.images)}
                row.update({metric: self.mean(method, dataset.name, metric) for metric in metrics})
                rows.append(row)
        return rows


def compare_on_image(methods: list[Method], hr: np.ndarray, name: str = "image", *, tile=None):
    """Every method on one HR array (LR made by MATLAB-exact bicubic): figure data for any
    picture, e.g. a crop that shows a texture, without a dataset folder."""
    hr = modcrop(np.asarray(hr), SCALE)
    if min(hr.shape[:2]) < MIN_HR_SIDE:
        raise UserError(f"{name}: {hr.shape[1]}x{hr.shape[0]} is too small to score")
    lr = bicubic_downscale(hr, SCALE)
    data = FigureData("", name, hr)
    for method in methods:
        sr = super_resolve(method, lr, tile=tile)
        data.panels.append((method.name, sr, score(hr, sr)))
    return data


def combine(*evaluations: Evaluation) -> Evaluation:
    """One table from evaluations on different datasets: cells no method was run on show '–'."""
    methods, datasets, per_image = [], [], []
    for evaluation in evaluations:
        methods += [m for m in evaluation.methods if m not in methods]
        datasets += [d for d in evaluation.datasets if d.name not in {x.name for x in datasets}]
        per_image += evaluation.per_image
    rgb = bool(evaluations) and all(evaluation.rgb for evaluation in evaluations)
    return Evaluation(methods, datasets, per_image, rgb=rgb)


def find_image(datasets: list[Dataset], wanted: str | None) -> tuple[str, str]:
    """(dataset, image) for ``--figure-image``: ``NAME`` or ``DATASET/NAME``; default first."""
    if wanted is None:
        return datasets[0].name, datasets[0].images[0].name
    dataset_name, _, image_name = str(wanted).rpartition("/")
    for dataset in datasets:
        if dataset_name and dataset.name.lower() != dataset_name.lower():
            continue
        for image in dataset.images:
            if image.name == image_name:
                return dataset.name, image.name
    names = ", ".join(image.name for image in datasets[0].images[:20])
    raise UserError(
        f"no image {wanted!r} in {', '.join(d.name for d in datasets)} "
        f"(e.g. {names}); give NAME or DATASET/NAME"
    )


def safe_filename(name: str) -> str:
    """A method name as a folder name: path separators and odd characters become '_'."""
    return re.sub(r"[^A-Za-z0-9._@+=-]", "_", name).strip(".") or "method"


def evaluate(
    methods: list[Method],
    datasets: list[Dataset],
    *,
    rgb: bool = False,
    tile=None,
    save_images=None,
    figure_image: str | None = None,
    keep_figure: bool = False,
    progress: bool = True,
) -> Evaluation:
    """Score every method on every image, one image in memory at a time.

    ``save_images`` writes ``<dir>/<dataset>/<method>/<name>.png``. ``keep_figure`` keeps the
    SR images of ``figure_image`` (default: the first image) for ``comparison_figure``.
    """
    from tqdm import tqdm

    wanted = find_image(datasets, figure_image) if keep_figure else None
    folders = {method.name: safe_filename(method.name) for method in methods}
    if len(set(folders.values())) < len(folders):
        raise UserError("two method names map to the same folder name; label them with NAME=PATH")
    evaluation = Evaluation([m.name for m in methods], datasets, [], rgb=rgb)
    total = sum(len(dataset.images) for dataset in datasets)
    with tqdm(total=total, unit="img", disable=not progress, dynamic_ncols=True) as bar:
        for dataset in datasets:
            bar.set_description(dataset.name)
            for reference in dataset.images:
                bar.set_postfix_str(reference.name, refresh=False)
                image = load_test_image(dataset.name, reference)
                keep = wanted == (dataset.name, image.name)
                if keep:
                    evaluation.figure = FigureData(dataset.name, image.name, image.hr)
                for method in methods:
                    stop.check()  # Ctrl-C or SIGTERM: stop between images, never inside TF
                    sr = super_resolve(method, image.lr, tile=tile)
                    scores = score(image.hr, sr, rgb=rgb)
                    evaluation.per_image.append(
                        {
                            "dataset": dataset.name,
                            "image": image.name,
                            "method": method.name,
                            **scores,
                            "grey": image.grey,
                            "official_lr": image.official_lr,
                        }
                    )
                    if save_images is not None:
                        folder = Path(save_images) / safe_filename(dataset.name)
                        folder = folder / folders[method.name]
                        try:
                            folder.mkdir(parents=True, exist_ok=True)
                        except OSError as error:
                            raise UserError(f"{folder}: cannot create ({error.strerror})") from None
                        write_image(folder / f"{image.name}.png", sr)
                    if keep:
                        evaluation.figure.panels.append((method.name, sr, scores))
                bar.update(1)
    return evaluation


# -- tables ---------------------------------------------------------------------------------
def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _pair(psnr_value, ssim_value) -> str:
    if psnr_value is None or (isinstance(psnr_value, float) and math.isnan(psnr_value)):
        return "–"
    return f"{psnr_value:.2f} / {ssim_value:.4f}"


def paper_rows(dataset_names) -> list[list[str]]:
    """Ledig et al.'s published rows for the datasets they report, '–' elsewhere."""
    rows = []
    for method, results in PAPER_RESULTS.items():
        cells = []
        for name in dataset_names:
            published = results.get(name)
            cells.append(_pair(*published) if published else "–")
        rows.append([method, *cells])
    return rows


def benchmark_table(evaluation: Evaluation, *, paper: bool = False, columns=None) -> str:
    """The paper's table: one row per method, ``PSNR / SSIM`` per dataset (RGB PSNR if asked).

    ``columns`` fixes the datasets shown, e.g. the paper's three even where one is not on disk.
    """
    names = list(columns or [dataset.name for dataset in evaluation.datasets])
    header = ["Method"] + [f"{name} PSNR / SSIM" for name in names]
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
        if evaluation.rgb:
            rgb = [evaluation.mean(method, name, "psnr_rgb") for name in names]
            row += ["–" if math.isnan(value) else f"{value:.2f}" for value in rgb]
        rows.append(row)
    if paper:
        rows += [row + ["–"] * len(names) * evaluation.rgb for row in paper_rows(names)]
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


# -- training runs --------------------------------------------------------------------------
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


REPORT_NOTE = (
    "PSNR-Y / SSIM-Y on each run's own validation images (validation.csv: Y channel, "
    "4-pixel shave); runs on different data are not compared on the same images"
)


def report_table(rows: list[dict], benchmark_columns: list[str] = ()) -> str:
    """Method | Data | Epoch | PSNR-Y, plus a column per benchmark when checkpoints were scored.

    ``benchmark_columns`` are dataset names whose ``<name>_psnr_y``/``_ssim_y`` some rows hold.
    """
    header = ["Method", "Data", "Epoch", "Step", "PSNR-Y (dB)", "SSIM-Y"]
    header += [f"{name} PSNR / SSIM" for name in benchmark_columns] + ["Run"]
    ordered = sorted(rows, key=lambda r: (r["method"], r["data"], r["run"], r["step"]))
    table = []
    for row in ordered:
        cells = [
            row["method"],
            row["data"],
            row["epoch"],
            row["step"],
            f"{row['psnr_y']:.2f}",
            f"{row['ssim_y']:.4f}",
        ]
        for name in benchmark_columns:
            cells.append(_pair(row.get(f"{name}_psnr_y"), row.get(f"{name}_ssim_y")))
        table.append([*cells, row["run"]])
    return markdown_table(header, table)


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


def available_datasets(names, data_dir=None) -> tuple[list[Dataset], dict[str, str]]:
    """The datasets that are on disk, and why each other one is not (a notebook goes on)."""
    found, missing = [], {}
    for name in names:
        try:
            found.append(resolve_dataset(name, data_dir))
        except UserError as error:
            missing[name] = str(error)
    return found, missing


def step_seconds(run_dir, *, warmup: int = 3) -> float:
    """Median seconds per training step from history.csv, tracing steps left out."""
    from training.logs import read_csv

    seconds = [row["seconds"] for row in read_csv(Path(run_dir) / "history.csv")]
    if len(seconds) < 2:
        return float("nan")
    steps = np.diff(seconds)
    steps = steps[warmup:] if len(steps) > warmup else steps
    return float(np.median(steps))


# -- files ----------------------------------------------------------------------------------
def _write_atomically(path, data: bytes) -> Path:
    """``atomic.write_bytes`` with the user's mistakes (no such folder, no space) as one line."""
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
    return _write_atomically(path, buffer.getvalue().encode())


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
    return _write_atomically(path, text.encode())


def sibling(path, suffix: str) -> Path:
    """``results.csv`` -> ``results_per_image.csv``: companions of one ``--csv`` path."""
    path = Path(path)
    return path.with_name(f"{path.stem}_{suffix}{path.suffix or '.csv'}")


def json_document(evaluation: Evaluation | None, report: list[dict] | None) -> dict:
    document = {"protocol": PROTOCOL}
    if evaluation is not None:
        document["datasets"] = [
            {"name": d.name, "images": len(d.images), "official_lr": d.official_lr}
            for d in evaluation.datasets
        ]
        document["methods"] = evaluation.methods
        document["summary"] = evaluation.summary()
        document["per_image"] = evaluation.per_image
    if report is not None:
        document["report"] = {"note": REPORT_NOTE, "rows": report}
    document["paper"] = {
        "source": "Ledig et al., CVPR 2017, table 2",
        "results": {
            method: {name: {"psnr_y": p, "ssim_y": s} for name, (p, s) in results.items()}
            for method, results in PAPER_RESULTS.items()
        },
    }
    return document


# -- figures --------------------------------------------------------------------------------
def choose_crop(hr: np.ndarray, size: int | None = None) -> tuple[int, int, int]:
    """(x, y, size) of the square with the most detail: where methods differ most visibly.

    Detail is the luma gradient energy; the border the metrics shave is avoided.
    """
    from data.images import rgb_to_y

    height, width = hr.shape[:2]
    size = int(size or max(16, min(height, width) // 4))
    size = min(size, height, width)
    luma = rgb_to_y(hr)
    energy = np.zeros_like(luma)
    energy[:, 1:] += np.diff(luma, axis=1) ** 2
    energy[1:, :] += np.diff(luma, axis=0) ** 2
    integral = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    stride = max(1, size // 8)
    margin = SCALE if min(height, width) - size > 2 * SCALE else 0
    best, where = -1.0, (0, 0)
    for y in range(margin, height - size - margin + 1, stride):
        for x in range(margin, width - size - margin + 1, stride):
            total = (
                integral[y + size, x + size]
                - integral[y, x + size]
                - integral[y + size, x]
                + integral[y, x]
            )
            if total > best:
                best, where = total, (x, y)
    return where[0], where[1], size


def save_figure(figure, path) -> Path:
    """Write a matplotlib figure atomically; the format follows the suffix (png, pdf, svg)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise UserError(f"{path}: folder {path.parent} does not exist")
    buffer = io.BytesIO()
    suffix = path.suffix.lower().lstrip(".") or "png"
    try:
        figure.savefig(buffer, format=suffix, dpi=120, bbox_inches="tight")
    except ValueError as error:
        raise UserError(f"{path}: cannot save a figure as .{suffix} ({error})") from None
    return _write_atomically(path, buffer.getvalue())


def _new_figure(**options):
    # A bare Figure, not pyplot: no global backend switch (a notebook keeps its inline plots)
    # and nothing kept alive by pyplot's figure manager after the file is written.
    from matplotlib.figure import Figure

    return Figure(**options)


def comparison_figure(figure_data: FigureData, path=None, *, crop=None, title=None):
    """Each method and the HR side by side, a zoomed crop under each (paper, figure 2).

    The crop's rectangle is drawn on the full images; titles carry PSNR-Y / SSIM-Y. Returns
    the figure (which Jupyter displays); ``path`` also writes it.
    """
    from matplotlib.patches import Rectangle

    hr = figure_data.hr
    x, y, size = crop or choose_crop(hr)
    height, width = hr.shape[:2]
    if min(x, y) < 0 or size < 1 or x + size > width or y + size > height:
        raise UserError(f"crop {x},{y},{size} does not fit in the {width}x{height} image")
    panels = [
        (sr, f"{name}\n{s['psnr_y']:.2f} dB / {s['ssim_y']:.4f}")
        for name, sr, s in figure_data.panels
    ]
    panels.append((hr, "HR (original)\ntitles: PSNR-Y / SSIM-Y"))
    aspect = height / width
    figure = _new_figure(figsize=(3.2 * len(panels), 3.2 * aspect + 3.6))
    axes = figure.subplots(
        2, len(panels), gridspec_kw={"height_ratios": [aspect, 1]}, squeeze=False
    )
    grey = {"cmap": "gray", "vmin": 0, "vmax": 255} if hr.ndim == 2 else {}
    for column, (image, label) in enumerate(panels):
        top, bottom = axes[0, column], axes[1, column]
        top.imshow(image, **grey)
        top.add_patch(Rectangle((x - 0.5, y - 0.5), size, size, fill=False, color="red", lw=1.5))
        top.set_title(label, fontsize=9)
        bottom.imshow(image[y : y + size, x : x + size], interpolation="nearest", **grey)
        for axis in (top, bottom):
            axis.set_xticks([])
            axis.set_yticks([])
        for spine in bottom.spines.values():
            spine.set_edgecolor("red")
    where = f"{figure_data.dataset} / " if figure_data.dataset else ""
    figure.suptitle(title or f"{where}{figure_data.name} (x{SCALE})")
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


def plot_psnr_vs_epoch(rows: list[dict], path=None, *, axis=None):
    """Validation PSNR-Y against the epoch, one line per run (labelled by method and data).

    Draws on ``axis`` if given, else on a new figure, which is returned (and written to
    ``path`` if given).
    """
    figure = None
    if axis is None:
        figure = _new_figure(figsize=(6.5, 3.5))
        axis = figure.subplots()
    by_run = {}
    for row in sorted(rows, key=lambda r: r["step"]):
        by_run.setdefault(row["run"], []).append(row)
    for run, points in by_run.items():
        label = f"{points[0]['method']} ({points[0]['data']}, {run})"
        axis.plot([p["epoch"] for p in points], [p["psnr_y"] for p in points], "o-", label=label)
    axis.set_xlabel("epoch")
    axis.set_ylabel("validation PSNR-Y (dB)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)
    if figure is None:
        return axis
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


# -- checkerboard artefacts -----------------------------------------------------------------
def flat_response(generator, *, level: float = 0.5, size: int = 32) -> np.ndarray:
    """The generator's output for a flat grey LR image, in grey levels, border dropped.

    A perfect x4 network answers a flat input with a flat output; any pattern left is the
    network's own, and a period of 2 or 4 pixels is the checkerboard that deconvolution-like
    upsamplers are known for (Odena et al. 2016).
    """
    lr = np.full((1, size, size, 3), level, np.float32)
    sr = np.asarray(generator.predict_on_batch(lr))[0]
    grey = ((sr + 1.0) * 127.5) @ np.array([0.299, 0.587, 0.114])
    border = 4 * SCALE
    return grey[border:-border, border:-border]


def spectrum(image: np.ndarray) -> np.ndarray:
    """log10 power spectrum of the luma (DC at the centre) for ``imshow``."""
    from data.images import rgb_to_y

    luma = rgb_to_y(image) if image.ndim == 3 else np.asarray(image, np.float64)
    luma = luma - luma.mean()
    window = np.outer(np.hanning(luma.shape[0]), np.hanning(luma.shape[1]))
    power = np.abs(np.fft.fftshift(np.fft.fft2(luma * window))) ** 2
    return np.log10(power + 1e-6)


def checkerboard_energy(image: np.ndarray) -> float:
    """Share of the (non-DC) power at the frequencies a x2/x4 grid produces.

    Those are the multiples of 1/4 cycle per pixel on each axis; the image is cropped to a
    multiple of 4 so they fall exactly on FFT bins. Natural images put well under 1% there.
    """
    from data.images import rgb_to_y

    luma = rgb_to_y(image) if image.ndim == 3 else np.asarray(image, np.float64)
    luma = modcrop(luma, 4)
    luma = luma - luma.mean()
    power = np.abs(np.fft.fft2(luma)) ** 2
    height, width = luma.shape
    rows = np.arange(0, height, height // 4)
    cols = np.arange(0, width, width // 4)
    grid = power[np.ix_(rows, cols)].sum() - power[0, 0]
    total = power.sum() - power[0, 0]
    return float(grid / total) if total > 0 else 0.0
