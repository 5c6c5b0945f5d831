"""data/download.py against a real HTTP server on 127.0.0.1 (with Range support), and real
zip/tar archives built here, hostile ones included."""

from __future__ import annotations

import hashlib
import io
import os
import re
import socket
import stat
import subprocess
import sys
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from data import catalog
from data.catalog import DatasetSpec, RemoteFile
from data.download import (
    ATTEMPTS,
    download_file,
    extract_archive,
    fetch,
    main,
    mirror_url,
)
from runtime.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = os.urandom(300_000)


# --- a loopback server ---------------------------------------------------------------------


class _State:
    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[dict] = []
        self.ignore_range = False
        self.cuts: list[int] = []  # per request: close the connection after this many bytes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        state = self.server.state
        state.requests.append({"path": self.path, "range": self.headers.get("Range")})
        body = state.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start, status = 0, 200
        wanted = self.headers.get("Range")
        if wanted and not state.ignore_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", wanted).group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        chunk = body[start:]
        self.send_response(status)
        self.send_header("Content-Length", str(len(chunk)))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        if state.cuts:
            # Promise the whole length, send part of it, hang up: a dropped connection.
            self.wfile.write(chunk[: state.cuts.pop(0)])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(chunk)


@pytest.fixture(scope="module")
def _running_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.state = _State()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def server(_running_server):
    _running_server.state = _State()
    _running_server.url = f"http://127.0.0.1:{_running_server.server_address[1]}"
    return _running_server


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# --- download_file -------------------------------------------------------------------------


def test_download_is_byte_identical_verified_and_not_repeated(server, tmp_path):
    server.state.files["/data/file.bin"] = PAYLOAD
    dest = tmp_path / "file.bin"
    result = download_file(
        server.url + "/data/file.bin",
        dest,
        size=len(PAYLOAD),
        sha256=_sha256(PAYLOAD),
        md5=_md5(PAYLOAD),
        progress=False,
        chunk_size=16 << 10,
    )
    assert result == dest
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "file.bin.part").exists()
    assert [r["range"] for r in server.state.requests] == [None]
    # Already there and verified: no second request.
    download_file(server.url + "/data/file.bin", dest, sha256=_sha256(PAYLOAD), progress=False)
    assert len(server.state.requests) == 1


def test_cut_off_download_resumes_with_range(server, tmp_path):
    server.state.files["/f.bin"] = PAYLOAD
    server.state.cuts = [100_000]
    dest = download_file(
        server.url + "/f.bin",
        tmp_path / "f.bin",
        size=len(PAYLOAD),
        sha256=_sha256(PAYLOAD),
        progress=False,
        chunk_size=8 << 10,
    )
    assert dest.read_bytes() == PAYLOAD
    assert [r["range"] for r in server.state.requests] == [None, "bytes=100000-"]


def test_leftover_part_file_is_resumed(server, tmp_path):
    server.state.files["/f.bin"] = PAYLOAD
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:123_456])
    dest = download_file(
        server.url + "/f.bin", tmp_path / "f.bin", md5=_md5(PAYLOAD), progress=False
    )
    assert dest.read_bytes() == PAYLOAD
    assert [r["range"] for r in server.state.requests] == ["bytes=123456-"]


def test_server_that_ignores_range_restarts_from_zero(server, tmp_path):
    server.state.files["/f.bin"] = PAYLOAD
    server.state.ignore_range = True
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:50_000])
    dest = download_file(
        server.url + "/f.bin", tmp_path / "f.bin", sha256=_sha256(PAYLOAD), progress=False
    )
    assert dest.read_bytes() == PAYLOAD  # not PAYLOAD[:50_000] + PAYLOAD
    assert [r["range"] for r in server.state.requests] == ["bytes=50000-"]


def test_complete_part_file_answered_416_is_kept(server, tmp_path):
    server.state.files["/f.bin"] = PAYLOAD
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD)
    dest = download_file(
        server.url + "/f.bin", tmp_path / "f.bin", sha256=_sha256(PAYLOAD), progress=False
    )
    assert dest.read_bytes() == PAYLOAD
    assert [r["range"] for r in server.state.requests] == [f"bytes={len(PAYLOAD)}-"]


