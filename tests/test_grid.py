"""The pixel-grid measure: high for a 4-pixel periodic pattern on a photo, low for photos."""

import math

import numpy as np
import pytest
from skimage import data

from data.conventions import rgb_to_y
from evaluation.grid import grid_amplitude, grid_component, grid_peaks, grid_score, without_grid


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


def test_the_grid_component_is_the_pattern_added_and_not_the_photo():
    photo = data.chelsea()
    gridded = with_pattern(photo, 4, 3.0)
    added = gridded.astype(np.float32) - photo
    found = grid_component(gridded)
    inner = (slice(16, -16), slice(16, -16))  # the window's reach from the borders
    error = found[inner] - added[inner]
    assert np.sqrt(np.mean(error**2)) < 0.35 * np.sqrt(np.mean(added[inner] ** 2))
    # The photo's own detail at the grid frequencies: a fraction of a level.
    assert grid_amplitude(photo, crop_border=4) < 0.5
    assert grid_amplitude(gridded, crop_border=4) > 2.0


def test_a_ramp_and_a_flat_image_have_no_grid_component():
    ramp = np.tile(np.linspace(0, 250, 256, dtype=np.float32), (64, 1))
    # Away from the borders, whose mirroring bends the ramp, as far as the window reaches.
    assert np.abs(grid_component(ramp)[:, 64:-64]).max() < 1e-3
    flat = np.full((40, 44, 3), 77, np.uint8)
    assert np.abs(grid_component(flat)).max() < 1e-4


def test_without_its_grid_a_gridded_photo_scores_as_the_photo():
    photo = data.chelsea()
    gridded = with_pattern(photo, 4, 3.0)
    cleaned = without_grid(gridded)
    assert cleaned.shape == gridded.shape and cleaned.dtype == np.uint8
    own = grid_score(photo, crop_border=4)
    assert grid_score(gridded, crop_border=4) > own + 1.5
    # No peak left; the notch also takes the photo's own detail at the grid frequencies, so
    # the cleaned image may score below the photo.
    assert grid_score(cleaned, crop_border=4) < own + 0.2
    # and what it takes from the photo itself is a fraction of a level
    assert np.abs(without_grid(photo).astype(int) - photo).mean() < 0.5


@pytest.mark.parametrize("scale", [2, 8])
def test_the_grid_component_at_other_periods(scale):
    photo = data.chelsea()
    gridded = with_pattern(photo, scale, 3.0)
    added = rgb_to_y(gridded) - rgb_to_y(photo)
    expected = np.sqrt(np.mean(added[scale:-scale, scale:-scale] ** 2))
    found = grid_amplitude(gridded, period=scale, crop_border=scale)
    assert found == pytest.approx(expected, rel=0.25)
    assert grid_amplitude(photo, period=scale, crop_border=scale) < 0.5 * expected
