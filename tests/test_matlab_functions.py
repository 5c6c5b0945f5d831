"""data/matlab_functions.py: MATLAB's bicubic resize, checked against the official LR files."""

import numpy as np
import pytest

from data.images import decode_image, list_images, read_rgb
from data.matlab_functions import (
    bicubic_downscale,
    bicubic_upscale,
    imresize,
    modcrop,
)
from tests.test_images import GREY, RGB, RNG

# --- geometry and colour ---------------------------------------------------------------------


def test_modcrop_keeps_the_top_left_multiple_of_scale():
    image = np.arange(10 * 13 * 3).reshape(10, 13, 3)
    cropped = modcrop(image, 4)
    assert cropped.shape == (8, 12, 3)
    np.testing.assert_array_equal(cropped, image[:8, :12])
    assert modcrop(image[..., 0], 5).shape == (10, 10)
    assert modcrop(image, 1).shape == image.shape
    with pytest.raises(ValueError):
        modcrop(image, 0)


@pytest.mark.parametrize(
    "shape, scale, expected",
    [
        ((10, 13), 1 / 4, (3, 4)),
        ((10, 13), 4, (40, 52)),
        ((7, 9), 0.5, (4, 5)),
        ((5, 5), 1.5, (8, 8)),
    ],
)
def test_imresize_output_size_follows_matlab(shape, scale, expected):
    # MATLAB: ceil(input size * scale).
    assert imresize(np.zeros(shape, np.uint8), scale=scale).shape == expected
    assert imresize(np.zeros((*shape, 3)), scale=scale).shape == (*expected, 3)


def test_imresize_to_an_output_shape():
    assert imresize(RGB, output_shape=(5, 7)).shape == (5, 7, 3)
    assert imresize(GREY, output_shape=(30, 12)).shape == (30, 12)
    with pytest.raises(ValueError):
        imresize(RGB)
    with pytest.raises(ValueError):
        imresize(RGB, scale=2, output_shape=(20, 24))


def test_imresize_keeps_a_constant_image_constant():
    constant = np.full((17, 23, 3), 77, dtype=np.uint8)
    for scale in (1 / 4, 1 / 3, 0.5, 2, 4):
        resized = imresize(constant, scale=scale)
        assert resized.dtype == np.uint8
        assert (resized == 77).all()
        np.testing.assert_allclose(
            imresize(constant.astype(np.float32) / 255, scale=scale), 77 / 255
        )


def test_imresize_types_and_clipping():
    step = np.zeros((8, 8), dtype=np.uint8)
    step[:, 4:] = 255
    up8 = imresize(step, scale=4)
    assert up8.dtype == np.uint8
    upf = imresize(step.astype(np.float32), scale=4)
    assert upf.dtype == np.float64
    # The cubic kernel rings at an edge: float output keeps the overshoot, uint8 saturates.
    assert upf.min() < 0 and upf.max() > 255
    np.testing.assert_array_equal(up8, np.floor(np.clip(upf, 0, 255) + 0.5))
    assert imresize(RGB, scale=1).dtype == np.uint8
    np.testing.assert_array_equal(imresize(RGB, scale=1), RGB)
    with pytest.raises(TypeError):
        imresize(step.astype(np.int32), scale=2)


def test_imresize_takes_a_div2k_sized_image_down_and_back():
    # Its speed is benchmarks/loader_benchmark.py's to print: a timed test fails on a busy CPU.
    image = RNG.integers(0, 256, (1356, 2040, 3), dtype=np.uint8)
    small = imresize(image, scale=1 / 4)
    large = imresize(small, scale=4)
    assert small.shape == (339, 510, 3) and large.shape == image.shape
    assert small.dtype == large.dtype == np.uint8


def test_bicubic_helpers_shapes():
    hr = RNG.integers(0, 256, (50, 61, 3), dtype=np.uint8)
    lr = bicubic_downscale(hr, 4)
    assert lr.shape == (12, 15, 3)
    np.testing.assert_array_equal(lr, imresize(hr[:48, :60], scale=0.25))
    assert bicubic_upscale(lr, 4).shape == (48, 60, 3)


# --- the golden test: our bicubic is MATLAB's ------------------------------------------------


def load_as_stored_channels(path):
    """Grey files (Set14's bridge) stay grey, colour files become RGB: both sides read alike."""
    pixels = decode_image(path)
    return pixels if pixels.ndim == 2 else read_rgb(path)


def test_bicubic_downscale_reproduces_the_official_lr_images(shared_datasets):
    total = within_one = identical = 0
    for benchmark, count in (("Set5", 5), ("Set14", 14)):
        hr_paths = list_images(shared_datasets / benchmark / "HR")
        assert len(hr_paths) == count
        for hr_path in hr_paths:
            lr_path = shared_datasets / benchmark / "LR_bicubic" / "X4" / f"{hr_path.stem}x4.png"
            official = load_as_stored_channels(lr_path)
            ours = bicubic_downscale(load_as_stored_channels(hr_path), 4)
            assert ours.shape == official.shape, hr_path.name
            difference = np.abs(ours.astype(int) - official)
            assert (difference <= 1).mean() >= 0.998, hr_path.name
            total += difference.size
            within_one += int((difference <= 1).sum())
            identical += int((difference == 0).sum())
    print(f"within 1 grey level: {within_one / total:.4%}, identical: {identical / total:.4%}")
    assert within_one / total >= 0.998
    # Rounding to uint8 after each pass, as MATLAB does for uint8 input, makes it bit-exact
    # (a single rounding at the end agrees on only ~90% of pixels).
    assert identical == total