def test_repeated_cuts_keep_the_part_and_a_later_run_resumes(server, tmp_path):
    server.state.files["/f.bin"] = PAYLOAD
    server.state.cuts = [10_000] * ATTEMPTS
    with pytest.raises(UserError, match=r"kept breaking off.*run the same command again"):
        download_file(server.url + "/f.bin", tmp_path / "f.bin", progress=False)
    assert (tmp_path / "f.bin.part").stat().st_size == 10_000 * ATTEMPTS
    dest = download_file(
        server.url + "/f.bin", tmp_path / "f.bin", sha256=_sha256(PAYLOAD), progress=False
    )
    assert dest.read_bytes() == PAYLOAD
    assert server.state.requests[-1]["range"] == f"bytes={10_000 * ATTEMPTS}-"


def test_checksum_mismatch_deletes_the_file_and_says_which(server, tmp_path):
    server.state.files["/f.bin"] = PAYLOAD
    wrong = "0" * 64
    with pytest.raises(UserError) as caught:
        download_file(server.url + "/f.bin", tmp_path / "f.bin", sha256=wrong, progress=False)
    message = str(caught.value)
    assert "f.bin" in message and "sha256 mismatch" in message
    assert wrong in message and _sha256(PAYLOAD) in message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_existing_corrupt_file_is_downloaded_again(server, tmp_path):
    server.state.files["/f.bin"] = PAYLOAD
    dest = tmp_path / "f.bin"
    dest.write_bytes(b"not it")
    download_file(server.url + "/f.bin", dest, md5=_md5(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_size_disagreeing_with_the_server_fails_before_downloading(server, tmp_path):
    server.state.files["/f.bin"] = PAYLOAD
    with pytest.raises(UserError, match=f"server offers {len(PAYLOAD)} bytes.*expects 5"):
        download_file(server.url + "/f.bin", tmp_path / "f.bin", size=5, progress=False)
    assert not (tmp_path / "f.bin").exists()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _assert_unreachable(message: str, host: str, url: str, folder: Path):
    assert "\n" not in message
    assert message.startswith(f"cannot reach {host}: ")
    assert f"check your connection or download {url} by hand into {folder}" in message


def test_connection_refused_is_one_clear_line(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/x.zip"
    with pytest.raises(UserError) as caught:
        download_file(url, tmp_path / "x.zip", progress=False)
    _assert_unreachable(str(caught.value), "127.0.0.1", url, tmp_path)
    assert "connection refused" in str(caught.value)


def test_unresolvable_host_is_one_clear_line(tmp_path):
    url = "http://nonexistent.invalid/x.zip"
    with pytest.raises(UserError) as caught:
        download_file(url, tmp_path / "x.zip", progress=False, timeout=5)
    _assert_unreachable(str(caught.value), "nonexistent.invalid", url, tmp_path)


def test_http_error_and_silent_server_are_one_clear_line(server, tmp_path):
    url = server.url + "/missing.zip"
    with pytest.raises(UserError, match="HTTP 404") as caught:
        download_file(url, tmp_path / "m.zip", progress=False)
    _assert_unreachable(str(caught.value), "127.0.0.1", url, tmp_path)
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/x.zip"
        with pytest.raises(UserError, match=r"no answer within 0\.3 s") as caught:
            download_file(url, tmp_path / "x.zip", progress=False, timeout=0.3)
    _assert_unreachable(str(caught.value), "127.0.0.1", url, tmp_path)


def test_mirror_replaces_scheme_and_host(monkeypatch):
    url = catalog.CATALOG["DIV2K"].files[0].url
    assert mirror_url(url, "https://mirror.lan/sr/") == (
        "https://mirror.lan/sr/cvl/DIV2K/DIV2K_train_HR.zip"
    )
    monkeypatch.setenv("SRGAN_MIRROR", "http://127.0.0.1:9")
    assert mirror_url(url) == "http://127.0.0.1:9/cvl/DIV2K/DIV2K_train_HR.zip"
    monkeypatch.delenv("SRGAN_MIRROR")
    assert mirror_url(url) == url
    with pytest.raises(UserError, match="not an http"):
        mirror_url(url, "ftp://x")


# --- archives ------------------------------------------------------------------------------


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


# --- fetch ---------------------------------------------------------------------------------


def _tiny_spec(server, payload: bytes, filename: str = "tiny.zip") -> DatasetSpec:
    server.state.files[f"/sr/{filename}"] = payload
    return DatasetSpec(
        name="Tiny",
        description="three small images",
        files=(
            RemoteFile(
                url=f"{server.url}/sr/{filename}",
                filename=filename,
                size=len(payload),
                sha256=_sha256(payload),
                md5=_md5(payload),
                extracts_to="Tiny/Tiny_HR",
                file_count=3,
            ),
        ),
        train_hr="Tiny/Tiny_HR",
        train_count=3,
    )


def test_fetch_end_to_end_then_skips(server, tmp_path):
    spec = _tiny_spec(server, _zip(tmp_path / "tiny.zip", GOOD).read_bytes())
    root = tmp_path / "data"
    assert fetch(spec, root, progress=False) == root
    for entry, data in GOOD.items():
        assert (root / entry).read_bytes() == data
    assert not (root / "archives").exists()  # the archive goes once unpacked
    requests = len(server.state.requests)
    fetch(spec, root, progress=False)
    assert len(server.state.requests) == requests  # already there: no network at all


def test_fetch_keep_archives_and_resume_after_cut(server, tmp_path):
    payload = _tar(tmp_path / "tiny.tar", GOOD, "w:gz").read_bytes()
    spec = _tiny_spec(server, payload, "tiny.tar.gz")
    server.state.cuts = [len(payload) // 3]
    root = tmp_path / "data"
    fetch(spec, root, progress=False, keep_archives=True)
    assert (root / "archives" / "tiny.tar.gz").read_bytes() == payload
    assert server.state.requests[-1]["range"] == f"bytes={len(payload) // 3}-"
    assert sorted(p.name for p in (root / "Tiny" / "Tiny_HR").iterdir()) == [
        "a.png",
        "b.png",
        "c.png",
    ]


def test_fetch_of_sample_or_a_folder_downloads_nothing(tmp_path):
    assert fetch("Sample", tmp_path / "data", progress=False) == tmp_path / "data"
    assert not (tmp_path / "data").exists()
    with pytest.raises(UserError, match="is a folder, not a catalog dataset"):
        fetch(str(tmp_path), tmp_path / "data", progress=False)


def test_fetch_of_a_catalog_set_through_a_mirror_checks_the_published_md5(
    server, tmp_path, monkeypatch
):
    # Not the real benchmark.tar: the catalog's published MD5 must reject it.
    server.state.files["/research/EDSR/benchmark.tar"] = _tar(tmp_path / "b.tar", GOOD).read_bytes()
    monkeypatch.setenv("SRGAN_MIRROR", server.url)
    with pytest.raises(UserError, match=r"benchmark\.tar: md5 mismatch: expected 4ace41d3"):
        fetch("set5", tmp_path / "data", progress=False)
    assert server.state.requests[0]["path"] == "/research/EDSR/benchmark.tar"
    assert not list((tmp_path / "data" / "archives").iterdir())


# --- command line --------------------------------------------------------------------------


def _cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "data.download", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_cli_list_and_unknown_name(tmp_path):
    listed = _cli("--list", "--data-dir", str(tmp_path))
    assert listed.returncode == 0, listed.stderr
    for name in ("sample", "DIV2K", "Flickr2K", "DF2K", "Set5", "Set14", "BSD100", "Urban100"):
        assert name in listed.stdout
    assert "4.3 GB" in listed.stdout
    unknown = _cli("Nope", "--data-dir", str(tmp_path))
    assert unknown.returncode == 2
    assert unknown.stderr.count("\n") == 1
    assert unknown.stderr.startswith("error: unknown dataset 'Nope'")
    assert "DIV2K" in unknown.stderr


def test_cli_reports_a_bad_download_in_one_line(server, tmp_path, capsys):
    server.state.files["/research/EDSR/benchmark.tar"] = b"not a tar"
    code = main(["SET14", "--data-dir", str(tmp_path), "--no-progress", "--mirror", server.url])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: benchmark.tar: md5 mismatch") and err.count("\n") == 1
    closed = f"http://127.0.0.1:{_closed_port()}"
    code = main(["Set5", "--data-dir", str(tmp_path), "--no-progress", "--mirror", closed])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot reach 127.0.0.1: connection refused")
