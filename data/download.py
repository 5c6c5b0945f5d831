"""Fetch, resume, verify and safely unpack the datasets of ``data/catalog.py``.

    python -m data.download DIV2K --data-dir DIR        # several names allowed: DIV2K Set5 ...
    python -m data.download --list                      # what there is, how big, what is here

Downloads are multi-gigabyte and the servers are slow and far away, so an interrupted download
is resumed (HTTP Range) rather than restarted, every archive is checked against its published
size and checksums before it is unpacked, and unpacking refuses any entry that could write
outside the data dir. An archive is unpacked beside its destination and renamed into place, so
a folder that exists is complete.

Mirrors: ``--mirror URL`` or the environment variable ``SRGAN_MIRROR`` replaces the scheme and
host of every catalog URL (``SRGAN_MIRROR=http://mirror.lan/sr`` fetches
``http://mirror.lan/sr/cvl/DIV2K/DIV2K_train_HR.zip``). The checksums stay the same, so a
mirror cannot hand out different files. A file downloaded by hand into ``DIR/archives/`` is
checked and used as if it had been downloaded.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import http.client
import lzma
import os
import re
import secrets
import shutil
import socket
import stat
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from data.catalog import (
    CATALOG,
    SAMPLE,
    DatasetSpec,
    RemoteFile,
    describe_download,
    format_size,
    locate,
    lookup,
)
from data.catalog import data_dir as resolve_data_dir
from data.images import IMAGE_SUFFIXES, list_images
from runtime.errors import UserError

MIRROR_ENV = "SRGAN_MIRROR"
ARCHIVES = "archives"
# A connection that drops mid-file is resumed this many times in one call before giving up.
ATTEMPTS = 4
_USER_AGENT = "srgan-keras-download/1.0 (+python urllib)"
_HASH_CHUNK = 1 << 20


def _one_line(text) -> str:
    return " ".join(str(text).split())


# --- URLs -----------------------------------------------------------------------------------


def mirror_url(url: str, mirror: str | None = None) -> str:
    """``url`` with its scheme and host (and a path prefix, if any) taken from the mirror."""
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV, "")
    if not mirror:
        return url
    base = urllib.parse.urlsplit(mirror)
    if base.scheme not in ("http", "https") or not base.netloc:
        raise UserError(f"mirror {mirror!r} is not an http(s) URL like http://host/prefix")
    original = urllib.parse.urlsplit(url)
    path = base.path.rstrip("/") + original.path
    return urllib.parse.urlunsplit((base.scheme, base.netloc, path, original.query, ""))


def _reason(error: BaseException, timeout: float) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        if isinstance(error.reason, BaseException):
            return _reason(error.reason, timeout)
        return _one_line(error.reason)
    if isinstance(error, socket.gaierror):
        return f"host name not found ({_one_line(error.strerror or error)})"
    if isinstance(error, TimeoutError | socket.timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, OSError) and error.strerror:
        return _one_line(error.strerror)
    return _one_line(error) or type(error).__name__


def _unreachable(url: str, folder: Path, error: BaseException, timeout: float) -> UserError:
    host = urllib.parse.urlsplit(url).hostname or url
    return UserError(
        f"cannot reach {host}: {_reason(error, timeout)}; "
        f"check your connection or download {url} by hand into {folder}"
    )


# --- download -------------------------------------------------------------------------------


def _progress_bar(total, initial, desc, enabled):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        dynamic_ncols=True,
        file=sys.stderr,
    )


def _digests(path: Path, want_sha256: bool, want_md5: bool, progress: bool) -> dict[str, str]:
    hashes = {}
    if want_sha256:
        hashes["sha256"] = hashlib.sha256()
    if want_md5:
        hashes["md5"] = hashlib.md5(usedforsecurity=False)
    size = path.stat().st_size
    # Hashing gigabytes takes a while: show it, or it looks like a hang after 100%.
    bar = _progress_bar(size, 0, f"checking {path.name}", progress and size > 64 << 20)
    with open(path, "rb") as stream:
        while chunk := stream.read(_HASH_CHUNK):
            for digest in hashes.values():
                digest.update(chunk)
            if bar is not None:
                bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return {name: digest.hexdigest() for name, digest in hashes.items()}


def verify_file(path, *, size=None, sha256=None, md5=None, progress=False) -> str | None:
    """What is wrong with a file, or None: the size first (cheap), then the checksums."""
    path = Path(path)
    actual = path.stat().st_size
    if size is not None and actual != size:
        return f"size mismatch: expected {size} bytes, got {actual}"
    if sha256 or md5:
        got = _digests(path, bool(sha256), bool(md5), progress)
        for name, expected in (("sha256", sha256), ("md5", md5)):
            if expected and got[name] != expected.lower():
                return f"{name} mismatch: expected {expected.lower()}, got {got[name]}"
    return None


def _content_range(header: str | None) -> tuple[int | None, int | None]:
    """(first byte, total) from ``bytes 100-199/200`` or ``bytes */200``."""
    match = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", header or "")
    if not match:
        return None, None
    start, total = match.groups()
    return (int(start) if start else None), (int(total) if total and total != "*" else None)


def _fetch_into(url, part: Path, *, size, progress, timeout, chunk_size) -> bool:
    """One attempt: append to ``part`` from where it stops. True when the whole file is there.

    A server that ignores Range answers 200 with the whole file: ``part`` is then rewritten
    from the start, since appending would corrupt it.
    """
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    if size is not None and offset == size:
        return True
    headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            # Nothing left past our offset: either the part is already whole, or it is longer
            # than the file (a different version); the checks that follow decide.
            _, total = _content_range(error.headers.get("Content-Range"))
            error.close()
            if total is None or total == offset:
                return True
            part.unlink()
            return False
        raise _unreachable(url, part.parent, error, timeout) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
        raise _unreachable(url, part.parent, error, timeout) from None

    with response:
        start, range_total = _content_range(response.headers.get("Content-Range"))
        if response.status == 206 and (not offset or start != offset):
            # A range we did not ask for: appending it would corrupt the file. Start over.
            part.unlink(missing_ok=True)
            return False
        if offset and response.status == 206:
            mode = "ab"
        else:
            offset, mode = 0, "wb"
        length = response.headers.get("Content-Length")
        total = range_total or (offset + int(length) if length and length.isdigit() else None)
        if size is not None and total is not None and total != size:
            raise UserError(
                f"{url}: the server offers {total} bytes, the catalog expects {size}; "
                "the file changed upstream or the mirror serves something else"
            )
        total = total if total is not None else size
        bar = _progress_bar(total, offset, part.name.removesuffix(".part"), progress)
        interrupted = False
        try:
            with open(part, mode) as out:
                while True:
                    try:
                        chunk = response.read(chunk_size)
                    except (OSError, http.client.HTTPException):
                        interrupted = True  # reset or timeout mid-file: resume next attempt
                        break
                    if not chunk:
                        break
                    out.write(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
        except OSError as error:
            raise UserError(f"cannot write {part}: {_reason(error, timeout)}") from None
        finally:
            if bar is not None:
                bar.close()
    got = part.stat().st_size
    if interrupted:
        return False
    # http.client returns a short body silently when the server closes early; count it.
    return total is None or got == total


def download_file(
    url,
    dest,
    *,
    size=None,
    sha256=None,
    md5=None,
    progress=True,
    timeout=30,
    chunk_size=1 << 20,
) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest.part`` and checking the result.

    ``dest`` only ever appears complete and verified (it is renamed from ``.part``), so an
    existing ``dest`` that passes the checks is kept as it is. A file that fails them is
    deleted before the error is raised: resuming onto a corrupt prefix would fail forever.
    A file with no published size or checksum is trusted once complete; unpacking then checks
    its integrity.
    """
    dest = Path(dest)
    if dest.is_file():
        if verify_file(dest, size=size, sha256=sha256, md5=md5, progress=progress) is None:
            return dest
        dest.unlink()
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create {dest.parent}: {_reason(error, timeout)}") from None
    part = dest.with_name(dest.name + ".part")
    for _ in range(ATTEMPTS):
        if _fetch_into(
            url, part, size=size, progress=progress, timeout=timeout, chunk_size=chunk_size
        ):
            break
    else:
        have = part.stat().st_size if part.exists() else 0
        raise UserError(
            f"the download of {url} kept breaking off ({have} bytes so far, kept in {part}); "
            "run the same command again to resume"
        )
    problem = verify_file(part, size=size, sha256=sha256, md5=md5, progress=progress)
    if problem is not None:
        part.unlink()
        raise UserError(
            f"{dest.name}: {problem}; the bad file was deleted, run again to download it afresh"
        )
    os.replace(part, dest)
    return dest


