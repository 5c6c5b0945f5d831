"""data/archives.py on real zip/tar archives built here, hostile ones included."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from data.archives import extract_archive
from runtime.errors import UserError


def _png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (seed * 40 % 256, 90, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


GOOD = {
    "Tiny/Tiny_HR/a.png": _png(1),
    "Tiny/Tiny_HR/b.png": _png(2),
    "Tiny/Tiny_HR/c.png": _png(3),
    "Tiny/README.txt": b"three images\n",
}


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _tar(path: Path, entries: dict[str, bytes], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize(
    "maker,name", [(_zip, "good.zip"), (_tar, "good.tar"), (_tar, "good.tar.gz")]
)
def test_good_archive_extracts_completely(tmp_path, maker, name):
    mode = "w:gz" if name.endswith(".gz") else "w"
    archive = maker(tmp_path / name, GOOD) if maker is _zip else _tar(tmp_path / name, GOOD, mode)
    target = tmp_path / "out" / "data"
    files = extract_archive(archive, target, file_count=3, count_under="Tiny/Tiny_HR")
    assert sorted(files) == sorted(target / n for n in GOOD)
    for entry, data in GOOD.items():
        assert (target / entry).read_bytes() == data
    assert _tree(tmp_path / "out") == {"data", *(f"data/{p}" for p in _tree(target))}


def test_extraction_merges_into_an_existing_target(tmp_path):
    target = tmp_path / "data"
    (target / "Other").mkdir(parents=True)
    (target / "Other" / "keep.png").write_bytes(_png(9))
    extract_archive(_zip(tmp_path / "a.zip", GOOD), target)
    assert (target / "Other" / "keep.png").read_bytes() == _png(9)
    assert (target / "Tiny" / "Tiny_HR" / "a.png").read_bytes() == GOOD["Tiny/Tiny_HR/a.png"]
    assert not [p for p in target.iterdir() if p.name.startswith(".")]  # no staging left


def test_wrong_image_count_writes_nothing(tmp_path):
    archive = _tar(tmp_path / "a.tar", GOOD)
    with pytest.raises(UserError, match="holds 3 images under Tiny/Tiny_HR, expected 800"):
        extract_archive(archive, tmp_path / "out", file_count=800, count_under="Tiny/Tiny_HR")
    assert _tree(tmp_path) == {"a.tar"}


def _zip_symlink(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("Tiny/ok.png", _png(1))
        link = zipfile.ZipInfo("Tiny/link")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "../../../outside.txt")
    return path


def _zip_fifo(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        fifo = zipfile.ZipInfo("Tiny/fifo")
        fifo.create_system = 3
        fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
        zf.writestr(fifo, b"")
    return path


def _tar_special(path: Path, kind: bytes, name: str, linkname: str = "") -> Path:
    with tarfile.open(path, "w") as tf:
        ok = tarfile.TarInfo("Tiny/ok.png")
        data = _png(1)
        ok.size = len(data)
        tf.addfile(ok, io.BytesIO(data))
        special = tarfile.TarInfo(name)
        special.type = kind
        special.linkname = linkname
        tf.addfile(special)
    return path


HOSTILE = {
    "zip ../": lambda p: _zip(p / "h.zip", {"Tiny/ok.png": b"x", "../evil.txt": b"pwned"}),
    "zip nested ../": lambda p: _zip(p / "h.zip", {"Tiny/../../../evil.txt": b"pwned"}),
    "zip absolute": lambda p: _zip(p / "h.zip", {"/tmp/evil-srgan-test.txt": b"pwned"}),
    "zip backslash ..": lambda p: _zip(p / "h.zip", {"..\\evil.txt": b"pwned"}),
    "zip symlink": lambda p: _zip_symlink(p / "h.zip"),
    "zip fifo": lambda p: _zip_fifo(p / "h.zip"),
    "tar ../": lambda p: _tar(p / "h.tar", {"Tiny/ok.png": b"x", "../evil.txt": b"pwned"}),
    "tar absolute": lambda p: _tar(p / "h.tar", {"/tmp/evil-srgan-test.txt": b"pwned"}),
    "tar.gz nested ../": lambda p: _tar(p / "h.tgz", {"a/../../evil.txt": b"pwned"}, "w:gz"),
    "tar symlink": lambda p: _tar_special(p / "h.tar", tarfile.SYMTYPE, "Tiny/l", "/etc/passwd"),
    "tar hardlink": lambda p: _tar_special(p / "h.tar", tarfile.LNKTYPE, "Tiny/h", "../x"),
    "tar fifo": lambda p: _tar_special(p / "h.tar", tarfile.FIFOTYPE, "Tiny/fifo"),
    "tar device": lambda p: _tar_special(p / "h.tar", tarfile.CHRTYPE, "Tiny/null"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_archive_is_refused_and_nothing_is_written(tmp_path, case):
    source = tmp_path / "in"
    source.mkdir()
    archive = HOSTILE[case](source)
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    before = _tree(tmp_path)
    with pytest.raises(UserError, match=r"refused to unpack.*nothing was extracted") as caught:
        extract_archive(archive, work / "data" / "target")
    assert "\n" not in str(caught.value)
    assert _tree(tmp_path) == before  # not in the target, beside it, or above it
    assert not Path("/tmp/evil-srgan-test.txt").exists()


def test_damaged_archives_are_reported_and_leave_no_folder(tmp_path):
    good = _zip(tmp_path / "good.zip", GOOD).read_bytes()
    # Flip a byte inside the first member's compressed data: the CRC check must catch it.
    flipped = bytearray(good)
    offset = 30 + len("Tiny/Tiny_HR/a.png") + 10
    flipped[offset] ^= 0xFF
    (tmp_path / "crc.zip").write_bytes(bytes(flipped))
    (tmp_path / "cut.zip").write_bytes(good[: len(good) // 2])
    tar_bytes = _tar(tmp_path / "good.tar", GOOD).read_bytes()
    (tmp_path / "cut-in-header.tar").write_bytes(tar_bytes[:1200])
    (tmp_path / "cut-in-data.tar").write_bytes(tar_bytes[:560])
    gz_bytes = _tar(tmp_path / "good.tgz", GOOD, "w:gz").read_bytes()
    (tmp_path / "cut.tgz").write_bytes(gz_bytes[: len(gz_bytes) - 20])
    for name, pattern in [
        ("crc.zip", "crc.zip is damaged .*Bad CRC-32"),
        ("cut.zip", "neither a zip nor a tar"),
        ("cut-in-header.tar", "is damaged .*truncated"),
        ("cut-in-data.tar", "is damaged"),
        ("cut.tgz", "is damaged"),
    ]:
        with pytest.raises(UserError, match=pattern):
            extract_archive(tmp_path / name, tmp_path / "out" / "target")
        assert not (tmp_path / "out" / "target").exists()
        assert not [p for p in (tmp_path / "out").glob(".*")]
