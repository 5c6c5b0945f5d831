"""Score methods on the SR benchmarks, the way the SR papers measure them.

The protocol (SRCNN, EDSR, SRGAN's table 2), at the scale of the generator scored (its own
description says it, ``models.description``; x4 in the paper): HR is ``modcrop(HR, scale)``; LR
is the dataset's official MATLAB-bicubic file at that scale where it ships one (EDSR's
benchmarks and DIV2K have x2, x3 and x4), else our MATLAB-exact ``bicubic_downscale``; PSNR
and SSIM are scored on the BT.601 luma with ``conventions.shave_border(scale)`` pixels (the
scale: 4 at x4) shaved off each border (``evaluation.metrics``). A greyscale HR (Set14's
``bridge``) is scored on its own grey channel, as MATLAB scripts do, and a network's colour
output is brought back to grey as luma first (``inference.tiling.upscale`` does this for grey
input). Converting ``bridge`` to RGB instead would move the Set14 bicubic mean from 26.00 to
26.09 dB.

A method is bicubic or a loaded generator, each with its scale; a dataset is a benchmark's
images on disk with their official LR at one scale. ``evaluate`` scores methods of one scale
(bicubic at the scale of the models it is compared with); ``tables_by_scale`` groups models of
several. The tables (``evaluation.tables``) and figures (``evaluation.figures``) show what
``evaluate`` returns.

TensorFlow is imported only when a generator is loaded: the bicubic baseline needs numpy
alone and runs in seconds.

The module stays whole at about 550 lines: it is the protocol above, and its three
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
from data.conventions import (
    DEFAULT_SCALE,
    check_scale,
    luma,
    min_scored_side,
    shave_border,
    to_uint8,
)
from data.images import decode_image, write_image
from data.matlab_functions import bicubic_downscale, bicubic_upscale, modcrop
from data.resolve import BenchmarkImage, resolve_benchmark
from evaluation.metrics import psnr, ssim
from evaluation.perceptual import PROTOCOL as PERCEPTUAL_PROTOCOL
from evaluation.perceptual import Perceptual
from runtime import rundir, stop
from runtime.errors import UserError

BICUBIC = "Bicubic"
DEFAULT_DATASETS = ("Set5", "Set14")
# The last word of ``degraded_pair``'s seed: a fixed salt (the same at every scale), kept so
# the draws of earlier --degradation real tables do not change.
DRAWS_SALT = 4

PROTOCOL = (
    "at each model's own scale (x4 in the paper; every row names its scale); PSNR (dB) and SSIM "
    "on the Y channel (BT.601), a border of the scale shaved (4 pixels at x4), "
    "HR = modcrop(HR, scale); LR = the official MATLAB-bicubic file at that scale where the "
    "dataset ships one, else MATLAB-exact bicubic of modcrop(HR); greyscale HR scored on its "
    "grey channel; " + PERCEPTUAL_PROTOCOL
)


# -- methods --------------------------------------------------------------------------------
@dataclass
class Method:
    """Bicubic (``generator is None``) or a loaded generator, under the name the tables use.

    ``scale``: a generator's own (``load_method`` reads it from the model); bicubic's is the
    scale of the models it is compared with.
    """

    name: str
    path: Path | None = None
    generator: object = None
    self_ensemble: bool = False  # the mean over 8 flips and rotations (inference.self_ensemble)
    scale: int = DEFAULT_SCALE

    @property
    def is_bicubic(self) -> bool:
        return self.generator is None


def bicubic_method(scale=DEFAULT_SCALE) -> Method:
    return Method(BICUBIC, scale=check_scale(scale))


def common_scale(methods) -> int:
    """The one scale ``methods`` share, or a UserError naming theirs (a table has one scale)."""
    scales = {method.scale for method in methods}
    if len(scales) > 1:
        named = ", ".join(f"{method.name} x{method.scale}" for method in methods)
        raise UserError(f"methods of different scales cannot share a table: {named}")
    return scales.pop() if scales else DEFAULT_SCALE


def tables_by_scale(models, scale=DEFAULT_SCALE) -> list[list[Method]]:
    """One list of methods per scale among ``models``, smallest scale first: bicubic at that
    scale, then the models of that scale in the order given. No model: bicubic alone at
    ``scale``."""
    scales = sorted({model.scale for model in models}) or [check_scale(scale)]
    return [
        [bicubic_method(each), *(model for model in models if model.scale == each)]
        for each in scales
    ]


def split_model_spec(text: str) -> tuple[str | None, Path]:
    """``name=path`` or ``path``. A path that itself holds ``=`` and exists wins."""
    text = str(text)
    name, sep, rest = text.partition("=")
    if sep and name and rest and not Path(text).exists() and not re.search(r"[/\\]", name):
        return name, Path(rest).expanduser()
    return None, Path(text).expanduser()


def checkpoint_label(run_name: str, step: int, raw: bool = False) -> str:
    """A checkpoint's name in tables: ``<run>-step<N>``, ``-raw`` for its raw weights."""
    return f"{run_name}-step{step}" + ("-raw" if raw else "")