# --- extraction -----------------------------------------------------------------------------

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
        f"{archive.name} is damaged ({_one_line(error)}); delete {archive} and download it again"
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
    while tf.fileobj.read(_HASH_CHUNK):
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
            shutil.copyfileobj(source, out, _HASH_CHUNK)
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
            raise UserError(f"cannot write into {home}: {_reason(error, 0)}") from None
        try:
            try:
                files = _write_plan(plan, staging, open_entry)
            except _DAMAGED as error:
                raise _damaged(archive, error) from None
            except OSError as error:
                raise UserError(f"cannot write into {home}: {_reason(error, 0)}") from None
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


# --- datasets -------------------------------------------------------------------------------


def _spec(name) -> DatasetSpec:
    if isinstance(name, DatasetSpec):
        return name
    spec = lookup(name)
    if spec is None and (any(sep in str(name) for sep in "/\\") or Path(name).is_dir()):
        raise UserError(
            f"{name} is a folder, not a catalog dataset: there is nothing to download for it "
            f"(catalog: {', '.join(CATALOG)})"
        )
    if spec is None:
        raise UserError(
            f"unknown dataset {name!r}: use one of {', '.join(CATALOG)} "
            f"({SAMPLE} is built in and needs no download)"
        )
    return spec


def _specs_with_files(spec: DatasetSpec) -> list[DatasetSpec]:
    specs = []
    for part in spec.parts:
        specs += _specs_with_files(_spec(part))
    return [*specs, spec]


