"""app.py in a real browser: Debian's Chromium driven by Playwright against the served page.

The page is started as a user starts it (``python app.py``, its own process, a free loopback
port) with a ``TMPDIR`` of its own, so the tests can check that it leaves nothing behind.
``.ci/run`` installs Chromium where it is missing, so these tests run in CI; elsewhere they skip
without it. ``SRGAN_WEB_DEMO_SCREENSHOT=docs/web_demo.png`` also saves the README's screenshot.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import upscale
from data.images import decode_image

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WEIGHTS = REPO_ROOT / "weights"
# Just over the page's default limit of 4 megapixels (a flat PNG: a small upload).
BIG = (2000, 2001)
JOB_TIMEOUT_MS = 300_000  # a loaded 2-core CI machine, the model loaded on the first job

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt install chromium)"),
    pytest.mark.skipif(
        not any(WEIGHTS.glob("*.keras")), reason="no generators in weights/ to offer"
    ),
]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The served page: (url, its temporary folder, the process)."""
    scratch = tmp_path_factory.mktemp("app_tmp")
    port = free_port()
    log = open(scratch.parent / "app.log", "w")  # noqa: SIM115 -- closed at teardown
    process = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--precision", "float32"],
        cwd=REPO_ROOT,
        env={**os.environ, "TMPDIR": str(scratch)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 240
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log.close()
                pytest.fail("app.py did not serve:\n" + (scratch.parent / "app.log").read_text())
            time.sleep(1)
    yield url, scratch, process
    if process.poll() is None:
        process.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(app, browser):
    url, _, _ = app
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#upscale")
    yield page
    context.close()


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """A real photo (scikit-image's chelsea, a crop around her face), small enough to be quick."""
    from skimage import data

    path = tmp_path_factory.mktemp("photos") / "chelsea.png"
    Image.fromarray(data.chelsea()[20:140, 80:240]).save(path)
    return path


def upload(page, path):
    clear = page.locator("#photo button[aria-label='Clear']")
    if clear.count():
        clear.first.click()
    page.set_input_files("#photo input[type=file]", str(path))
    page.wait_for_selector(f"#photo [aria-label='{Path(path).name}']")


def upscale_and_download(page, path, into):
    upload(page, path)
    page.click("#upscale")
    page.wait_for_selector("#download", state="visible", timeout=JOB_TIMEOUT_MS)
    page.wait_for_selector("#slider img", timeout=JOB_TIMEOUT_MS)
    with page.expect_download() as download:
        page.click("#download")
    target = into / download.value.suggested_filename
    download.value.save_as(target)
    return target


def shows_error(page, text):
    page.get_by_text(text).first.wait_for(timeout=JOB_TIMEOUT_MS)
    return True


def test_a_photo_is_upscaled_as_upscale_py_does_with_a_slider_to_compare(page, photo, tmp_path):
    result = upscale_and_download(page, photo, tmp_path)
    assert result.name == "chelsea_x4.png"
    pixels, original = decode_image(result), decode_image(photo)
    assert pixels.shape == (4 * original.shape[0], 4 * original.shape[1], 3)
    model = page.locator("#model input:checked").get_attribute("value")
    expected = tmp_path / "cli.png"
    code = upscale.main(
        [
            str(photo),
            "-o",
            str(expected),
            "--weights",
            str(WEIGHTS / f"{model}.keras"),
            "--precision",
            "float32",
            "--no-progress",
        ]
    )
    assert code == 0
    np.testing.assert_array_equal(pixels, decode_image(expected))
    assert page.locator("#slider img").count() == 2  # before and after
    width, height = original.shape[1], original.shape[0]
    assert f"{width}x{height} -> {4 * width}x{4 * height}" in page.inner_text("#status")
    page.screenshot(path=tmp_path / "web_demo.png")
    wanted = os.environ.get("SRGAN_WEB_DEMO_SCREENSHOT")
    if wanted:
        page.screenshot(path=REPO_ROOT / wanted)


def test_a_text_file_gets_a_message_and_the_next_photo_works(page, photo, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo\n")
    upload(page, notes)
    page.click("#upscale")
    assert shows_error(page, "notes.txt: not an image file")
    assert upscale_and_download(page, photo, tmp_path).is_file()


def test_an_oversized_photo_is_refused_with_the_limit(page, tmp_path):
    big = tmp_path / "big.png"
    Image.fromarray(np.full((*BIG, 3), 128, np.uint8)).save(big)
    upload(page, big)
    page.click("#upscale")
    assert shows_error(page, f"big.png: {BIG[1]}x{BIG[0]} is {BIG[0] * BIG[1]:,} pixels")


def test_a_second_job_waits_in_the_queue_with_its_place_shown(app, browser, page, photo, tmp_path):
    upload(page, photo)
    page.check("#ensemble input")  # 8 passes: the first job runs long enough to queue behind
    other = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    other.goto(app[0])
    other.wait_for_selector("#upscale")
    upload(other, photo)
    page.click("#upscale")
    page.get_by_text("tiles").first.wait_for(timeout=JOB_TIMEOUT_MS)  # the first one runs
    other.click("#upscale")
    other.get_by_text("queue: 1/").first.wait_for(timeout=30_000)
    other.wait_for_selector("#download", state="visible", timeout=JOB_TIMEOUT_MS)
    page.wait_for_selector("#download", state="visible", timeout=JOB_TIMEOUT_MS)
    other.context.close()


def test_stopping_the_server_removes_everything_it_wrote(app, page, photo, tmp_path):
    # Last in this module: stops the server the others used.
    _, scratch, process = app
    upscale_and_download(page, photo, tmp_path)
    assert any(scratch.iterdir())  # the upload and the results were there while it served
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert list(scratch.iterdir()) == []
