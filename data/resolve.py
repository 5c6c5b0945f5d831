"""Turn ``--dataset`` and ``--benchmark`` (a catalog name, the sample set, a folder of images)
into the image files they mean.

Reads the disk and nothing else: only ``data/download.py`` fetches, so training and evaluation
can resolve a dataset name without ever touching the network. A named dataset is looked for in
the layout ``data/catalog.py`` describes and also where it was unpacked by hand one level up or
down (``DIV2K_train_HR`` right in the data dir, ``Set5/HR`` without ``benchmark/``, ``BSD100``
for ``B100``); a partial copy is refused with the command that downloads it. Training sets and
benchmarks share this module because they share its rules: the same name-or-folder parsing,
the same layouts, the same sample set and the same errors.
"""

from __future__ import annotations

import importlib.util
import numbers
import os
from dataclasses import dataclass
from pathlib import Path

from data.catalog import (
    BENCHMARK_LR,
    CATALOG,
    SAMPLE,
    SAMPLE_TRAIN,
    SAMPLE_VALIDATION,
    DatasetSpec,
    describe_download,
    lookup,
    lr_folder,
    lr_stem,
)
from data.catalog import data_dir as resolve_data_dir
from data.conventions import DEFAULT_SCALE, check_scale
from data.images import IMAGE_SUFFIXES, list_images
from runtime.errors import UserError

# One image in ten is held out of a plain folder: enough to see overfitting, few enough that a
# small folder still trains.
HOLDOUT_EVERY = 10
FLICKR2K_HOLDOUT = 50


@dataclass(frozen=True)
class TrainingSet:
    name: str
    train: list[Path]
    validation: list[Path]


@dataclass(frozen=True)
class BenchmarkImage:
    """An HR image and its official LR file at the scale asked for; ``lr`` is None where no
    official file exists."""

    name: str
    hr: Path
    lr: Path | None


def _download_hint(spec: DatasetSpec, root: Path) -> str:
    return f"run: python -m data.download {spec.name} --data-dir {root} ({describe_download(spec)})"


def _candidates(spec: DatasetSpec, relative: str) -> list[str]:
    """Where a folder may lie: as we unpack it, one level up (no ``DIV2K/``/``benchmark/``
    wrapper), or under another name the set goes by (``BSD100`` for ``B100``)."""
    found = [relative]
    _, _, rest = relative.partition("/")
    if rest:
        found.append(rest)
    if spec.hr is not None and relative.startswith("benchmark/"):
        set_folder, _, inside = relative.removeprefix("benchmark/").partition("/")
        for alias in spec.aliases:
            if alias != set_folder:
                found += [f"benchmark/{alias}/{inside}", f"{alias}/{inside}"]
    return list(dict.fromkeys(found))


def locate(spec: DatasetSpec, root: Path, relative: str) -> Path | None:
    """The folder where one of ``spec``'s folders lies under ``root``, in any known layout."""
    for candidate in _candidates(spec, relative):
        path = root / candidate
        if path.is_dir():
            return path
    return None


def _images(
    spec: DatasetSpec,
    root: Path,
    relative: str,
    count: int | None,
    *,
    wanted: DatasetSpec | None = None,
) -> list[Path]:
    """The images of one folder of a named dataset, complete, or a UserError that says how to
    get them: a partial copy would silently change what a run trains or scores on.

    ``wanted`` is the dataset the user asked for (DF2K for a missing DIV2K folder), so the hint
    downloads everything that is needed at once.
    """
    wanted = wanted or spec
    folder = locate(spec, root, relative)
    if folder is None:
        raise UserError(
            f"{wanted.name} is not downloaded in {root} (no {relative}); "
            f"{_download_hint(wanted, root)}"
        )
    images = list_images(folder)
    if count is not None and len(images) != count:
        raise UserError(
            f"{folder} holds {len(images)} images, {spec.name} has {count}; "
            f"{_download_hint(wanted, root)}"
        )
    return images


def _limit(images: list[Path], validation_count: int | None) -> list[Path]:
    return images if validation_count is None else images[:validation_count]


def _check_validation_count(validation_count) -> int | None:
    if validation_count is None:
        return None
    if (
        isinstance(validation_count, bool)
        or not isinstance(validation_count, numbers.Integral)
        or validation_count < 1
    ):
        raise UserError(f"validation count must be a whole number >= 1, not {validation_count!r}")
    return int(validation_count)


def _looks_like_path(name: str) -> bool:
    return any(sep in name for sep in {os.sep, "/", os.altsep} - {None}) or name.startswith("~")


def _unknown(name: str, *, kind: str, valid: list[str]) -> UserError:
    return UserError(
        f"unknown {kind} {name!r}: use one of {', '.join(valid)}, or a path to a folder of images"
    )


