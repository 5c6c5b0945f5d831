"""NIQE, the "completely blind" image quality score (Mittal, Soundararajan, Bovik 2013).

Lower is better. NIQE needs no reference image: it fits a multivariate Gaussian to 36
natural-scene statistics of 96x96 blocks and measures how far that Gaussian lies from one
fitted on pristine photos. The perceptual SR papers report it beside PSNR, because a GAN can
lose PSNR while looking sharper.

The protocol is BasicSR's ``calculate_niqe``, which reproduces the authors' MATLAB release:
MATLAB's ``rgb2ycbcr`` luma rounded to integers, ``crop_border`` pixels shaved, the image cut
to whole blocks from the top left, MSCN coefficients from a 7x7 Gaussian (sigma 7/6) with
replicated borders, the features of every block at full and at half size (MATLAB's
antialiased bicubic), AGGD shapes looked up on the grid 0.2:0.001:10, and the distance of
Eq. 10 with a pseudo-inverse. The tests pin Set14's ``baboon.png`` to MATLAB's published
5.72957338 within 1e-5.

The image and its MSCN coefficients are float32, as in BasicSR, and this is not about speed.
Rounding the local mean to float32 lands the mean of a flat neighbourhood exactly on its
value, so coefficients that are zero in exact arithmetic stay zero. In float64 they come out
as +-1e-14 noise, which the AGGD fit cannot tell from texture: it counts the negative and the
positive coefficients. On baboon that is 13 pixels of one block, and they move one shape
parameter by a grid step and the score to 5.72996. Block statistics are then summed in
float64.

The pristine model ``niqe_pris_params.npz`` (the mean and covariance of the 36 features and
the 7x7 window) is vendored byte for byte from the BasicSR 1.4.2 source distribution
(``basicsr/metrics/niqe_pris_params.npz``; Copyright 2018-2022 BasicSR Authors, Apache
License 2.0). BasicSR describes it as "the official params estimated from the pristine
dataset", i.e. the model of the authors' MATLAB release
(http://live.ece.utexas.edu/research/quality/niqe_release.zip). Its sha256 is checked
before it is parsed, and it is parsed without pickle.
"""

from __future__ import annotations

import functools
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import convolve
from scipy.special import gamma

from data.conventions import rgb_to_y, shave
from data.matlab_functions import imresize

PARAMS_FILE = Path(__file__).with_name("niqe_pris_params.npz")
PARAMS_SHA256 = "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296"
# The pristine model was fitted on blocks of this size; other sizes give incomparable scores.
BLOCK_SIZE = 96
FEATURES_PER_SCALE = 18

# MATLAB's 0.2:0.001:10 (9801 shapes), and the ratio E[|x|]^2 / E[x^2] of a generalised
# Gaussian of each shape: the moment that identifies the shape. It rises strictly with it.
_SHAPES = np.arange(0.2, 10.001, 0.001)
_SHAPE_RATIOS = gamma(2 / _SHAPES) ** 2 / (gamma(1 / _SHAPES) * gamma(3 / _SHAPES))
# Pairs of neighbours whose MSCN products NIQE models: right, down, down-right, down-left.
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


@dataclass(frozen=True)
class PristineModel:
    """The multivariate Gaussian of pristine-photo features, and the window of their MSCN."""

    mean: np.ndarray  # (36,)
    cov: np.ndarray  # (36, 36)
    window: np.ndarray  # (7, 7), sums to 1


def load_pristine_model(path=PARAMS_FILE) -> PristineModel:
    """Read the model, refusing a file that is not byte for byte the published one."""
    path = Path(path)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != PARAMS_SHA256:
        raise ValueError(
            f"{path}: sha256 {digest} is not that of BasicSR's niqe_pris_params.npz "
            f"({PARAMS_SHA256}); the file is damaged or not the official one"
        )
    # The hash was taken of these very bytes: nothing can swap the file in between.
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        model = PristineModel(
            mean=arrays["mu_pris_param"].reshape(-1).astype(np.float64),
            cov=arrays["cov_pris_param"].astype(np.float64),
            window=arrays["gaussian_window"].astype(np.float64),
        )
    for array in (model.mean, model.cov, model.window):
        array.setflags(write=False)
    return model


@functools.lru_cache(maxsize=1)
def _pristine_model() -> PristineModel:
    return load_pristine_model()


def _luma(image, crop_border: int) -> np.ndarray:
    """Rounded BT.601 luma, shaved, as float32: what MATLAB's ``rgb2ycbcr`` gives for uint8."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f"image must be uint8, not {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(f"image must be HxW grey or HxWx3 RGB, not {image.shape}")
    # A grey image is its own luma. A luma of n + 0.5 (152 of the 2^24 colours in float64)
    # is rounded up, as MATLAB's conversion to uint8 does; np.round would go to even.
    luma = np.floor(rgb_to_y(shave(image, crop_border)) + 0.5)
    return luma.astype(np.float32)


def _mscn(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Mean-subtracted, contrast-normalised coefficients (Eq. 1), float32 in and out.

    ``mode="nearest"`` is MATLAB's ``imfilter(..., 'replicate')``; the window is symmetric,
    so convolution and correlation agree. The +1 keeps flat areas from dividing by zero.
    """
    mean = convolve(image, window, mode="nearest")
    spread = np.sqrt(np.abs(convolve(image * image, window, mode="nearest") - mean * mean))
    return (image - mean) / (spread + 1)