def default_name(path: Path) -> str:
    """A run is named by its folder, a checkpoint by run and step, a loose file by its stem.

    ``generator.keras`` says nothing, so its folder names it instead; a checkpoint's raw
    weights (``generator_raw.keras``) are ``<run>-step<N>-raw``, as ``--report-checkpoints``
    names them, so two checkpoints' raw weights in one table are told apart.
    """
    path = Path(path)
    raw = path.is_file() and path.name == rundir.RAW_GENERATOR
    if raw and rundir.checkpoint_step(path.resolve().parent) is None:
        return path.stem  # raw weights outside a checkpoint: a loose file
    if raw or (path.is_file() and path.stem == Path(rundir.GENERATOR).stem):
        path = path.parent
    elif path.is_file():
        return path.stem
    path = path.resolve()
    step = rundir.checkpoint_step(path)
    if step is not None:
        return checkpoint_label(path.parent.parent.name, step, raw=raw)
    return path.name


def load_method(path, name: str | None = None, precision: str = "float32") -> Method:
    """A generator from a ``.keras`` file, a run directory or a checkpoint folder.

    ``precision``: what it computes in (``inference.weights.load_generator``). Anything but
    float32 (``auto`` as it resolves here) is named in the label, ``srresnet_x4 (bfloat16)``,
    so a table never passes off another precision's figures as the float32 ones.
    """
    from inference.weights import load_generator
    from models.description import describe
    from models.precision import choose_precision

    precision = choose_precision(precision)
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or folder (give a .keras file or a run directory)")
    source = rundir.generator_file(path)
    generator = load_generator(source, precision)
    label = method_label(name or default_name(path), precision)
    return Method(label, source, generator, scale=describe(generator).scale)


def method_label(name: str, precision: str, self_ensemble: bool = False) -> str:
    """``srresnet_x4``, ``srresnet_x4+`` (self-ensemble, EDSR's notation), then the
    precision when it is not float32: ``srresnet_x4+ (bfloat16)``."""
    label = name + ("+" if self_ensemble else "")
    return label if precision == "float32" else f"{label} ({precision})"


