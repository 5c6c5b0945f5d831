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

This module decides what a dataset needs and is the command line; ``data/http_download.py``
fetches and verifies one file, and ``data/archives.py`` unpacks one archive.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import urllib.parse
from pathlib import Path, PurePosixPath

from data.archives import extract_archive
from data.catalog import (
    CATALOG,
    SAMPLE,
    DatasetSpec,
    RemoteFile,
    describe_download,
    format_size,
    lookup,
)
from data.catalog import data_dir as resolve_data_dir
from data.http_download import download_file
from data.images import list_images
from data.reasons import failure_reason, one_line
from data.resolve import locate
from runtime.errors import UserError

MIRROR_ENV = "SRGAN_MIRROR"
ARCHIVES = "archives"


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
                raise UserError(f"cannot create {archives}: {failure_reason(error, 0)}") from None
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
        self.exit(2, f"error: {one_line(message)} (see --help)\n")


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
        print(f"error: {one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "error: interrupted; the partial download is kept, run the same command to resume",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    from runtime.cli import call_with_closed_stdout_tolerated

    sys.exit(call_with_closed_stdout_tolerated(main))
