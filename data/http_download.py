"""Download one file over HTTP(S): resume an interrupted transfer, then verify the result.

Dataset archives are gigabytes on slow, distant servers, so an interrupted download is resumed
(HTTP Range) from its ``.part`` file rather than restarted, and the result is checked against
its published size and checksums before it is renamed to its final name: a file there is
always complete and verified. Nothing here knows about datasets; ``data/download.py`` decides
what to fetch and where.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from data.reasons import failure_reason
from runtime.errors import UserError

# A connection that drops mid-file is resumed this many times in one call before giving up.
ATTEMPTS = 4
_USER_AGENT = "srgan-keras-download/1.0 (+python urllib)"
_HASH_CHUNK = 1 << 20


def _unreachable(url: str, folder: Path, error: BaseException, timeout: float) -> UserError:
    host = urllib.parse.urlsplit(url).hostname or url
    return UserError(
        f"cannot reach {host}: {failure_reason(error, timeout)}; "
        f"check your connection or download {url} by hand into {folder}"
    )


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
            raise UserError(f"cannot write {part}: {failure_reason(error, timeout)}") from None
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
        raise UserError(f"cannot create {dest.parent}: {failure_reason(error, timeout)}") from None
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
