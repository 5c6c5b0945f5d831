"""Validation during training: the generator's predictions as numpy arrays."""

import numpy as np
import pytest

from models.generator import build_generator


def test_predict_returns_numpy_results_for_any_batch():
    from training.validation import predict

    generator = build_generator(blocks=1)
    image = np.random.default_rng(0).uniform(size=(1, 6, 7, 3)).astype("float32")
    result = predict(generator, image)
    assert isinstance(result, np.ndarray) and result.shape == (1, 24, 28, 3)
    np.testing.assert_allclose(result, generator.predict_on_batch(image), atol=1e-5)
    assert predict(generator, np.concatenate([image, image, image])).shape[0] == 3


def test_validation_adds_lpips_when_given_the_weights(photo_folder):
    from data.images import read_rgb
    from data.matlab_functions import bicubic_downscale
    from evaluation.perceptual import lpips_score
    from models.lpips_files import MissingLPIPSWeights
    from models.lpips_weights import find_lpips_weights
    from training.validation import validate

    try:
        weights = str(find_lpips_weights("alex", download=False))
    except MissingLPIPSWeights as error:
        pytest.skip(f"no LPIPS weights ({error})")
    hrs = [read_rgb(path)[:64, :64] for path in sorted(photo_folder.iterdir())[:2]]
    triples = [(f"p{i}", bicubic_downscale(hr, 4), hr) for i, hr in enumerate(hrs)]
    generator = build_generator(blocks=1)
    plain, _ = validate(generator, triples)
    assert set(plain) == {"psnr_y", "ssim_y", "psnr_rgb"}  # pretraining: no LPIPS
    metrics, srs = validate(generator, triples, lpips_weights=weights)
    distances = [lpips_score(hr, sr, crop_border=4) for hr, sr in zip(hrs, srs, strict=True)]
    expected = np.mean(distances)
    assert metrics["lpips"] == pytest.approx(expected, abs=1e-6)
    assert 0 < metrics["lpips"] < 1.5
    assert metrics["psnr_y"] == pytest.approx(plain["psnr_y"])


@pytest.mark.parametrize("scale", [2, 8])
def test_validation_shaves_the_generators_own_scale(photo_folder, scale):
    """The papers' border shave is the scale: 2 pixels at x2, 8 at x8, read from the model."""
    from data.images import read_rgb
    from data.matlab_functions import bicubic_downscale
    from evaluation.metrics import psnr, ssim
    from training.validation import validate

    hr = read_rgb(sorted(photo_folder.iterdir())[0])[:64, :64]
    generator = build_generator(scale=scale, blocks=1)
    metrics, (sr,) = validate(generator, [("p", bicubic_downscale(hr, scale), hr)])
    assert sr.shape == hr.shape
    assert metrics["psnr_y"] == pytest.approx(psnr(hr, sr, crop_border=scale, y_channel=True))
    assert metrics["ssim_y"] == pytest.approx(ssim(hr, sr, crop_border=scale, y_channel=True))
    assert metrics["psnr_rgb"] == pytest.approx(psnr(hr, sr, crop_border=scale, y_channel=False))
    assert metrics["psnr_y"] != pytest.approx(psnr(hr, sr, crop_border=4, y_channel=True))
