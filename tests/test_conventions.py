"""data/conventions.py: the generator's value ranges, BT.601 luma and the border shave."""

import numpy as np
import pytest

from data import conventions
from tests.test_images import GREY, RGBA


def test_model_ranges_round_trip():
    pixels = np.arange(256, dtype=np.uint8)
    unit = conventions.to_model_input(pixels)
    assert unit.dtype == np.float32 and unit.min() == 0 and unit.max() == 1
    target = conventions.to_model_output(pixels)
    assert target.dtype == np.float32 and target.min() == -1 and target.max() == 1
    np.testing.assert_array_equal(conventions.output_to_uint8(target), pixels)


def test_sixteen_bit_levels_use_their_own_maximum():
    pixels = np.array([0, 32768, 65535], np.uint16)
    np.testing.assert_allclose(conventions.to_model_input(pixels, 65535.0), [0, 0.5, 1], atol=1e-5)
    assert conventions.to_levels(np.float32(1.0), 65535.0) == 65535.0


def test_to_model_input_copies_and_leaves_the_pixels_alone():
    pixels = np.full((2, 2), 51, np.uint8)
    unit = conventions.to_model_input(pixels)
    assert unit is not pixels and pixels[0, 0] == 51
    assert unit[0, 0] == pytest.approx(0.2)


def test_to_levels_takes_keras_tensors_too():
    keras = pytest.importorskip("keras")
    values = np.array([-1.0, 0.0, 1.0], np.float32)
    levels = keras.ops.convert_to_numpy(conventions.to_levels(keras.ops.convert_to_tensor(values)))
    np.testing.assert_array_equal(levels, [0.0, 127.5, 255.0])


def test_levels_rescaling_is_to_levels():
    scale, offset = conventions.levels_rescaling()
    values = np.linspace(-1, 1, 9, dtype=np.float32)
    np.testing.assert_allclose(values * scale + offset, conventions.to_levels(values), atol=1e-4)


def test_to_uint8_rounds_half_to_even_and_clips():
    levels = np.array([-3.0, 0.5, 1.5, 254.6, 300.0])
    np.testing.assert_array_equal(conventions.to_uint8(levels), [0, 0, 2, 255, 255])


def test_luma_is_bt601_in_the_dtype_given():
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 10, 10]], np.float32)
    grey = conventions.luma(colours)
    assert grey.dtype == np.float32
    np.testing.assert_allclose(grey, [76.245, 149.685, 29.07, 10.0], rtol=1e-6)
    assert conventions.luma(colours.astype(np.uint8)).dtype == np.float64


def test_rgb_to_y_is_matlab_bt601():
    colours = np.array(
        [[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8
    )
    y = conventions.rgb_to_y(colours)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y[0], [16, 235, 16 + 65.481, 16 + 128.553, 16 + 24.966], atol=1e-9)
    np.testing.assert_allclose(conventions.rgb_to_y(colours.astype(float)), y)
    grey = conventions.rgb_to_y(GREY)
    assert grey.dtype == np.float64
    np.testing.assert_array_equal(grey, GREY)
    with pytest.raises(ValueError):
        conventions.rgb_to_y(RGBA)


def test_the_ycbcr_weights_are_the_luma_weights_on_219_levels():
    np.testing.assert_allclose(
        np.array(conventions._YCBCR_Y_WEIGHTS), 219 * np.array(conventions.LUMA_WEIGHTS)
    )


def test_shave_drops_the_border_and_refuses_too_much():
    image = np.zeros((40, 48, 3), np.uint8)
    assert conventions.shave(image, 4).shape == (32, 40, 3)
    assert conventions.shave(image, 0) is image
    for border in (-1, 1.5, 20):
        with pytest.raises(ValueError):
            conventions.shave(image, border)
