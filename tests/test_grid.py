"""The pixel-grid measure: high for a 4-pixel periodic pattern on a photo, low for photos."""

import math

import numpy as np
import pytest
from skimage import data

from evaluation.grid import grid_peaks, grid_score


def with_pattern(photo, period, amplitude, seed=0):
    """``photo`` plus a zero-mean ``period``-periodic pattern of about ``amplitude`` levels, the
    shape of a pixel-shuffle grid (each phase its own offset)."""
    cell = np.random.default_rng(seed).normal(0, amplitude, (period, period, 1))
    cell -= cell.mean()
    reps = (photo.shape[0] // period + 1, photo.shape[1] // period + 1, 3)
    pattern = np.tile(cell, reps)[: photo.shape[0], : photo.shape[1]]
    return np.clip(photo + pattern, 0, 255).astype(np.uint8)


def test_a_natural_photo_scores_low_and_the_same_with_a_4_pixel_grid_high():
    photo = data.chelsea()
    assert grid_score(photo, crop_border=4) < 0.3
    assert grid_score(with_pattern(photo, 4, 3.0), crop_border=4) > 1.5


def test_it_is_the_4_pixel_period_that_counts():
    photo = data.coffee()
    own = grid_score(photo)
    for period in (3, 5):
        assert abs(grid_score(with_pattern(photo, period, 3.0)) - own) < 0.2
    assert grid_score(with_pattern(photo, 4, 3.0)) - own > 1.5


def test_a_stronger_grid_scores_higher():
    photo = data.chelsea()
    scores = [grid_score(with_pattern(photo, 4, amplitude)) for amplitude in (0.5, 2.0, 8.0)]
    assert scores == sorted(scores) and scores[-1] - scores[0] > 0.5


def test_flat_grey_and_tiny_images():
    assert grid_score(np.full((64, 64, 3), 100, np.uint8)) == pytest.approx(0.0, abs=1e-6)
    assert grid_score(np.full((64, 64), 100, np.uint8)) == pytest.approx(
        0.0, abs=1e-6
    )  # grey: its luma
    assert math.isnan(grid_score(np.zeros((36, 36, 3), np.uint8), crop_border=4))
    peaks = grid_peaks(data.chelsea())
    assert peaks.shape == (4, 4) and math.isnan(peaks[0, 0]) and np.isfinite(peaks[1:, 1:]).all()


@pytest.mark.parametrize("scale", [2, 8])
def test_the_period_is_the_generators_scale(scale):
    """A x2 or x8 pixel shuffle's grid: scored at its own period, as evaluate.py scores it."""
    photo = data.chelsea()
    own = grid_score(photo, period=scale, crop_border=scale)
    assert own < 1.0  # measured 0.59 at x2, far below a grid
    gridded = with_pattern(photo, scale, 3.0)
    assert grid_score(gridded, period=scale, crop_border=scale) - own > 1.5
    assert grid_peaks(photo, period=scale).shape == (scale, scale)
    # Another scale's grid is not this one's: a 3-pixel pattern leaves it where it was.
    other = grid_score(with_pattern(photo, 3, 3.0), period=scale, crop_border=scale)
    assert abs(other - own) < 0.2
