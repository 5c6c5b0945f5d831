"""Fixtures shared by the test modules: where ../shared is, and what it holds; a loopback HTTP
server for the download tests (test_http_download.py and test_download.py both fetch from it);
the AlexNet LPIPS weights and an empty LPIPS cache, which the test_lpips*.py modules share.

Tests that need the real data or the VGG19 weights skip only when ../shared is absent; CI has it.
"""

import os
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# Before anything imports TensorFlow, as the tools do (runtime/cli.py says why).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

# The LPIPS tests' shared helpers assert too: rewritten, their failures explain themselves.
pytest.register_assert_rewrite("lpips_support")

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir():
    return Path(os.environ.get("SRGAN_SHARED_DIR", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_datasets():
    path = shared_dir() / "datasets"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="module")
def benchmark(shared_datasets):
    """Bicubic on Set5 and Set14: numpy only, about a second."""
    from evaluation.benchmark import bicubic_method, evaluate, resolve_datasets

    datasets = resolve_datasets(["Set5", "Set14"], shared_datasets)
    return evaluate([bicubic_method()], datasets, progress=False)


@pytest.fixture(scope="session")
def vgg_weights():
    path = shared_dir() / "weights" / "vgg19" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="session")
def alex_weights():
    from lpips_support import _weights

    return _weights("alex")


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    from models.lpips_weights import WEIGHTS_ENV

    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return tmp_path / "keras_home" / "models" / "lpips"


@pytest.fixture(scope="module")
def tiny():
    """An untrained 1-block generator (seed 1): tiling and loading tests share it."""
    import keras

    from models.generator import build_generator

    keras.utils.set_random_seed(1)
    return build_generator(blocks=1)


@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory):
    """Six real photos (crops of scikit-image's bundled colour photos), small enough for tests."""
    import skimage
    from PIL import Image

    folder = tmp_path_factory.mktemp("photos")
    data = Path(skimage.__file__).parent / "data"
    names = [
        "astronaut.png",
        "coffee.png",
        "chelsea.png",
        "rocket.jpg",
        "motorcycle_left.png",
        "hubble_deep_field.jpg",
    ]
    for index, name in enumerate(names):
        with Image.open(data / name) as image:
            image = image.convert("RGB")
            left, top = 40 * index % 120, 30
            image.crop((left, top, left + 96, top + 80)).save(folder / f"photo{index}.png")
    return folder


@pytest.fixture(scope="session")
def runs(photo_folder, tmp_path_factory):
    """One tiny SRResNet run per upsampler: 2 epochs of 2 steps, a checkpoint and validation
    each. The pretraining stage: what is read from a run is the same for both stages."""
    from training.config import resolve_config
    from training.loop import train

    root = tmp_path_factory.mktemp("runs")
    made = {}
    for upsample in ("pixelshuffle", "upsampling"):
        config = resolve_config(
            "paper",
            "pretrain",
            {
                "dataset": str(photo_folder),
                "data_dir": str(root / "data"),
                "upsample": upsample,
                "blocks": 1,
                "hr_size": 32,
                "batch_size": 2,
                "epochs": 2,
                "steps_per_epoch": 2,
                "content_loss": "mse",
                "validation_images": 2,
                "validation_crop": 48,
                "checkpoint_every": 1,
            },
        )
        made[upsample] = train(config, run_dir=root / upsample, progress=False).run_dir
    return made


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


@pytest.fixture
def mount(tmp_path):
    """mount(options) -> a fresh tmpfs folder mounted with them (a real full disk or a real
    read-only file system); skipped where this process may not mount."""
    mounted = []

    def make(options):
        target = tmp_path / f"mount{len(mounted)}"
        target.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(target)
        return target

    yield make
    for target in mounted:
        subprocess.run(["umount", str(target)], check=False)
