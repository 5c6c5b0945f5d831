"""Unpack a downloaded zip or tar completely and safely, or not at all.

An archive from the network is untrusted. Every entry is checked before anything is written:
absolute paths, ``..``, links, devices and fifos are refused, and nothing is extracted. Each
entry is read to its end, so the formats' own CRCs and lengths catch a damaged download. Files
are staged in a hidden folder and renamed into place, so a folder that exists is complete.
Nothing here knows about HTTP or the catalog; ``data/download.py`` hands over a file and a
target.
"""

from __future__ import annotations

import gzip
import lzma
import os
import re
import secrets
import shutil
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from data.images import IMAGE_SUFFIXES
from data.reasons import failure_reason, one_line
from runtime.errors import UserError

_READ_CHUNK = 1 << 20

_DAMAGED = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    tarfile.TarError,
    EOFError,
    zlib.error,
    gzip.BadGzipFile,
    lzma.LZMAError,
    NotImplementedError,
    RuntimeError,  # zipfile: an encrypted entry
)


def _damaged(archive: Path, error: BaseException) -> UserError:
    return UserError(
        f"{archive.name} is damaged ({one_line(error)}); delete {archive} and download it again"
    )


def _safe_name(name: str, archive: Path) -> PurePosixPath | None:
    """The entry's path inside the target, or a UserError. Any ``..`` is refused, escaping or
    not: no real dataset archive has one, and a stricter rule is easier to trust."""
    text = name.replace("\\", "/")
    if text.startswith("/") or re.match(r"[A-Za-z]:", text):
        raise _refused(archive, name, "is an absolute path")
    parts = [piece for piece in text.split("/") if piece not in ("", ".")]
    if ".." in parts:
        raise _refused(archive, name, "climbs out with '..'")
    return PurePosixPath(*parts) if parts else None


def _refused(archive: Path, name: str, why: str) -> UserError:
    return UserError(
        f"{archive.name}: refused to unpack: entry {name!r} {why}; nothing was extracted"
    )


def _zip_plan(archive: Path, zf: zipfile.ZipFile) -> list[tuple[PurePosixPath, object]]:
    plan = []
    for info in zf.infolist():
        relative = _safe_name(info.filename, archive)
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            raise _refused(archive, info.filename, "is a symbolic link")
        if kind in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK):
            raise _refused(archive, info.filename, "is a device, fifo or socket")
        if relative is not None:
            plan.append((relative, None if info.is_dir() else info))
    return plan


def _tar_plan(archive: Path, tf: tarfile.TarFile) -> list[tuple[PurePosixPath, object]]:
    members = tf.getmembers()
    # tarfile takes a header cut short for the end of the archive, so a download truncated
    # at the wrong place would unpack "fine" minus its tail. Every tar writer ends with a
    # zero block; its absence is the tell.
    # Reading on to the end also makes gzip/bz2/xz check their own trailer (CRC and length).
    tf.fileobj.seek(tf.offset)
    if tf.fileobj.read(tarfile.BLOCKSIZE) != bytes(tarfile.BLOCKSIZE):
        raise tarfile.ReadError("no end-of-archive marker: truncated?")
    while tf.fileobj.read(_READ_CHUNK):
        pass
    plan = []
    for member in members:
        relative = _safe_name(member.name, archive)
        if member.issym() or member.islnk():
            raise _refused(archive, member.name, f"is a link to {member.linkname!r}")
        if member.ischr() or member.isblk() or member.isfifo():
            raise _refused(archive, member.name, "is a device or fifo")
        if not (member.isreg() or member.isdir()):
            raise _refused(archive, member.name, "is not a plain file or folder")
        if relative is not None:
            plan.append((relative, member if member.isreg() else None))
    return plan


def _write_plan(plan, staging: Path, open_entry) -> list[PurePosixPath]:
    files = []
    for relative, entry in plan:
        path = staging.joinpath(*relative.parts)
        if entry is None:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        # Reading each entry to its end is the integrity check: zipfile compares the CRC-32
        # there, tarfile raises on a truncated member.
        with open_entry(entry) as source, open(path, "wb") as out:
            shutil.copyfileobj(source, out, _READ_CHUNK)
        files.append(relative)
    return files


