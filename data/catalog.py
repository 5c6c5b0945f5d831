"""What each dataset is: where it comes from, how big it is, and where its images lie on disk.

Only ``data/download.py`` fetches; everything here reads the disk and nothing else, so training
and evaluation can resolve a dataset name without ever touching the network.

Checksums and sizes are the ones published by others who downloaded the same archives; the
source of each is noted next to it. Where nothing is published the archive is still checked
(archive integrity, and the number of images it unpacks to), and the gap is said here.

Layout under the data dir, the one the EDSR authors use (so an existing EDSR/BasicSR data
folder works as it is)::

    DIV2K/DIV2K_train_HR/0001.png ...                    DIV2K/DIV2K_valid_HR/0801.png ...
    DIV2K/DIV2K_train_LR_bicubic/X4/0001x4.png ...       DIV2K/DIV2K_valid_LR_bicubic/X4/...
    Flickr2K/Flickr2K_HR/000001.png ...
    benchmark/Set5/HR/baby.png   benchmark/Set5/LR_bicubic/X4/babyx4.png   (also Set14, B100,
                                                                            Urban100)

Folders unpacked by hand one level up or down are found too (``DIV2K_train_HR`` right in the
data dir, ``Set5/HR`` without ``benchmark/``, ``BSD100`` for ``B100``).
"""

from __future__ import annotations

import importlib.util
import numbers
import os
from dataclasses import dataclass
from pathlib import Path

from data.images import IMAGE_SUFFIXES, list_images
from runtime.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = Path(os.environ.get("SRGAN_DATA_DIR") or REPO_ROOT / "datasets").expanduser()

SAMPLE = "sample"
# Real colour photos inside scikit-image's wheel: a training set that needs no download, so the
# default command works offline. Chelsea and coffee are held out because they resemble nothing
# in the training list (a cat, a cup), which keeps validation honest.
SAMPLE_TRAIN = (
    "astronaut.png",
    "hubble_deep_field.jpg",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "rocket.jpg",
    "ihc.png",
    "retina.jpg",
)
SAMPLE_VALIDATION = ("chelsea.png", "coffee.png")

# One image in ten is held out of a plain folder: enough to see overfitting, few enough that a
# small folder still trains.
HOLDOUT_EVERY = 10
FLICKR2K_HOLDOUT = 50


