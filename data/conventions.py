"""The image conventions of the generator and of the SR papers' scores, in one place.

The generator takes LR RGB as float32 in [0, 1] (the paper, section 3.2) and answers in its
tanh range [-1, 1]; people see integer levels (0-255, or 0-65535 for 16-bit files). Grey images
and scores use BT.601 luma, and scores shave the border. Every module that turns pixels into
model values and back, weighs RGB into luma or shaves a border asks this one, so a change of
convention cannot leave a copy behind (tests/test_conventions.py greps for copies).

Numpy in, numpy out; ``to_levels`` is plain arithmetic, so it also takes a ``keras.ops`` tensor
(the VGG loss turns the generator's output into levels inside the graph). Nothing here imports
Keras.
"""

from __future__ import annotations

import numpy as np

# The upscaling factors a generator may have: one x2 upsampling stage per factor of two, as
# SRResNet's two stages make x4. The paper's and the report's scale is 4.
SCALES = (2, 4, 8)
DEFAULT_SCALE = 4
# What one upsampling stage multiplies the size by (a pixel shuffle of 2, or nearest x2).
UPSAMPLING_FACTOR = 2

# The generator's value ranges: LR in, SR out (tanh). A saved generator records both
# (``models.description``); the functions below are the conversions to and from levels.
MODEL_INPUT_RANGE = (0.0, 1.0)
MODEL_OUTPUT_RANGE = (-1.0, 1.0)

# The largest level of an 8-bit image: what uint8 pixels are divided by on the way in.
LEVELS = 255.0

# BT.601 luma weights of R, G and B: what PIL's convert("L") uses, and (scaled to [16, 235])
# the Y channel the SR papers score on.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
# MATLAB's rgb2ycbcr Y for 8-bit RGB: the weights above times 219, plus 16.
_YCBCR_Y_WEIGHTS = (65.481, 128.553, 24.966)
_YCBCR_Y_OFFSET = 16.0


def to_model_input(pixels, maximum: float = LEVELS) -> np.ndarray:
    """Integer levels (0..``maximum``) -> float32 in [0, 1], the generator's input range.

    Always a new array, divided in place, so a large image costs one float32 copy.
    """
    values = np.asarray(pixels).astype(np.float32)
    values /= maximum
    return values


def to_model_output(pixels, maximum: float = LEVELS) -> np.ndarray:
    """Integer levels -> float32 in [-1, 1], the generator's tanh range (a training target)."""
    return np.asarray(pixels, np.float32) / (maximum / 2.0) - 1.0


def to_levels(output, maximum: float = LEVELS):
    """Generator output in [-1, 1] -> levels in [0, ``maximum``], unrounded.

    Plain arithmetic, so numpy arrays keep their float dtype and ``keras.ops`` tensors stay
    tensors.
    """
    return (output + 1.0) * (maximum / 2.0)


def levels_rescaling(maximum: float = LEVELS) -> tuple[float, float]:
    """``to_levels`` as (scale, offset) of ``output * scale + offset``: the arguments of a
    Keras ``Rescaling`` layer, for graphs that must carry the conversion themselves."""
    return maximum / 2.0, maximum / 2.0


def to_uint8(levels) -> np.ndarray:
    """Levels (any float dtype) -> uint8: rounded half to even, clipped to 0-255."""
    return np.clip(np.rint(levels), 0, 255).astype(np.uint8)


def output_to_uint8(output) -> np.ndarray:
    """Generator output in [-1, 1] -> the uint8 image, rounded and clipped."""
    return to_uint8(to_levels(np.asarray(output, np.float32)))


def luma(rgb) -> np.ndarray:
    """BT.601 luma of the last axis (RGB), in the units given: levels in, levels out.

    Computed in ``rgb``'s float dtype (float64 for integers), so a float32 image is weighed in
    float32 as the tiled upscaler and the exports do.
    """
    rgb = np.asarray(rgb)
    if not np.issubdtype(rgb.dtype, np.floating):
        rgb = rgb.astype(np.float64)
    return rgb @ np.asarray(LUMA_WEIGHTS, rgb.dtype)


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """BT.601 luma in [16, 235], as MATLAB's ``rgb2ycbcr`` gives it, unrounded.

    The SR papers score PSNR and SSIM on this channel. Rounding it to integers, as ``rgb2ycbcr``
    does for uint8 input, would lower the Set5 bicubic PSNR by about 0.01 dB. A grey image is
    its own luma and comes back as it is (as float64).
    """
    image = np.asarray(image)
    if image.ndim == 2:
        return image.astype(np.float64)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be HxW or HxWx3, not {image.shape}")
    rgb = image.astype(np.float64)
    red, green, blue = _YCBCR_Y_WEIGHTS
    weighted = red * rgb[..., 0] + green * rgb[..., 1] + blue * rgb[..., 2]
    return _YCBCR_Y_OFFSET + weighted / LEVELS


def check_scale(scale) -> int:
    """``scale`` as an int, or ValueError naming the choices (2, 4 and 8)."""
    if isinstance(scale, bool) or int(scale) != scale or int(scale) not in SCALES:
        choices = ", ".join(map(str, SCALES))
        raise ValueError(f"scale must be one of {choices}, not {scale!r}")
    return int(scale)


def upsampling_stages(scale) -> int:
    """How many x2 upsampling stages make ``scale``: 1 at x2, 2 at x4, 3 at x8."""
    stages, size = 0, 1
    while size < check_scale(scale):
        stages, size = stages + 1, size * UPSAMPLING_FACTOR
    return stages


def shave_border(scale) -> int:
    """The border the scores shave at ``scale``: the scale itself (EDSR's and BasicSR's
    convention; 4 pixels at x4, as the SRGAN paper's figures were computed)."""
    return check_scale(scale)


# SSIM's Gaussian window (11x11, sigma 1.5; Wang et al. 2004), as MATLAB's ssim.m uses it.
SSIM_WINDOW = 11


def min_scored_side(scale) -> int:
    """The smallest HR side an image may have to be scored at ``scale``: the shave on both
    sides must leave room for SSIM's window (19 pixels at x4). Validation and the benchmark
    tables skip smaller images by this one rule."""
    return 2 * shave_border(scale) + SSIM_WINDOW


def shave(image: np.ndarray, border: int) -> np.ndarray:
    """Drop ``border`` pixels on each side: SR networks are not judged on padding artefacts.

    The papers shave the scale (4 pixels at x4) before PSNR, SSIM and every other score.
    """
    if int(border) != border or border < 0:
        raise ValueError(f"crop_border must be a non-negative integer, not {border!r}")
    border = int(border)
    if border == 0:
        return image
    if min(image.shape[:2]) <= 2 * border:
        raise ValueError(f"crop_border {border} leaves nothing of an image of shape {image.shape}")
    return image[border:-border, border:-border]
