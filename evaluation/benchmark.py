"""Score methods on the SR benchmarks, the way the SR papers measure them.

The protocol (SRCNN, EDSR, SRGAN's table 2): HR is ``modcrop(HR, 4)``; LR is the dataset's
official MATLAB-bicubic x4 file where it ships one, else our MATLAB-exact
``bicubic_downscale``; PSNR and SSIM are scored on the BT.601 luma with 4 pixels shaved off
each border (``evaluation.metrics``). A greyscale HR (Set14's ``bridge``) is scored on its own
grey channel, as MATLAB scripts do, and a network's colour output is brought back to grey as
luma first (``inference.tiling.upscale`` does this for grey input). Converting ``bridge`` to RGB
instead would move the Set14 bicubic mean from 26.00 to 26.09 dB.

A method is bicubic or a loaded generator; a dataset is a benchmark's images on disk. The
tables (``evaluation.tables``) and figures (``evaluation.figures``) show what ``evaluate``
returns.

TensorFlow is imported only when a generator is loaded: the bicubic baseline needs numpy
alone and runs in seconds.

The module stays whole at a little over 400 lines: it is the protocol above, and its three
sections (methods, the HR/LR pairs, scoring) are its parts, each small; split, the rules that
make our figures match the papers' would be read across three files instead of in one.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from data.catalog import lookup
from data.conventions import luma, to_uint8
from data.images import decode_image, write_image
from data.matlab_functions import bicubic_downscale, bicubic_upscale, modcrop
from data.resolve import BenchmarkImage, resolve_benchmark
from evaluation.metrics import psnr, ssim
from evaluation.perceptual import PROTOCOL as PERCEPTUAL_PROTOCOL
from evaluation.perceptual import Perceptual
from runtime import rundir, stop
from runtime.errors import UserError

SCALE = 4
BICUBIC = "Bicubic"
DEFAULT_DATASETS = ("Set5", "Set14")
# Smallest HR side that survives the 4-pixel shave with room for SSIM's 11x11 window.
MIN_HR_SIDE = 2 * SCALE + 11

PROTOCOL = (
    "x4; PSNR (dB) and SSIM on the Y channel (BT.601), 4-pixel border shaved, HR = modcrop(HR, 4); "
    "LR = the official MATLAB-bicubic file where the dataset ships one, else MATLAB-exact bicubic "
    "of modcrop(HR); greyscale HR scored on its grey channel; " + PERCEPTUAL_PROTOCOL
)


# -- methods --------------------------------------------------------------------------------
@dataclass
class Method:
    """Bicubic (``generator is None``) or a loaded generator, under the name the tables use."""

    name: str
    path: Path | None = None
    generator: object = None
    self_ensemble: bool = False  # the mean over 8 flips and rotations (inference.self_ensemble)

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
    if path.is_file() and path.stem == Path(rundir.GENERATOR).stem:
        path = path.parent
    elif path.is_file():
        return path.stem
    path = path.resolve()
    step = rundir.checkpoint_step(path)
    if step is not None:
        return f"{path.parent.parent.name}-step{step}"
    return path.name


def load_method(path, name: str | None = None, precision: str = "float32") -> Method:
    """A generator from a ``.keras`` file, a run directory or a checkpoint folder.

    ``precision``: what it computes in (``inference.weights.load_generator``). Anything but
    float32 (``auto`` as it resolves here) is named in the label, ``srresnet_x4 (bfloat16)``,
    so a table never passes off another precision's figures as the float32 ones.
    """
    from inference.weights import load_generator
    from models.precision import choose_precision

    precision = choose_precision(precision)
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or folder (give a .keras file or a run directory)")
    source = rundir.generator_file(path)
    generator = load_generator(source, precision)
    return Method(method_label(name or default_name(path), precision), source, generator)


def method_label(name: str, precision: str, self_ensemble: bool = False) -> str:
    """``srresnet_x4``, ``srresnet_x4+`` (self-ensemble, EDSR's notation), then the
    precision when it is not float32: ``srresnet_x4+ (bfloat16)``."""
    label = name + ("+" if self_ensemble else "")
    return label if precision == "float32" else f"{label} ({precision})"


def load_methods(
    specs, *, bicubic: bool = True, precision: str = "float32", self_ensemble: bool = False
) -> list[Method]:
    """Bicubic first (the baseline every SR table starts with), then each model in order.

    ``specs`` are ``PATH`` or ``NAME=PATH`` strings, as the command line gives them; every
    model computes in ``precision`` (``load_method``). ``self_ensemble`` adds a ``+`` row
    after each model's own: the same generator with the x8 self-ensemble, so the table shows
    what the 8 times the compute buys.
    """
    from models.precision import choose_precision

    methods = [bicubic_method()] if bicubic else []
    for spec in specs:
        name, path = split_model_spec(spec)
        method = load_method(path, name, precision)
        methods.append(method)
        if self_ensemble:
            label = method_label(name or default_name(path), choose_precision(precision), True)
            methods.append(replace(method, name=label, self_ensemble=True))
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


def available_datasets(names, data_dir=None) -> tuple[list[Dataset], dict[str, str]]:
    """The datasets that are on disk, and why each other one is not (a notebook goes on)."""
    found, missing = [], {}
    for name in names:
        try:
            found.append(resolve_dataset(name, data_dir))
        except UserError as error:
            missing[name] = str(error)
    return found, missing


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
    return to_uint8(luma(np.asarray(rgb, np.float64)))


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


def degraded_pair(pair: BenchmarkPair, degradation: str, seed: int) -> BenchmarkPair:
    """The pair with its LR made by ``data.degradations`` from the HR, with draws that depend
    only on ``seed`` and the image's dataset and name (not on the order or the methods), so
    every model and every run sees the same LR. A grey HR is degraded as RGB, then made grey."""
    from data.degradations import degrader

    degrade = degrader(degradation)
    key = zlib.crc32(f"{pair.dataset}/{pair.name}".encode())
    rgb = pair.hr if not pair.grey else np.repeat(pair.hr[:, :, None], 3, axis=2)
    lr = degrade(np.ascontiguousarray(rgb), np.random.default_rng([seed, key, 4]))
    return replace(pair, lr=to_grey(lr) if pair.grey else lr, official_lr=False)


# -- scoring --------------------------------------------------------------------------------
def super_resolve(method: Method, lr: np.ndarray, *, tile=None) -> np.ndarray:
    """The x4 image in the LR's mode; large images go through the generator in tiles."""
    if method.is_bicubic:
        return bicubic_upscale(lr, SCALE)
    from inference.tiling import upscale

    return upscale(lr, method.generator, tile=tile, self_ensemble=method.self_ensemble)


def score(hr: np.ndarray, sr: np.ndarray, *, rgb: bool = False, perceptual=None) -> dict:
    scores = {
        "psnr_y": psnr(hr, sr, crop_border=SCALE, y_channel=True),
        "ssim_y": ssim(hr, sr, crop_border=SCALE, y_channel=True),
    }
    if rgb:
        scores["psnr_rgb"] = psnr(hr, sr, crop_border=SCALE, y_channel=False)
    if perceptual is not None:
        scores.update(perceptual.score(hr, sr))
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
    perceptual: tuple[str, ...] = ()  # "lpips", "niqe": the scores beside PSNR and SSIM

    @property
    def metrics(self) -> list[str]:
        return ["psnr_y", "ssim_y"] + (["psnr_rgb"] if self.rgb else []) + list(self.perceptual)

    def mean(self, method: str, dataset: str, metric: str) -> float:
        values = [
            row[metric]
            for row in self.per_image
            if row["method"] == method and row["dataset"] == dataset
        ]
        return float(np.mean(values)) if values else float("nan")

    def summary(self) -> list[dict]:
        """One row per method and dataset, in table order."""
        rows = []
        for method in self.methods:
            for dataset in self.datasets:
                row = {"method": method, "dataset": dataset.name, "images": len(dataset.images)}
                row.update({m: self.mean(method, dataset.name, m) for m in self.metrics})
                rows.append(row)
        return rows


def compare_on_image(
    methods: list[Method], hr: np.ndarray, name: str = "image", *, tile=None, perceptual=None
):
    """Every method on one HR array (LR made by MATLAB-exact bicubic): figure data for any
    picture, e.g. a crop that shows a texture, without a dataset folder."""
    hr = modcrop(np.asarray(hr), SCALE)
    if min(hr.shape[:2]) < MIN_HR_SIDE:
        raise UserError(f"{name}: {hr.shape[1]}x{hr.shape[0]} is too small to score")
    lr = bicubic_downscale(hr, SCALE)
    data = FigureData("", name, hr)
    for method in methods:
        sr = super_resolve(method, lr, tile=tile)
        data.panels.append((method.name, sr, score(hr, sr, perceptual=perceptual)))
    return data


def combine(*evaluations: Evaluation) -> Evaluation:
    """One table from evaluations on different datasets: cells no method was run on show '–'."""
    methods, datasets, per_image = [], [], []
    for evaluation in evaluations:
        methods += [m for m in evaluation.methods if m not in methods]
        datasets += [d for d in evaluation.datasets if d.name not in {x.name for x in datasets}]
        per_image += evaluation.per_image
    rgb = bool(evaluations) and all(evaluation.rgb for evaluation in evaluations)
    first = evaluations[0].perceptual if evaluations else ()
    perceptual = tuple(m for m in first if all(m in e.perceptual for e in evaluations))
    return Evaluation(methods, datasets, per_image, rgb=rgb, perceptual=perceptual)


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
    perceptual: Perceptual | None = None,
    degradation: str = "bicubic",
    seed: int = 0,
) -> Evaluation:
    """Score every method on every image, one image in memory at a time.

    ``save_images`` writes ``<dir>/<dataset>/<method>/<name>.png``. ``keep_figure`` keeps the
    SR images of ``figure_image`` (default: the first image) for ``comparison_figure``.
    ``perceptual`` adds LPIPS and NIQE (``evaluation.perceptual``) to every image's scores.
    ``degradation="real"`` scores on LR made from each HR by ``data.degradations`` instead of
    the protocol's bicubic, with draws fixed by ``seed`` and the image (``degraded_pair``).
    """
    from tqdm import tqdm

    wanted = find_image(datasets, figure_image) if keep_figure else None
    folders = {method.name: safe_filename(method.name) for method in methods}
    if len(set(folders.values())) < len(folders):
        raise UserError("two method names map to the same folder name; label them with NAME=PATH")
    metrics = perceptual.metrics if perceptual else ()
    evaluation = Evaluation([m.name for m in methods], datasets, [], rgb=rgb, perceptual=metrics)
    total = sum(len(dataset.images) for dataset in datasets)
    with tqdm(total=total, unit="img", disable=not progress, dynamic_ncols=True) as bar:
        for dataset in datasets:
            bar.set_description(dataset.name)
            for reference in dataset.images:
                bar.set_postfix_str(reference.name, refresh=False)
                image = load_test_image(dataset.name, reference)
                if degradation != "bicubic":
                    image = degraded_pair(image, degradation, seed)
                keep = wanted == (dataset.name, image.name)
                if keep:
                    evaluation.figure = FigureData(dataset.name, image.name, image.hr)
                for method in methods:
                    stop.check()  # Ctrl-C or SIGTERM: stop between images, never inside TF
                    sr = super_resolve(method, image.lr, tile=tile)
                    scores = score(image.hr, sr, rgb=rgb, perceptual=perceptual)
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
