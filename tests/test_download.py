"""data/download.py: fetching whole datasets from a real HTTP server on 127.0.0.1 (see
conftest.py), mirrors, and the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from data import catalog
from data.catalog import DatasetSpec, RemoteFile
from data.download import fetch, main, mirror_url
from runtime.errors import UserError
from tests.test_archives import GOOD, _tar, _zip
from tests.test_http_download import _closed_port, _md5, _sha256

REPO_ROOT = Path(__file__).resolve().parents[1]


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