@dataclass(frozen=True)
class RemoteFile:
    """One archive to download.

    ``extracts_to`` is the folder (relative to the data dir) whose presence proves the archive
    was unpacked, and ``file_count`` the number of images it must hold; ``extract_into`` is where
    the archive's own top folder lands.
    """

    url: str
    filename: str
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    extracts_to: str | None = None
    file_count: int | None = None
    extract_into: str = "."


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset by name. Folder fields are relative to the data dir; ``None`` means absent.

    ``train_hr``/``valid_hr`` make it a training set, ``hr`` a benchmark (``lr_x4`` beside it).
    ``parts`` names the datasets a combined set (DF2K) is built from; it has no files of its own.
    ``aliases`` are the other folder names the same set goes by in other people's layouts.
    """

    name: str
    description: str
    files: tuple[RemoteFile, ...] = ()
    train_hr: str | None = None
    valid_hr: str | None = None
    hr: str | None = None
    lr_x4: str | None = None
    train_lr_x4: str | None = None
    valid_lr_x4: str | None = None
    train_count: int | None = None
    valid_count: int | None = None
    hr_count: int | None = None
    parts: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    homepage: str | None = None

    @property
    def is_training(self) -> bool:
        return self.train_hr is not None or bool(self.parts)

    @property
    def is_benchmark(self) -> bool:
        return self.hr is not None or self.valid_hr is not None


@dataclass(frozen=True)
class TrainingSet:
    name: str
    train: list[Path]
    validation: list[Path]


@dataclass(frozen=True)
class BenchmarkImage:
    """An HR image and its official x4 LR file; ``lr`` is None where no official file exists."""

    name: str
    hr: Path
    lr: Path | None


_DIV2K = "http://data.vision.ee.ethz.ch/cvl/DIV2K/"
_EDSR = "https://cv.snu.ac.kr/research/EDSR/"


def _div2k(filename: str, size: int, sha256: str, md5: str, extracts_to: str, count: int):
    return RemoteFile(
        url=_DIV2K + filename,
        filename=filename,
        size=size,
        sha256=sha256,
        md5=md5,
        extracts_to=extracts_to,
        file_count=count,
        extract_into="DIV2K",
    )


# Sizes and SHA-256: TensorFlow Datasets, tensorflow_datasets/url_checksums/div2k.txt (recorded
# from https://data.vision.ee.ethz.ch/cvl/DIV2K/, the same files the http URLs serve).
# MD5: torchSR, torchsr/datasets/div2k.py (Coloquinte/torchSR); the same values appear in
# catalyst's esrgan DIV2KDataset. Two independent sources, so both digests are checked.
_DIV2K_FILES = (
    _div2k(
        "DIV2K_train_HR.zip",
        3_530_603_713,
        "9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335",
        "bdc2d9338d4e574fe81bf7d158758658",
        "DIV2K/DIV2K_train_HR",
        800,
    ),
    _div2k(
        "DIV2K_valid_HR.zip",
        448_993_893,
        "20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc",
        "9fcdda83005c5e5997799b69f955ff88",
        "DIV2K/DIV2K_valid_HR",
        100,
    ),
    _div2k(
        "DIV2K_train_LR_bicubic_X4.zip",
        246_914_039,
        "f006b837f4eb52b82909aa01478e6d6d199eefce932179491d0c9dbb706dde3a",
        "76c43ec4155851901ebbe8339846d93d",
        "DIV2K/DIV2K_train_LR_bicubic/X4",
        800,
    ),
    _div2k(
        "DIV2K_valid_LR_bicubic_X4.zip",
        31_505_881,
        "a50a5d1c4b88de4e8d300d8fb2b904c52fe93b2b298a4899697760d7cbb6d553",
        "21962de700c8d368c6ff83314480eff0",
        "DIV2K/DIV2K_valid_LR_bicubic/X4",
        100,
    ),
)

# MD5 only: torchSR, torchsr/datasets/flickr2k.py (also in catalyst's esrgan Flickr2K). No
# size is published; the tar holds HR plus bicubic and unknown LR at x2, x3, x4 (all of which
# are unpacked), and the 2,650 HR images are counted after extraction.
_FLICKR2K_FILE = RemoteFile(
    url=_EDSR + "Flickr2K.tar",
    filename="Flickr2K.tar",
    md5="5d3f39443d5e9489bff8963f8f26cb03",
    extracts_to="Flickr2K/Flickr2K_HR",
    file_count=2650,
)


def _benchmark_file(folder: str, count: int) -> RemoteFile:
    # One archive for all four sets: benchmark/<Set>/HR and benchmark/<Set>/LR_bicubic/X{2,3,4}.
    # MD5 only: torchSR, torchsr/datasets/benchmarks.py. No size is published.
    return RemoteFile(
        url=_EDSR + "benchmark.tar",
        filename="benchmark.tar",
        md5="4ace41d33c2384b97e6b320cd0afd6ba",
        extracts_to=f"benchmark/{folder}/HR",
        file_count=count,
    )


def _benchmark(name: str, folder: str, count: int, description: str, aliases=()) -> DatasetSpec:
    return DatasetSpec(
        name=name,
        description=description,
        files=(_benchmark_file(folder, count),),
        hr=f"benchmark/{folder}/HR",
        lr_x4=f"benchmark/{folder}/LR_bicubic/X4",
        hr_count=count,
        aliases=aliases,
        homepage="https://github.com/sanghyun-son/EDSR-PyTorch",
    )


CATALOG: dict[str, DatasetSpec] = {
    "DIV2K": DatasetSpec(
        name="DIV2K",
        description="800 train + 100 validation 2K photos, with the official bicubic x4 LR",
        files=_DIV2K_FILES,
        train_hr="DIV2K/DIV2K_train_HR",
        valid_hr="DIV2K/DIV2K_valid_HR",
        train_lr_x4="DIV2K/DIV2K_train_LR_bicubic/X4",
        valid_lr_x4="DIV2K/DIV2K_valid_LR_bicubic/X4",
        train_count=800,
        valid_count=100,
        homepage="https://data.vision.ee.ethz.ch/cvl/DIV2K/",
    ),
    "Flickr2K": DatasetSpec(
        name="Flickr2K",
        description="2,650 2K photos from Flickr (EDSR); validates on DIV2K valid if present",
        files=(_FLICKR2K_FILE,),
        train_hr="Flickr2K/Flickr2K_HR",
        train_count=2650,
        homepage="https://github.com/LimBee/NTIRE2017",
    ),
    "DF2K": DatasetSpec(
        name="DF2K",
        description="DIV2K train + Flickr2K (3,450 photos); validates on DIV2K valid",
        parts=("DIV2K", "Flickr2K"),
    ),
    "Set5": _benchmark("Set5", "Set5", 5, "5 test images (Bevilacqua et al. 2012)"),
    "Set14": _benchmark("Set14", "Set14", 14, "14 test images (Zeyde et al. 2010)"),
    "BSD100": _benchmark(
        "BSD100", "B100", 100, "100 BSDS300 test photos (a.k.a. B100)", aliases=("BSD100",)
    ),
    "Urban100": _benchmark("Urban100", "Urban100", 100, "100 urban scenes (Huang et al. 2015)"),
}

_NAMES = {name.lower(): name for name in CATALOG} | {"b100": "BSD100"}


def data_dir(path=None) -> Path:
    """The data dir for a ``--data-dir`` value; the environment is read at call time so a
    ``SRGAN_DATA_DIR`` set after import still counts."""
    if path is not None and str(path) != "":
        return Path(path).expanduser()
    env = os.environ.get("SRGAN_DATA_DIR")
    return Path(env).expanduser() if env else DEFAULT_DATA_DIR


# The public functions take a ``data_dir`` argument, which hides the function of that name.
_root = data_dir


def lookup(name: str) -> DatasetSpec | None:
    """The spec for a catalog name in any letter case (``df2k``, ``b100``), or None."""
    key = _NAMES.get(str(name).strip().lower())
    return CATALOG[key] if key else None


def dataset_names() -> list[str]:
    return [SAMPLE, *CATALOG]


def unique_files(spec: DatasetSpec) -> list[RemoteFile]:
    """Every archive a dataset needs, its parts' included, each URL once."""
    files, seen = [], set()
    for part in spec.parts:
        for remote in unique_files(CATALOG[part]):
            if remote.url not in seen:
                seen.add(remote.url)
                files.append(remote)
    for remote in spec.files:
        if remote.url not in seen:
            seen.add(remote.url)
            files.append(remote)
    return files


