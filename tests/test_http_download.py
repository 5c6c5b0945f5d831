"""data/http_download.py against a real HTTP server on 127.0.0.1 (with Range support, see
conftest.py): resuming, verifying, and the one-line errors a user sees."""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

import pytest

from data.http_download import ATTEMPTS, download_file
from runtime.errors import UserError

PAYLOAD = os.urandom(300_000)


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