def _clean_stale(parent: Path, name: str) -> None:
    """Remove staging folders of extractions that were killed (their process is gone)."""
    if os.name != "posix":
        return
    for folder in parent.glob(f".{name}.extracting-*"):
        match = re.search(r"\.extracting-(\d+)-", folder.name)
        if not match:
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass


def _merge(source: Path, target: Path) -> None:
    """Move ``source`` into ``target``: whole folders by one rename each where ``target`` has
    none of that name yet, so each folder that appears is already complete."""
    if not target.exists():
        os.rename(source, target)
        return
    for entry in sorted(source.iterdir()):
        destination = target / entry.name
        if entry.is_dir() and destination.is_dir():
            _merge(entry, destination)
        elif destination.is_dir():
            raise UserError(f"{destination} is a folder, the archive has a file of that name")
        else:
            os.replace(entry, destination)


def _is_image(relative: PurePosixPath) -> bool:
    return relative.suffix.lower() in IMAGE_SUFFIXES and not relative.name.startswith(".")


def extract_archive(archive, target, *, file_count=None, count_under=None) -> list[Path]:
    """Unpack a zip or tar (plain, gz, bz2, xz) into ``target``; return the files written.

    Every entry is checked before anything is written: absolute paths, ``..``, links, devices
    and fifos are refused with the archive left untouched and nothing extracted. Entries go to
    a hidden staging folder (inside ``target`` if it exists, else beside it: the same file
    system, so the final move is a rename), the image count is checked there (``file_count``
    images under ``count_under``, a path relative to ``target``), and only then are they moved
    into place.
    """
    archive, target = Path(archive), Path(target)
    if not archive.is_file():
        raise UserError(f"{archive} does not exist")
    try:
        if zipfile.is_zipfile(archive):
            container = zipfile.ZipFile(archive)
            make_plan, open_entry = _zip_plan, container.open
        elif tarfile.is_tarfile(archive):
            container = tarfile.open(archive, "r:*")  # noqa: SIM115 (closed by `with` below)
            make_plan, open_entry = _tar_plan, container.extractfile
        else:
            raise UserError(
                f"{archive} is neither a zip nor a tar archive (damaged?); delete it and "
                "download it again"
            )
    except _DAMAGED as error:
        raise _damaged(archive, error) from None

    # Staging goes inside ``target`` when it exists, so the final renames never cross file
    # systems (a data dir is often a mount point, whose parent may not even be writable).
    home = target if target.is_dir() else target.parent
    with container:
        try:
            plan = make_plan(archive, container)
        except _DAMAGED as error:
            raise _damaged(archive, error) from None
        try:
            home.mkdir(parents=True, exist_ok=True)
            _clean_stale(home, target.name)
            staging = home / f".{target.name}.extracting-{os.getpid()}-{secrets.token_hex(4)}"
            staging.mkdir()
        except OSError as error:
            raise UserError(f"cannot write into {home}: {failure_reason(error, 0)}") from None
        try:
            try:
                files = _write_plan(plan, staging, open_entry)
            except _DAMAGED as error:
                raise _damaged(archive, error) from None
            except OSError as error:
                raise UserError(f"cannot write into {home}: {failure_reason(error, 0)}") from None
            if file_count is not None:
                under = PurePosixPath(count_under) if count_under is not None else None
                under = None if under == PurePosixPath(".") else under
                count = sum(
                    1
                    for relative in files
                    if _is_image(relative) and (under is None or relative.is_relative_to(under))
                )
                if count != file_count:
                    where = f" under {under}" if under else ""
                    raise UserError(
                        f"{archive.name} holds {count} images{where}, expected {file_count}; "
                        "delete it and download it again"
                    )
            _merge(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return [target.joinpath(*relative.parts) for relative in files]
