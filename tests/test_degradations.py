"""The real-world degradation model: shapes, ranges, determinism, and each step doing what it
claims (blur widths, noise strengths, JPEG that compresses and leaves 8x8 blocks)."""

import math

import cv2
import numpy as np
import pytest
from skimage import data

from data.degradations import (
    REAL_ESRGAN,
    add_noise,
    degrade,
    gaussian_kernel,
    jpeg,
    random_kernel,
    sinc_kernel,
)


def crop(size=96, y=100, x=150):
    return np.ascontiguousarray(data.chelsea()[y : y + size, x : x + size])


def test_the_lr_is_the_hr_size_over_the_scale_in_uint8_and_the_same_for_the_same_draws():
    hr = crop()
    lr = degrade(hr, np.random.default_rng([0, 5, 3]))
    assert lr.shape == (24, 24, 3) and lr.dtype == np.uint8
    np.testing.assert_array_equal(lr, degrade(hr, np.random.default_rng([0, 5, 3])))
    others = [degrade(hr, np.random.default_rng([0, 5, i])) for i in range(4, 8)]
    assert all(not np.array_equal(lr, other) for other in others)
    assert degrade(crop(64), np.random.default_rng(1), scale=2).shape == (32, 32, 3)


def test_degraded_images_are_worse_than_bicubic_ones_on_average():
    from data.matlab_functions import bicubic_downscale, bicubic_upscale

    hr = crop(128)
    clean = bicubic_upscale(bicubic_downscale(hr)).astype(float)
    errors = []
    for index in range(12):
        lr = degrade(hr, np.random.default_rng([1, 0, index]))
        errors.append(np.mean((bicubic_upscale(lr).astype(float) - hr) ** 2))
    assert np.mean(errors) > 1.5 * np.mean((clean - hr) ** 2)


def test_kernels_are_normalised_and_their_sizes_and_sinc_share_as_configured():
    rng = np.random.default_rng(0)
    stage = REAL_ESRGAN.first
    descriptions = []
    for _ in range(2000):
        kernel, description = random_kernel(rng, stage, REAL_ESRGAN.kernel_sizes)
        assert kernel.shape[0] == kernel.shape[1] and kernel.shape[0] in REAL_ESRGAN.kernel_sizes
        assert kernel.sum() == pytest.approx(1.0, abs=1e-4)
        descriptions.append(description)
    sinc_share = np.mean([d.startswith("sinc") for d in descriptions])
    assert abs(sinc_share - stage.sinc_prob) < 0.03
    iso_share = np.mean([d.startswith("iso ") for d in descriptions])
    assert abs(iso_share - (1 - stage.sinc_prob) * stage.kernel_prob[0]) < 0.04
    widths = [float(d.split("sigma ")[1].split("/")[0]) for d in descriptions if "sigma" in d]
    assert stage.sigma[0] <= min(widths) and max(widths) <= stage.sigma[1]


def test_a_gaussian_kernel_has_the_width_it_was_given_and_turns_with_its_angle():
    kernel = gaussian_kernel(21, 2.0)
    x = np.arange(21) - 10
    assert math.sqrt(np.sum(kernel.sum(axis=0) * x**2)) == pytest.approx(2.0, rel=0.02)
    wide = gaussian_kernel(21, 3.0, 1.0, 0.0)
    assert wide.sum(axis=0).std() < wide.sum(axis=1).std()  # spread along x
    np.testing.assert_allclose(gaussian_kernel(21, 3.0, 1.0, math.pi / 2), wide.T, atol=1e-6)
    plateau = gaussian_kernel(21, 2.0, beta=2.0, plateau=True)
    assert plateau[10, 10] == plateau.max() and plateau.sum() == pytest.approx(1.0, abs=1e-5)


def test_a_sinc_kernel_rings():
    kernel = sinc_kernel(21, math.pi / 3)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-5) and kernel.min() < 0
    np.testing.assert_allclose(kernel, kernel.T, atol=1e-7)


@pytest.mark.parametrize("gaussian", [True, False])
def test_noise_strength_stays_in_its_configured_range(gaussian):
    stage = REAL_ESRGAN.first
    probability = 1.0 if gaussian else 0.0
    stage = type(stage)(**{**stage.__dict__, "gaussian_noise_prob": probability})
    flat = np.full((64, 64, 3), 0.5, np.float32)
    spreads = []
    for seed in range(200):
        noisy = add_noise(flat, np.random.default_rng(seed), stage)
        spreads.append((noisy - flat).std() * 255)
    if gaussian:
        assert stage.noise_sigma[0] * 0.9 <= min(spreads)
        assert max(spreads) <= stage.noise_sigma[1] * 1.1
    else:  # Poisson at level 127.5: a spread of sqrt(127.5) levels, times the scale
        expected = np.sqrt(0.5 * 255)
        assert stage.poisson_scale[0] * expected * 0.8 <= min(spreads)
        assert max(spreads) <= stage.poisson_scale[1] * expected * 1.2


def test_jpeg_compresses_and_leaves_8x8_blocks():
    smooth = cv2.GaussianBlur(crop(128).astype(np.float32) / 255, (0, 0), 3)
    sizes = {}
    for quality in (30, 95):
        levels = np.clip(np.rint(smooth * 255), 0, 255).astype(np.uint8)
        _, encoded = cv2.imencode(".jpg", levels, [cv2.IMWRITE_JPEG_QUALITY, quality])
        sizes[quality] = len(encoded)
    assert sizes[30] < 0.6 * sizes[95]
    compressed = jpeg(smooth, 30)
    assert compressed.shape == smooth.shape and compressed.dtype == np.float32
    steps = np.abs(np.diff(compressed.mean(axis=2), axis=1))
    at_edges = steps[:, 7::8].mean()
    inside = np.delete(steps, np.s_[7::8], axis=1).mean()
    assert at_edges > 1.3 * inside


def test_the_degrader_of_a_run_makes_lr_at_its_scale():
    from data.degradations import degrader

    assert degrader("bicubic", 2) is None  # the cached bicubic pairs serve
    hr = crop(64)
    for scale in (2, 4, 8):
        lr = degrader("real", scale)(hr, np.random.default_rng([0, 1, 2]))
        assert lr.shape == (64 // scale, 64 // scale, 3) and lr.dtype == np.uint8
    same = degrader("real", 4)(hr, np.random.default_rng(3))
    np.testing.assert_array_equal(same, degrade(hr, np.random.default_rng(3)))  # x4 by default
    with pytest.raises(ValueError, match="scale must be one of 2, 4, 8"):
        degrader("real", 3)
