"""Network interpolation between a PSNR and a GAN generator (inference/interpolation.py)."""

import keras
import numpy as np
import pytest

from inference import interpolation
from inference.weights import load_generator
from models.generator import build_generator
from runtime.errors import UserError


@pytest.fixture(scope="module")
def pair():
    """Two 1-block generators with different random weights (stand-ins for SRResNet/SRGAN)."""
    keras.utils.set_random_seed(3)
    psnr = build_generator(blocks=1)
    keras.utils.set_random_seed(4)
    gan = build_generator(blocks=1)
    return psnr, gan


def lr_batch():
    return np.random.default_rng(0).uniform(0, 1, (1, 8, 8, 3)).astype("float32")


def test_ends_are_the_two_models(pair):
    psnr, gan = pair
    image = lr_batch()
    for alpha, model in ((0.0, psnr), (1.0, gan)):
        blended = interpolation.interpolate_generators(psnr, gan, alpha)
        for got, want in zip(blended.get_weights(), model.get_weights(), strict=True):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-7)
        np.testing.assert_allclose(
            blended.predict_on_batch(image), model.predict_on_batch(image), atol=1e-5
        )


def test_every_weight_is_the_linear_blend(pair):
    psnr, gan = pair
    blended = interpolation.interpolate_generators(psnr, gan, 0.25)
    weights = list(zip(blended.get_weights(), psnr.get_weights(), gan.get_weights(), strict=True))
    assert len(weights) == len(psnr.weights)
    moved = 0
    for got, a, b in weights:
        np.testing.assert_allclose(got, 0.75 * a + 0.25 * b, rtol=1e-6, atol=1e-7)
        moved += not np.array_equal(a, b)
    assert moved > 0  # the fixture's models really differ, so the blend is a real test
    # The blend is a new model: the inputs keep their weights.
    assert not np.array_equal(blended.get_weights()[0], psnr.get_weights()[0])
    assert blended is not psnr


def test_refuses_other_architectures(pair):
    psnr, _ = pair
    other = build_generator(blocks=2)
    with pytest.raises(UserError, match="differ in architecture"):
        interpolation.interpolate_generators(psnr, other, 0.5)
    upsampling = build_generator(blocks=1, upsample="upsampling")
    with pytest.raises(UserError, match="differ in architecture"):
        interpolation.interpolate_generators(psnr, upsampling, 0.5)


@pytest.mark.parametrize("alpha", [-0.1, 1.5])
def test_refuses_alpha_outside_0_1(pair, alpha):
    with pytest.raises(UserError, match=r"outside \[0, 1\]"):
        interpolation.interpolate_generators(*pair, alpha)


def test_cli_writes_a_sweep_that_loads(pair, tmp_path):
    psnr, gan = pair
    psnr.save(tmp_path / "psnr.keras")
    gan.save(tmp_path / "gan.keras")
    out = tmp_path / "sweep"
    code = interpolation.main(
        [
            str(tmp_path / "psnr.keras"),
            str(tmp_path / "gan.keras"),
            "--alpha",
            "0.2",
            "0.6",
            "--output-dir",
            str(out),
        ]
    )
    assert code == 0
    assert sorted(path.name for path in out.iterdir()) == ["alpha_0.20.keras", "alpha_0.60.keras"]
    loaded = load_generator(out / "alpha_0.60.keras")
    want = interpolation.interpolate_generators(psnr, gan, 0.6)
    image = lr_batch()
    np.testing.assert_allclose(
        loaded.predict_on_batch(image), want.predict_on_batch(image), atol=1e-5
    )


def test_cli_output_takes_one_alpha(pair, tmp_path):
    psnr, gan = pair
    psnr.save(tmp_path / "psnr.keras")
    gan.save(tmp_path / "gan.keras")
    args = [str(tmp_path / "psnr.keras"), str(tmp_path / "gan.keras")]
    with pytest.raises(UserError, match="one --alpha"):
        interpolation.main([*args, "--alpha", "0.2", "0.4", "--output", str(tmp_path / "x.keras")])
    with pytest.raises(UserError, match=r"must be a \.keras file"):
        interpolation.main([*args, "--alpha", "0.2", "--output", str(tmp_path / "x.h5")])
    assert not (tmp_path / "x.h5").exists()


def test_save_replaces_atomically(pair, tmp_path):
    psnr, gan = pair
    path = tmp_path / "g.keras"
    interpolation.save_generator(psnr, path)
    interpolation.save_generator(gan, path)  # over an existing file
    assert [entry.name for entry in tmp_path.iterdir()] == ["g.keras"]  # no temporary left
    np.testing.assert_array_equal(load_generator(path).get_weights()[0], gan.get_weights()[0])