def load_methods(
    specs, *, bicubic: bool = True, precision: str = "float32", self_ensemble: bool = False
) -> list[Method]:
    """Bicubic first (the baseline every SR table starts with, at the models' scale), then each
    model in order.

    ``specs`` are ``PATH`` or ``NAME=PATH`` strings, as the command line gives them; every
    model computes in ``precision`` (``load_method``). ``self_ensemble`` adds a ``+`` row
    after each model's own: the same generator with the x8 self-ensemble, so the table shows
    what the 8 times the compute buys. Models of several scales need ``bicubic=False`` (one
    bicubic per scale: ``tables_by_scale``).
    """
    from models.precision import choose_precision

    methods = []
    for spec in specs:
        name, path = split_model_spec(spec)
        method = load_method(path, name, precision)
        methods.append(method)
        if self_ensemble:
            label = method_label(name or default_name(path), choose_precision(precision), True)
            methods.append(replace(method, name=label, self_ensemble=True))
    names = [BICUBIC] * bicubic + [method.name for method in methods]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise UserError(f"two methods are both called {duplicates[0]!r}; label them with NAME=PATH")
    return [bicubic_method(common_scale(methods)), *methods] if bicubic else methods


# -- images ---------------------------------------------------------------------------------
@dataclass
class Dataset:
    """A benchmark by the name its table column shows, with its images still on disk and
    their official LR files at ``scale``; ``source`` (name or folder, data dir) finds them
    again at another scale (``at_scale``)."""

    name: str
    images: list[BenchmarkImage]
    scale: int = DEFAULT_SCALE
    source: tuple | None = None

    @property
    def official_lr(self) -> int:
        return sum(image.lr is not None for image in self.images)

    def at_scale(self, scale) -> Dataset:
        """The same images with their official LR files at ``scale`` (itself if already there)."""
        if check_scale(scale) == self.scale:
            return self
        if self.source is None:
            raise ValueError(f"{self.name} was not resolved from disk: cannot find its x{scale} LR")
        return resolve_dataset(*self.source, scale=scale)


def resolve_dataset(name_or_path, data_dir=None, *, scale=DEFAULT_SCALE) -> Dataset:
    images = resolve_benchmark(name_or_path, data_dir, scale=scale)
    spec = lookup(str(name_or_path))
    if spec is not None and not re.search(r"[/\\]", str(name_or_path)):
        label = spec.name
    elif str(name_or_path).strip().lower() == "sample":
        label = "sample"
    else:
        label = Path(name_or_path).expanduser().resolve().name
    return Dataset(label, images, check_scale(scale), (name_or_path, data_dir))


def resolve_datasets(names, data_dir=None, *, scale=DEFAULT_SCALE) -> list[Dataset]:
    """Every dataset up front, so a missing one stops the run before any work is done.

    ``scale`` picks the official LR files; ``evaluate`` finds them again at its methods' scale.
    """
    datasets = [resolve_dataset(name, data_dir, scale=scale) for name in names]
    labels = [dataset.name for dataset in datasets]
    for label in labels:
        if labels.count(label) > 1:
            raise UserError(f"dataset {label!r} is listed twice")
    return datasets


def available_datasets(
    names, data_dir=None, *, scale=DEFAULT_SCALE
) -> tuple[list[Dataset], dict[str, str]]:
    """The datasets that are on disk, and why each other one is not (a notebook goes on)."""
    found, missing = [], {}
    for name in names:
        try:
            found.append(resolve_dataset(name, data_dir, scale=scale))
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
    scale: int = DEFAULT_SCALE

    @property
    def grey(self) -> bool:
        return self.hr.ndim == 2


