"""Fixtures shared by the test modules: where ../shared is, and what it holds.

Tests that need the real data or the VGG19 weights skip only when ../shared is absent; CI has it.
"""

import os
from pathlib import Path

# Before anything imports TensorFlow (see models/__init__.py for why).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

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