def _installed(spec: DatasetSpec, root: Path, remote: RemoteFile) -> bool:
    if remote.extracts_to is None:
        return False
    folder = locate(spec, root, remote.extracts_to)
    if folder is None:
        return False
    count = len(list_images(folder))
    return count == remote.file_count if remote.file_count is not None else count > 0


def _check_space(root: Path, remote: RemoteFile, archive: Path) -> None:
    """Fail before a download that cannot fit: the archive plus its unpacked copy (PNGs do not
    compress, so about twice the archive)."""
    if remote.size is None:
        return
    part = archive.with_name(archive.name + ".part")
    have = archive.stat().st_size if archive.exists() else 0
    have = max(have, part.stat().st_size if part.exists() else 0)
    needed = remote.size - have + remote.size
    free = shutil.disk_usage(root).free
    if free < needed:
        raise UserError(
            f"{root} has {format_size(free)} free, {remote.filename} needs about "
            f"{format_size(needed)} (download + unpacked); free some space or use --data-dir"
        )


def _say(message: str, enabled: bool) -> None:
    if enabled:
        print(message, file=sys.stderr, flush=True)


def fetch(
    name, data_dir=None, *, progress=True, keep_archives=False, mirror=None, timeout=30
) -> Path:
    """Download and unpack every archive a dataset needs into the data dir; return the dir.

    ``name`` is a catalog name or a ``DatasetSpec`` (a combined set fetches its parts);
    ``sample`` is built in and fetches nothing, so callers need not tell the cases apart.
    Archives whose folders are already there and complete are skipped without touching the
    network. An archive is deleted once unpacked unless ``keep_archives``; one that fails to
    unpack is kept, so only the unpacking is repeated.
    """
    root = resolve_data_dir(data_dir)
    if not isinstance(name, DatasetSpec) and str(name).strip().lower() == SAMPLE:
        return root  # built into scikit-image: nothing to download
    spec = _spec(name)
    archives = root / ARCHIVES
    done = set()
    for owner in _specs_with_files(spec):
        for remote in owner.files:
            key = (remote.url, remote.extracts_to)
            if key in done:
                continue
            done.add(key)
            if _installed(owner, root, remote):
                _say(f"{owner.name}: {remote.extracts_to} is already in {root}", progress)
                continue
            try:
                archives.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise UserError(f"cannot create {archives}: {_reason(error, 0)}") from None
            archive = archives / remote.filename
            _check_space(root, remote, archive)
            url = mirror_url(remote.url, mirror)
            _say(f"{owner.name}: {remote.filename} from {url}", progress)
            download_file(
                url,
                archive,
                size=remote.size,
                sha256=remote.sha256,
                md5=remote.md5,
                progress=progress,
                timeout=timeout,
            )
            into = Path(remote.extract_into)
            under = None
            if remote.extracts_to is not None:
                under = PurePosixPath(remote.extracts_to)
                if remote.extract_into not in ("", "."):
                    under = under.relative_to(remote.extract_into)
            _say(f"{owner.name}: unpacking {remote.filename} into {root / into}", progress)
            extract_archive(archive, root / into, file_count=remote.file_count, count_under=under)
            if not _installed(owner, root, remote):
                raise UserError(
                    f"{remote.filename} unpacked, but {root / (remote.extracts_to or '')} is "
                    "not complete; the archive's layout is not the one the catalog expects"
                )
            if not keep_archives:
                archive.unlink(missing_ok=True)
    if archives.is_dir() and not any(archives.iterdir()):
        with contextlib.suppress(OSError):  # another download may have just started
            archives.rmdir()
    return root