def load_test_image(dataset: str, image: BenchmarkImage, scale=DEFAULT_SCALE) -> BenchmarkPair:
    """HR mod-cropped, and the LR the protocol prescribes for it at ``scale``: ``image.lr``
    must be the official file at that scale (``resolve_dataset(..., scale=scale)``)."""
    scale = check_scale(scale)
    hr = modcrop(load_pixels(image.hr), scale)
    least = min_scored_side(scale)
    if min(hr.shape[:2]) < least:
        raise UserError(
            f"{image.hr}: {hr.shape[1]}x{hr.shape[0]} (mod-cropped) is too small to score; "
            f"images need at least {least} pixels a side"
        )
    if image.lr is None:
        lr = bicubic_downscale(hr, scale)
        return BenchmarkPair(dataset, image.name, hr, lr, False, scale)
    lr = match_mode(load_pixels(image.lr), hr)
    expected = (hr.shape[0] // scale, hr.shape[1] // scale)
    if lr.shape[:2] != expected:
        raise UserError(
            f"{image.lr}: {lr.shape[1]}x{lr.shape[0]} is not a x{scale} LR of {image.hr} "
            f"(expected {expected[1]}x{expected[0]})"
        )
    return BenchmarkPair(dataset, image.name, hr, lr, True, scale)


def degraded_pair(pair: BenchmarkPair, degradation: str, seed: int) -> BenchmarkPair:
    """The pair with its LR made by ``data.degradations`` from the HR, with draws that depend
    only on ``seed`` and the image's dataset and name (not on the order or the methods), so
    every model and every run sees the same LR. A grey HR is degraded as RGB, then made grey."""
    from data.degradations import degrader

    degrade = degrader(degradation, pair.scale)
    key = zlib.crc32(f"{pair.dataset}/{pair.name}".encode())
    rgb = pair.hr if not pair.grey else np.repeat(pair.hr[:, :, None], 3, axis=2)
    lr = degrade(np.ascontiguousarray(rgb), np.random.default_rng([seed, key, DRAWS_SALT]))
    return replace(pair, lr=to_grey(lr) if pair.grey else lr, official_lr=False)


# -- scoring --------------------------------------------------------------------------------
def super_resolve(method: Method, lr: np.ndarray, *, tile=None) -> np.ndarray:
    """The image at the method's scale in the LR's mode; large images go through the
    generator in tiles."""
    if method.is_bicubic:
        return bicubic_upscale(lr, method.scale)
    from inference.tiling import upscale

    return upscale(lr, method.generator, tile=tile, self_ensemble=method.self_ensemble)


def score(
    hr: np.ndarray,
    sr: np.ndarray,
    *,
    rgb: bool = False,
    perceptual=None,
    scale=DEFAULT_SCALE,
) -> dict:
    """PSNR-Y and SSIM-Y (PSNR-RGB with ``rgb``, the ``perceptual`` scores) of ``sr`` at
    ``scale``, whose border shave (``conventions.shave_border``) every score takes."""
    border = shave_border(scale)
    scores = {
        "psnr_y": psnr(hr, sr, crop_border=border, y_channel=True),
        "ssim_y": ssim(hr, sr, crop_border=border, y_channel=True),
    }
    if rgb:
        scores["psnr_rgb"] = psnr(hr, sr, crop_border=border, y_channel=False)
    if perceptual is not None:
        scores.update(replace(perceptual, scale=scale).score(hr, sr))
    return scores


@dataclass
class FigureData:
    """One image's HR and every method's SR with its scores: what the comparison figure shows."""

    dataset: str
    name: str
    hr: np.ndarray
    panels: list = field(default_factory=list)  # (method name, SR, scores)
    scale: int = DEFAULT_SCALE


@dataclass
class Evaluation:
    """Methods of one ``scale`` scored on datasets: each image's scores, and their means."""

    methods: list[str]
    datasets: list[Dataset]
    per_image: list[dict]
    rgb: bool = False
    figure: FigureData | None = None
    perceptual: tuple[str, ...] = ()  # "lpips", "niqe": the scores beside PSNR and SSIM
    scale: int = DEFAULT_SCALE

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
                row = {"method": method, "scale": self.scale, "dataset": dataset.name}
                row["images"] = len(dataset.images)
                row.update({m: self.mean(method, dataset.name, m) for m in self.metrics})
                rows.append(row)
        return rows


def compare_on_image(
    methods: list[Method], hr: np.ndarray, name: str = "image", *, tile=None, perceptual=None
):
    """Every method (of one scale) on one HR array (LR made by MATLAB-exact bicubic): figure
    data for any picture, e.g. a crop that shows a texture, without a dataset folder."""
    scale = common_scale(methods)
    hr = modcrop(np.asarray(hr), scale)
    if min(hr.shape[:2]) < min_scored_side(scale):
        raise UserError(f"{name}: {hr.shape[1]}x{hr.shape[0]} is too small to score")
    lr = bicubic_downscale(hr, scale)
    data = FigureData("", name, hr, scale=scale)
    for method in methods:
        sr = super_resolve(method, lr, tile=tile)
        scores = score(hr, sr, perceptual=perceptual, scale=scale)
        data.panels.append((method.name, sr, scores))
    return data


def combine(*evaluations: Evaluation) -> Evaluation:
    """One table from evaluations (of one scale) on different datasets: cells no method was
    run on show '–'."""
    scales = sorted({evaluation.scale for evaluation in evaluations})
    if len(scales) > 1:
        raise UserError(f"scores at {' and '.join(f'x{s}' for s in scales)} cannot share a table")
    scale = scales[0] if scales else DEFAULT_SCALE
    methods, datasets, per_image = [], [], []
    for evaluation in evaluations:
        methods += [m for m in evaluation.methods if m not in methods]
        datasets += [d for d in evaluation.datasets if d.name not in {x.name for x in datasets}]
        per_image += evaluation.per_image
    rgb = bool(evaluations) and all(evaluation.rgb for evaluation in evaluations)
    first = evaluations[0].perceptual if evaluations else ()
    perceptual = tuple(m for m in first if all(m in e.perceptual for e in evaluations))
    return Evaluation(methods, datasets, per_image, rgb=rgb, perceptual=perceptual, scale=scale)


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

    The methods share one scale (``common_scale``; bicubic's is chosen to match), and each
    dataset is scored with its official LR at that scale (``Dataset.at_scale``), shaving
    ``conventions.shave_border(scale)``. ``save_images`` writes
    ``<dir>/<dataset>/<method>/<name>.png``. ``keep_figure`` keeps the SR images of
    ``figure_image`` (default: the first image) for ``comparison_figure``.
    ``perceptual`` adds LPIPS and NIQE (``evaluation.perceptual``) to every image's scores.
    ``degradation="real"`` scores on LR made from each HR by ``data.degradations`` instead of
    the protocol's bicubic, with draws fixed by ``seed`` and the image (``degraded_pair``).
    """
    from tqdm import tqdm

    scale = common_scale(methods)
    datasets = [dataset.at_scale(scale) for dataset in datasets]
    wanted = find_image(datasets, figure_image) if keep_figure else None
    folders = {method.name: safe_filename(method.name) for method in methods}
    if len(set(folders.values())) < len(folders):
        raise UserError("two method names map to the same folder name; label them with NAME=PATH")
    metrics = perceptual.metrics if perceptual else ()
    names = [method.name for method in methods]
    evaluation = Evaluation(names, datasets, [], rgb=rgb, perceptual=metrics, scale=scale)
    total = sum(len(dataset.images) for dataset in datasets)
    with tqdm(total=total, unit="img", disable=not progress, dynamic_ncols=True) as bar:
        for dataset in datasets:
            bar.set_description(dataset.name)
            for reference in dataset.images:
                bar.set_postfix_str(reference.name, refresh=False)
                image = load_test_image(dataset.name, reference, scale)
                if degradation != "bicubic":
                    image = degraded_pair(image, degradation, seed)
                keep = wanted == (dataset.name, image.name)
                if keep:
                    figure = FigureData(dataset.name, image.name, image.hr, scale=scale)
                    evaluation.figure = figure
                for method in methods:
                    stop.check()  # Ctrl-C or SIGTERM: stop between images, never inside TF
                    sr = super_resolve(method, image.lr, tile=tile)
                    scores = score(image.hr, sr, rgb=rgb, perceptual=perceptual, scale=scale)
                    evaluation.per_image.append(
                        {
                            "dataset": dataset.name,
                            "image": image.name,
                            "method": method.name,
                            "scale": scale,
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