def sample_folder() -> Path:
    """scikit-image's data folder, found without importing scikit-image (which is slow)."""
    found = importlib.util.find_spec("skimage")
    if found is None or not found.submodule_search_locations:
        raise UserError(
            "the sample set is scikit-image's bundled photos, and scikit-image is not installed: "
            "pip install scikit-image, or pass a dataset name or a folder of images"
        )
    return Path(next(iter(found.submodule_search_locations))) / "data"


def _sample() -> TrainingSet:
    folder = sample_folder()
    missing = [name for name in SAMPLE_TRAIN + SAMPLE_VALIDATION if not (folder / name).is_file()]
    if missing:
        raise UserError(
            f"scikit-image at {folder} lacks {', '.join(missing)} (a trimmed install?); "
            "reinstall it with pip install --force-reinstall scikit-image, or pass a folder"
        )
    return TrainingSet(
        name=SAMPLE,
        train=[folder / name for name in SAMPLE_TRAIN],
        validation=[folder / name for name in SAMPLE_VALIDATION],
    )


def _holdout(images: list[Path], validation_count: int | None) -> tuple[list, list]:
    """Hold out every tenth image by sorted order (or ``validation_count`` spread evenly), so
    the split never changes between runs and covers the whole folder, not its tail.

    A folder of one image cannot be split: it then trains and validates on that same image,
    which shows that the pipeline runs but says nothing about generalisation.
    """
    n = len(images)
    if n == 1:
        return list(images), list(images)
    if validation_count is None:
        picked = list(range(HOLDOUT_EVERY - 1, n, HOLDOUT_EVERY)) or [n - 1]
    else:
        if validation_count >= n:
            raise UserError(
                f"cannot hold out {validation_count} of {n} images and still have one to train on"
            )
        step = n / validation_count
        picked = [int((i + 1) * step) - 1 for i in range(validation_count)]
    chosen = set(picked)
    train = [path for i, path in enumerate(images) if i not in chosen]
    return train, [images[i] for i in picked]


def _folder_training_set(path: Path, validation_count: int | None) -> TrainingSet:
    """A user's folder. ``train/`` + ``valid/`` (or ``val/``) subfolders are used as given; an
    EDSR-style folder with ``HR/`` uses only ``HR/`` (its LR copies are not training targets);
    anything else is split by ``_holdout``."""
    if not path.is_dir():
        what = "is not a folder" if path.exists() else "does not exist"
        raise UserError(f"{path} {what}; pass a dataset name or a folder of images")
    train_dir = path / "train"
    valid_dir = next((path / n for n in ("valid", "val") if (path / n).is_dir()), None)
    if train_dir.is_dir() and valid_dir is not None:
        train, validation = list_images(train_dir), list_images(valid_dir)
        for folder, images in ((train_dir, train), (valid_dir, validation)):
            if not images:
                raise UserError(f"{folder} holds no images ({_suffix_hint()})")
        return TrainingSet(path.name, train, _limit(validation, validation_count))
    source = path / "HR" if (path / "HR").is_dir() else path
    images = list_images(source)
    if not images:
        raise UserError(f"{source} holds no images ({_suffix_hint()})")
    train, validation = _holdout(images, validation_count)
    return TrainingSet(path.name, train, validation)


def _suffix_hint() -> str:
    return "looked for " + " ".join(IMAGE_SUFFIXES)


def resolve_training_set(name_or_path, data_dir=None, *, validation_count=None) -> TrainingSet:
    """Turn ``--dataset`` into file lists.

    A catalog name wins over a folder of the same name in the working directory; write
    ``./DIV2K`` to mean the folder. ``validation_count`` keeps the first N validation images of
    a named set, or holds out N images (spread evenly) of a plain folder. Several names or
    folders joined by commas (``T91,BSD200``) are used together, as SR training sets usually
    are: their training and their validation images are concatenated.
    """
    parts = [part.strip() for part in str(name_or_path).split(",") if part.strip()]
    if len(parts) > 1:
        sets = [
            resolve_training_set(part, data_dir, validation_count=validation_count)
            for part in parts
        ]
        return TrainingSet(
            "+".join(s.name for s in sets),
            [path for s in sets for path in s.train],
            [path for s in sets for path in s.validation],
        )
    validation_count = _check_validation_count(validation_count)
    name = str(name_or_path).strip()
    root = resolve_data_dir(data_dir)
    if name.lower() == SAMPLE:
        sample = _sample()
        return TrainingSet(sample.name, sample.train, _limit(sample.validation, validation_count))
    spec = None if _looks_like_path(name) else lookup(name)
    if spec is None:
        path = Path(name).expanduser()
        if _looks_like_path(name) or path.is_dir():
            return _folder_training_set(path.absolute(), validation_count)
        training = [SAMPLE] + [n for n, s in CATALOG.items() if s.is_training]
        raise _unknown(name, kind="training set", valid=training)
    if not spec.is_training:
        training = [SAMPLE] + [n for n, s in CATALOG.items() if s.is_training]
        raise UserError(
            f"{spec.name} is a benchmark, not a training set: use one of {', '.join(training)}, "
            "or a folder of images"
        )
    return _named_training_set(spec, root, validation_count)


