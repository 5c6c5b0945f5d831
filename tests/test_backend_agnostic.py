"""models/ must run on any Keras backend: no TensorFlow, no Lambda, nothing of ours imported;
and the networks do train and run on JAX and PyTorch."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS = sorted((REPO_ROOT / "models").glob("*.py"))


def imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # "from data import conventions" imports data.conventions, not all of data.
            yield from (f"{node.module or ''}.{alias.name}" for alias in node.names)


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_models_import_only_keras_and_the_standard_library(path):
    for module in imported_modules(path):
        if module == "data.conventions":  # numpy only: the image conventions' one owner
            continue
        top = module.split(".")[0]
        assert top not in {"tensorflow", "tf", "torch", "jax", "data", "training", "runtime"}, (
            f"{path.name} imports {module}"
        )
    assert "Lambda(" not in path.read_text()


# Run with KERAS_BACKEND set, in a process of its own (Keras picks its backend once, at import).
# Tiny networks, one training step each, as training/loop.py calls them; the inference rewrites
# against the model they rewrite; and the shipped SRGAN, whose output the test compares with
# TensorFlow's.
ON_ANOTHER_BACKEND = """
import sys

import keras
import numpy as np

from models.discriminator import build_discriminator
from models.fused import fuse
from models.gan import build_gan, compile_discriminator, compile_generator, gan_inputs, gan_targets
from models.generator import build_generator
from models.layers import nearest_upsampling_as_shuffles  # also registers PixelShuffle

shipped, lr_file, out_file = sys.argv[1:]
print(keras.backend.backend())
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
lr = rng.uniform(-1, 1, (2, 8, 8, 3)).astype("float32")
hr = rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32")

generator = build_generator(blocks=1)
compile_generator(generator)
before = [w.copy() for w in generator.get_weights()]  # torch's may be views
assert np.isfinite(generator.train_on_batch(lr, hr))
assert any(not np.array_equal(a, b) for a, b in zip(before, generator.get_weights()))
sr = generator.predict_on_batch(lr)
assert sr.shape == (2, 32, 32, 3)
np.testing.assert_allclose(fuse(generator).predict_on_batch(lr), sr, atol=1e-4)
resize = build_generator(blocks=1, upsample="upsampling")
np.testing.assert_allclose(
    nearest_upsampling_as_shuffles(resize).predict_on_batch(lr),
    resize.predict_on_batch(lr),
    atol=1e-4,
)

labels = np.array([[1], [1], [0], [0]], "float32")
for adversarial in ("bce", "ragan"):
    discriminator = build_discriminator(hr_size=32, logits=adversarial == "ragan")
    compile_discriminator(discriminator, adversarial=adversarial)
    assert np.all(np.isfinite(discriminator.train_on_batch(np.concatenate([hr, sr]), labels)))
    gan = build_gan(
        generator,
        discriminator,
        adversarial=adversarial,
        consistency_weight=1.0,
        pixel_weight=1e-2,
        grid_weight=1.0,
    )
    frozen = [w.copy() for w in discriminator.get_weights()]
    losses = gan.train_on_batch(gan_inputs(gan, lr, hr), gan_targets(gan, hr, hr))
    assert np.all(np.isfinite(losses)), losses
    assert all(np.array_equal(a, b) for a, b in zip(frozen, discriminator.get_weights()))

model = keras.models.load_model(shipped, compile=False)
np.save(out_file, model.predict_on_batch(np.load(lr_file)))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_the_networks_train_and_the_shipped_srgan_runs_on_another_backend(backend, tmp_path):
    pytest.importorskip(backend)  # both are in requirements-dev.txt, so CI runs this
    import keras

    from inference.weights import DEFAULT_WEIGHTS, load_generator

    lr = np.random.default_rng(1).uniform(-1, 1, (1, 12, 16, 3)).astype("float32")
    np.save(tmp_path / "lr.npy", lr)
    shipped = DEFAULT_WEIGHTS["srgan"]
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(REPO_ROOT)}
    files = [str(shipped), str(tmp_path / "lr.npy"), str(tmp_path / "sr.npy")]
    result = subprocess.run(
        [sys.executable, "-c", ON_ANOTHER_BACKEND, *files],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[0] == backend
    assert keras.backend.backend() == "tensorflow"
    expected = load_generator(shipped).predict_on_batch(lr)
    np.testing.assert_allclose(np.load(tmp_path / "sr.npy"), expected, atol=1e-4)