def _blocks(coefficients: np.ndarray, size: int) -> np.ndarray:
    """Non-overlapping ``size`` x ``size`` blocks, as an (n, size, size) float64 array."""
    height, width = coefficients.shape
    rows, columns = height // size, width // size
    tiles = coefficients.reshape(rows, size, columns, size).transpose(0, 2, 1, 3)
    return tiles.reshape(rows * columns, size, size).astype(np.float64)


def _nearest_shape(ratio: np.ndarray) -> np.ndarray:
    """The grid shape whose moment ratio is closest: MATLAB's ``min`` of the squared gaps.

    A search in the sorted ratios instead of a (blocks x 9801) table. A tie goes to the
    smaller shape, as ``min`` takes the first; a NaN ratio (a block with no negative or no
    positive coefficient) gives the first shape, 0.2, as ``min`` does over all-NaN values.
    """
    ratio = np.asarray(ratio, dtype=np.float64)
    above = np.clip(np.searchsorted(_SHAPE_RATIOS, ratio), 1, len(_SHAPES) - 1)
    below = above - 1
    take_below = (_SHAPE_RATIOS[below] - ratio) ** 2 <= (_SHAPE_RATIOS[above] - ratio) ** 2
    index = np.where(take_below, below, above)
    return _SHAPES[np.where(np.isnan(ratio), 0, index)]


def _fit_aggd(samples: np.ndarray):
    """Shape and left/right scales of an asymmetric generalised Gaussian, per row (Eq. 7).

    The moment-matching estimator of Lasmar et al., which NIQE uses. Zeros count on neither
    side. Blocks without one side give NaN scales; the distance then leaves those blocks out
    of the covariance.
    """
    squares = samples * samples
    negative = samples < 0
    positive = samples > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.sqrt(np.sum(squares * negative, axis=1) / np.sum(negative, axis=1))
        right = np.sqrt(np.sum(squares * positive, axis=1) / np.sum(positive, axis=1))
        skew = left / right
        ratio = np.mean(np.abs(samples), axis=1) ** 2 / np.mean(squares, axis=1)
        ratio = ratio * (skew**3 + 1) * (skew + 1) / (skew**2 + 1) ** 2
    shape = _nearest_shape(ratio)
    scale = np.sqrt(gamma(1 / shape) / gamma(3 / shape))
    return shape, left * scale, right * scale


def _block_features(coefficients: np.ndarray, size: int) -> np.ndarray:
    """The 18 features of each block: the MSCN's own GGD, then the AGGD of 4 neighbour products."""
    blocks = _blocks(coefficients, size)
    flat = blocks.reshape(len(blocks), -1)
    shape, left, right = _fit_aggd(flat)
    columns = [shape, (left + right) / 2]
    for shift in _SHIFTS:
        # Circular within the block, as MATLAB's circshift in the authors' code.
        products = flat * np.roll(blocks, shift, axis=(1, 2)).reshape(len(blocks), -1)
        shape, left, right = _fit_aggd(products)
        mean = (right - left) * gamma(2 / shape) / gamma(1 / shape)  # Eq. 8
        columns += [shape, mean, left, right]
    return np.stack(columns, axis=1)


def _distance(features: np.ndarray, model: PristineModel) -> float:
    """Eq. 10: the Mahalanobis-like distance between the image's Gaussian and the pristine one.

    As MATLAB's ``nanmean`` and ``nancov``: the mean skips NaN entries, the covariance skips
    blocks with any NaN.
    """
    complete = features[~np.isnan(features).any(axis=1)]
    if len(complete) < 2:
        raise ValueError(
            f"NIQE is undefined for this image: {len(complete)} of its {len(features)} "
            f"{BLOCK_SIZE}x{BLOCK_SIZE} blocks have texture, and a covariance needs two"
        )
    gap = model.mean - np.nanmean(features, axis=0)
    pooled = np.linalg.pinv((model.cov + np.cov(complete, rowvar=False)) / 2)
    return float(np.sqrt(gap @ pooled @ gap))


def niqe(image, *, crop_border: int = 0) -> float:
    """NIQE of a uint8 HxWx3 RGB or HxW grey image; lower is more natural.

    ``crop_border`` pixels are shaved off each side first (the scale, for SR outputs, as
    PSNR does). What is left is cut to whole 96x96 blocks from the top left; it must hold at
    least two, e.g. 96x192.
    """
    luma = _luma(image, crop_border)
    rows, columns = luma.shape[0] // BLOCK_SIZE, luma.shape[1] // BLOCK_SIZE
    if rows * columns < 2:
        raise ValueError(
            f"NIQE needs at least two {BLOCK_SIZE}x{BLOCK_SIZE} blocks, but the image is "
            f"{luma.shape[0]}x{luma.shape[1]} after crop_border={crop_border}, "
            f"which holds {rows * columns}"
        )
    luma = luma[: rows * BLOCK_SIZE, : columns * BLOCK_SIZE]
    model = _pristine_model()
    full = _block_features(_mscn(luma, model.window), BLOCK_SIZE)
    # Blocks stay aligned: the half-size image is whole 48x48 blocks, one per full block.
    half_image = imresize(luma, scale=0.5).astype(np.float32)
    half = _block_features(_mscn(half_image, model.window), BLOCK_SIZE // 2)
    return _distance(np.concatenate([full, half], axis=1), model)