def _named_training_set(spec: DatasetSpec, root: Path, validation_count) -> TrainingSet:
    div2k = CATALOG["DIV2K"]
    if spec.name == "DF2K":
        flickr = CATALOG["Flickr2K"]
        train = _images(div2k, root, div2k.train_hr, div2k.train_count, wanted=spec)
        train += _images(flickr, root, flickr.train_hr, flickr.train_count, wanted=spec)
        validation = _images(div2k, root, div2k.valid_hr, div2k.valid_count, wanted=spec)
        return TrainingSet(spec.name, train, _limit(validation, validation_count))
    train = _images(spec, root, spec.train_hr, spec.train_count)
    if spec.valid_hr is not None:
        validation = _images(spec, root, spec.valid_hr, spec.valid_count)
    elif locate(div2k, root, div2k.valid_hr) is not None:
        # Scores on DIV2K valid are comparable with every DIV2K/DF2K run; use them when we can.
        validation = _images(div2k, root, div2k.valid_hr, div2k.valid_count)
    else:
        held = validation_count or FLICKR2K_HOLDOUT
        train, validation = train[:-held], train[-held:]
    return TrainingSet(spec.name, train, _limit(validation, validation_count))


def _with_lr(hr_images: list[Path], folder: Path | None, scale: int) -> list[BenchmarkImage]:
    """Pair each HR image with ``<stem>x<scale>.<ext>`` (the EDSR naming), in any image format."""
    lr_by_stem = {}
    if folder is not None:
        for lr in list_images(folder, recursive=False):
            lr_by_stem.setdefault(lr.stem, lr)
    return [
        BenchmarkImage(hr.stem, hr, lr_by_stem.get(lr_stem(hr.stem, scale))) for hr in hr_images
    ]


def _lr_folder(hr_folder: Path, scale: int) -> Path | None:
    """``LR_bicubic/X<scale>`` beside an ``HR`` folder, where it exists."""
    folder = hr_folder.parent / lr_folder(BENCHMARK_LR, scale)
    return folder if folder.is_dir() else None


def resolve_benchmark(name_or_path, data_dir=None, *, scale=DEFAULT_SCALE) -> list[BenchmarkImage]:
    """Turn ``--benchmark`` into HR images, each with its official LR file at ``scale`` (2, 4
    or 8) where one exists.

    The official LR files are MATLAB's bicubic; using them (rather than our own downscale)
    is what makes a PSNR comparable with published tables. ``lr`` is None for a plain folder,
    and at a scale nobody ships (x8); the caller then makes LR with the MATLAB-compatible
    resize.
    """
    scale = check_scale(scale)
    name = str(name_or_path).strip()
    root = resolve_data_dir(data_dir)
    if name.lower() == SAMPLE:
        sample = _sample()
        return [BenchmarkImage(p.stem, p, None) for p in sample.validation]
    spec = None if _looks_like_path(name) else lookup(name)
    benchmarks = [n for n, s in CATALOG.items() if s.is_benchmark]
    if spec is None:
        path = Path(name).expanduser()
        if _looks_like_path(name) or path.is_dir():
            return _folder_benchmark(path.absolute(), scale)
        raise _unknown(name, kind="benchmark", valid=[*benchmarks, SAMPLE])
    if not spec.is_benchmark:
        raise UserError(
            f"{spec.name} has no held-out test images: use one of {', '.join(benchmarks)}, "
            "or a folder of images"
        )
    if spec.hr is not None:
        hr_images = _images(spec, root, spec.hr, spec.hr_count)
        return _with_lr(hr_images, _lr_folder(locate(spec, root, spec.hr), scale), scale)
    hr_images = _images(spec, root, spec.valid_hr, spec.valid_count)
    valid_lr = lr_folder(spec.valid_lr, scale)
    return _with_lr(hr_images, locate(spec, root, valid_lr) if valid_lr else None, scale)


def _folder_benchmark(path: Path, scale: int) -> list[BenchmarkImage]:
    if not path.is_dir():
        what = "is not a folder" if path.exists() else "does not exist"
        raise UserError(f"{path} {what}; pass a benchmark name or a folder of images")
    if (path / "HR").is_dir():
        images = list_images(path / "HR")
        if not images:
            raise UserError(f"{path / 'HR'} holds no images ({_suffix_hint()})")
        return _with_lr(images, _lr_folder(path / "HR", scale), scale)
    images = list_images(path)
    if not images:
        raise UserError(f"{path} holds no images ({_suffix_hint()})")
    return [BenchmarkImage(p.stem, p, None) for p in images]
