"""What each dataset is: where it comes from, how big it is, and where its images lie on disk.

Definitions only, as data: ``data/resolve.py`` finds a dataset's images on disk and
``data/download.py`` fetches its archives; both read what is written here.

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

The official bicubic LR of scale s lies in ``.../X<s>/`` as ``<stem>x<s>.png`` (``lr_folder``
and ``lr_stem``): EDSR's benchmark archive has X2, X3 and X4, DIV2K publishes the same three
(we download X4); nobody publishes an X8 in this layout, so x8 scores make their LR with
MATLAB's bicubic (``data.matlab_functions``), as they do wherever a file is missing.

``data/resolve.py`` also finds folders unpacked by hand one level up or down
(``DIV2K_train_HR`` right in the data dir, ``Set5/HR`` without ``benchmark/``, ``BSD100`` for
``B100``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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

    ``train_hr``/``valid_hr`` make it a training set, ``hr`` a benchmark (``lr`` beside it).
    The ``*lr`` folders are templates with a ``{scale}`` field (``lr_folder`` fills it).
    ``parts`` names the datasets a combined set (DF2K) is built from; it has no files of its own.
    ``aliases`` are the other folder names the same set goes by in other people's layouts.
    """

    name: str
    description: str
    files: tuple[RemoteFile, ...] = ()
    train_hr: str | None = None
    valid_hr: str | None = None
    hr: str | None = None
    lr: str | None = None
    train_lr: str | None = None
    valid_lr: str | None = None
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


# The official bicubic LR's folder for one scale, and beside a benchmark's HR folder.
_SCALE_FOLDER = "X{scale}"
BENCHMARK_LR = "LR_bicubic/" + _SCALE_FOLDER


def lr_folder(template: str | None, scale: int) -> str | None:
    """A ``*lr`` template (``benchmark/Set5/LR_bicubic/X{scale}``) at ``scale``; None stays."""
    return None if template is None else template.format(scale=int(scale))


def lr_stem(hr_stem: str, scale: int) -> str:
    """The official LR file's stem for HR ``hr_stem``: ``baby`` -> ``babyx4`` (EDSR, DIV2K)."""
    return f"{hr_stem}x{int(scale)}"


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
        lr=f"benchmark/{folder}/{BENCHMARK_LR}",
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
        train_lr="DIV2K/DIV2K_train_LR_bicubic/" + _SCALE_FOLDER,
        valid_lr="DIV2K/DIV2K_valid_LR_bicubic/" + _SCALE_FOLDER,
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
