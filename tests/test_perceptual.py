"""LPIPS and NIQE as the evaluation scores them: the shave, grey images, small images, weights."""

import math

import numpy as np
import pytest

from data.conventions import shave
from evaluation.perceptual import (
    LPIPS_MIN_SIDE,
    Perceptual,
    as_rgb,
    format_score,
    lpips_score,
    niqe_score,
    perceptual_metrics,
    require_lpips_weights,
)
from runtime.errors import UserError


@pytest.fixture(scope="module")
def weights():
    from models.lpips_files import MissingLPIPSWeights
    from models.lpips_weights import find_lpips_weights

    try:
        return str(find_lpips_weights("alex", download=False))
    except MissingLPIPSWeights as error:
        pytest.skip(f"no LPIPS weights ({error})")


@pytest.fixture(scope="module")
def pair():
    """A real photo and a blurred copy of it (bicubic down and up), 120x104."""
    import skimage

    from data.matlab_functions import bicubic_downscale, bicubic_upscale

    hr = np.ascontiguousarray(skimage.data.astronaut()[80:200, 140:244])
    return hr, bicubic_upscale(bicubic_downscale(hr, 4), 4)


def test_lpips_is_the_models_distance_on_the_shaved_images(weights, pair):
    from models.lpips import lpips_distance
    from models.lpips_nets import min_image_size

    hr, sr = pair
    expected = lpips_distance(shave(hr, 4), shave(sr, 4), weights=weights)
    assert lpips_score(hr, sr, crop_border=4, weights=weights) == pytest.approx(expected, abs=1e-6)
    whole = lpips_score(hr, sr, weights=weights)
    assert whole == pytest.approx(lpips_distance(hr, sr, weights=weights), abs=1e-6)
    assert whole != pytest.approx(expected, abs=1e-5)  # the shave is applied, not ignored
    assert 0.05 < expected < 0.8
    assert lpips_score(hr, hr, crop_border=4, weights=weights) == pytest.approx(0, abs=1e-6)
    assert min_image_size("alex") == LPIPS_MIN_SIDE


def test_a_grey_image_is_replicated_to_rgb(weights, pair):
    from data.conventions import rgb_to_y

    hr, sr = (np.rint(rgb_to_y(image)).astype(np.uint8) for image in pair)
    assert hr.ndim == 2 and as_rgb(hr).shape == (*hr.shape, 3)
    np.testing.assert_array_equal(as_rgb(hr)[:, :, 2], hr)
    grey = lpips_score(hr, sr, crop_border=4, weights=weights)
    assert grey == pytest.approx(
        lpips_score(as_rgb(hr), as_rgb(sr), crop_border=4, weights=weights), abs=1e-6
    )


def test_images_too_small_score_nan_and_print_as_a_dash(weights):
    small = np.zeros((38, 60, 3), np.uint8)  # 30 pixels high after the shave: AlexNet needs 31
    assert math.isnan(lpips_score(small, small, crop_border=4, weights=weights))
    assert not math.isnan(lpips_score(small[:, :], small, weights=weights))
    assert math.isnan(niqe_score(np.zeros((100, 199), np.uint8), crop_border=4))
    assert format_score("lpips", float("nan")) == "–"
    assert format_score("lpips", 0.123456) == "0.1235" and format_score("niqe", 7.456) == "7.46"


def test_niqe_is_the_sr_images_niqe_with_the_shave(pair):
    from evaluation.niqe import niqe

    image = np.tile(pair[0], (2, 2, 1))  # 240x208: two 96x96 blocks after the shave
    assert niqe_score(image, crop_border=4) == pytest.approx(niqe(image, crop_border=4))


def test_perceptual_scores_what_it_is_asked_for(weights, pair):
    hr, sr = pair
    both = Perceptual(lpips=True, niqe=True, weights=weights)
    assert both.metrics == ("lpips", "niqe")
    scores = both.score(hr, sr)
    assert set(scores) == {"lpips", "niqe"}
    assert scores["lpips"] == pytest.approx(lpips_score(hr, sr, crop_border=4, weights=weights))
    assert math.isnan(scores["niqe"])  # 112x96 after the shave: one block only
    assert Perceptual(lpips=False, niqe=True).metrics == ("niqe",)
    assert perceptual_metrics(lpips=False, niqe=False) is None
    assert perceptual_metrics().weights == weights


def test_missing_weights_are_one_line_that_says_what_to_do(tmp_path, monkeypatch):
    from models.lpips_weights import WEIGHTS_ENV

    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(UserError) as error:
        require_lpips_weights("or pass --perceptual none")
    text = str(error.value)
    assert "\n" not in text and "python -m models.lpips fetch" in text
    assert text.endswith("; or pass --perceptual none")
    assert not any(tmp_path.iterdir())  # nothing was downloaded or written