def download_size(spec: DatasetSpec) -> int | None:
    """Total bytes to download, or None when a size is not published."""
    sizes = [remote.size for remote in unique_files(spec)]
    return None if None in sizes else sum(sizes)


def format_size(size: int | None) -> str:
    if size is None:
        return "size not published"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def describe_download(spec: DatasetSpec) -> str:
    """How much a download weighs, saying plainly where no size is published."""
    files = unique_files(spec)
    known = sum(remote.size for remote in files if remote.size is not None)
    unknown = sorted({remote.filename for remote in files if remote.size is None})
    if not files:
        return "nothing to download"
    if not unknown:
        return f"{format_size(known)} download"
    if not known:
        return f"download size not published for {', '.join(unknown)}"
    return f"over {format_size(known)} download; no size published for {', '.join(unknown)}"


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
    root = _root(data_dir)
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


def _with_lr(hr_images: list[Path], lr_folder: Path | None) -> list[BenchmarkImage]:
    """Pair each HR image with ``<stem>x4.<ext>`` (the EDSR naming), in any image format."""
    lr_by_stem = {}
    if lr_folder is not None:
        for lr in list_images(lr_folder, recursive=False):
            lr_by_stem.setdefault(lr.stem, lr)
    return [BenchmarkImage(hr.stem, hr, lr_by_stem.get(f"{hr.stem}x4")) for hr in hr_images]


def _lr_folder(hr_folder: Path) -> Path | None:
    folder = hr_folder.parent / "LR_bicubic" / "X4"
    return folder if folder.is_dir() else None


def resolve_benchmark(name_or_path, data_dir=None) -> list[BenchmarkImage]:
    """Turn ``--benchmark`` into HR images, each with its official x4 LR file where one exists.

    The official LR files are MATLAB's bicubic; using them (rather than our own downscale)
    is what makes a PSNR comparable with published tables. ``lr`` is None for a plain folder,
    and the caller makes LR with the MATLAB-compatible resize.
    """
    name = str(name_or_path).strip()
    root = _root(data_dir)
    if name.lower() == SAMPLE:
        sample = _sample()
        return [BenchmarkImage(p.stem, p, None) for p in sample.validation]
    spec = None if _looks_like_path(name) else lookup(name)
    benchmarks = [n for n, s in CATALOG.items() if s.is_benchmark]
    if spec is None:
        path = Path(name).expanduser()
        if _looks_like_path(name) or path.is_dir():
            return _folder_benchmark(path.absolute())
        raise _unknown(name, kind="benchmark", valid=[*benchmarks, SAMPLE])
    if not spec.is_benchmark:
        raise UserError(
            f"{spec.name} has no held-out test images: use one of {', '.join(benchmarks)}, "
            "or a folder of images"
        )
    if spec.hr is not None:
        hr_images = _images(spec, root, spec.hr, spec.hr_count)
        return _with_lr(hr_images, _lr_folder(locate(spec, root, spec.hr)))
    hr_images = _images(spec, root, spec.valid_hr, spec.valid_count)
    lr_folder = locate(spec, root, spec.valid_lr_x4) if spec.valid_lr_x4 else None
    return _with_lr(hr_images, lr_folder)


def _folder_benchmark(path: Path) -> list[BenchmarkImage]:
    if not path.is_dir():
        what = "is not a folder" if path.exists() else "does not exist"
        raise UserError(f"{path} {what}; pass a benchmark name or a folder of images")
    if (path / "HR").is_dir():
        images = list_images(path / "HR")
        if not images:
            raise UserError(f"{path / 'HR'} holds no images ({_suffix_hint()})")
        return _with_lr(images, _lr_folder(path / "HR"))
    images = list_images(path)
    if not images:
        raise UserError(f"{path} holds no images ({_suffix_hint()})")
    return [BenchmarkImage(p.stem, p, None) for p in images]