# --- command line ---------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"error: {_one_line(message)} (see --help)\n")


def _status(spec: DatasetSpec, root: Path) -> str:
    remotes = [(owner, remote) for owner in _specs_with_files(spec) for remote in owner.files]
    if not remotes:
        return "built in"
    ready = sum(_installed(owner, root, remote) for owner, remote in remotes)
    if ready == len(remotes):
        return "downloaded"
    return "partly downloaded" if ready else "not downloaded"


def catalog_table(root: Path) -> str:
    rows = [(SAMPLE, "built in", "scikit-image's bundled photos (7 train, 2 validation)", "")]
    for spec in CATALOG.values():
        rows.append((spec.name, _status(spec, root), spec.description, describe_download(spec)))
    width = max(len(row[0]) for row in rows)
    state = max(len(row[1]) for row in rows)
    lines = [f"datasets in {root}:"]
    for name, status, description, size in rows:
        lines.append(f"  {name:<{width}}  {status:<{state}}  {description}")
        if size:
            lines.append(f"  {'':<{width}}  {'':<{state}}  ({size})")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = _Parser(
        prog="python -m data.download",
        description="Download, verify and unpack SR datasets (resumable).",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="datasets, e.g. DIV2K Set5")
    parser.add_argument(
        "--data-dir", help="where datasets live (default: $SRGAN_DATA_DIR or ./datasets)"
    )
    parser.add_argument("--list", action="store_true", help="show the catalog and exit")
    parser.add_argument(
        "--keep-archives", action="store_true", help="keep the zip/tar files after unpacking"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument(
        "--mirror",
        help=f"http(s)://host[/prefix] to use instead of the official servers (also ${MIRROR_ENV})",
    )
    parser.add_argument("--timeout", type=float, default=30, help="seconds (default 30)")
    args = parser.parse_args(argv)
    root = resolve_data_dir(args.data_dir)
    try:
        if args.list:
            print(catalog_table(root))
            return 0
        if not args.names:
            raise UserError("name at least one dataset to download (see --list)")
        # Every name is checked before anything is downloaded.
        wanted = [None if n.strip().lower() == SAMPLE else _spec(n) for n in args.names]
        for name, spec in zip(args.names, wanted, strict=True):
            if spec is None:
                print(f"{name}: built in (scikit-image's photos), nothing to download")
                continue
            fetch(
                spec,
                root,
                progress=not args.no_progress,
                keep_archives=args.keep_archives,
                mirror=args.mirror,
                timeout=args.timeout,
            )
            print(f"{spec.name}: ready in {root}")
        return 0
    except UserError as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "error: interrupted; the partial download is kept, run the same command to resume",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
