"""MATLAB's bicubic ``imresize``, reproduced, and the SR conventions built on it: modcrop, the
bicubic LR image and the bicubic baseline.

Every PSNR in the SR literature is measured against LR images made by MATLAB's
``imresize(..., 'bicubic')`` and scored on MATLAB's ``rgb2ycbcr`` luma (``data.conventions``
owns that one, with the other image conventions), so the resize is reproduced here; the tests
check that the official Set5/Set14 LR files come out bit for bit. Other resizers
do not: OpenCV's cubic (a = -0.75, no antialiasing) moves the Set5 bicubic baseline by +0.2 dB
when it upscales and by -0.6 dB when it makes the LR images.

Arithmetic on pixel arrays only, kept apart from ``data/images.py`` (which reads and writes the
files): the metrics, NIQE and the tiler use it on arrays that never touch the disk.
"""

from __future__ import annotations

import math

import numpy as np

from data import conventions


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop to multiples of ``scale`` so HR is exactly ``scale`` times its LR (top-left kept)."""
    if int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a positive integer, not {scale!r}")
    scale = int(scale)
    height, width = image.shape[:2]
    return image[: height - height % scale, : width - width % scale]


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5, as in MATLAB's ``imresize``."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * (
        (ax > 1) & (ax <= 2)
    )


def _contributions(in_length: int, out_length: int, scale: float):
    """Per output pixel, the input indices it reads and their weights (MATLAB's contributions)."""
    kernel_width = 4.0
    if scale < 1:
        # Antialiasing: stretch the kernel so that it also low-passes what is thrown away.
        kernel_width = kernel_width / scale

        def kernel(x):
            return scale * _cubic(scale * x)

    else:
        kernel = _cubic
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    indices = left[:, None] + np.arange(taps)
    weights = kernel(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # MATLAB mirrors out-of-range indices: 1..n then n..1, repeated (0-based here).
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    indices = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_length)]
    used = np.any(weights != 0, axis=0)
    return weights[:, used], indices[:, used]


def _resize_axis(image: np.ndarray, axis: int, weights, indices, integer_dtype):
    # With the resized axis first and contiguous, each tap gathers whole rows: several times
    # faster than gathering 3-value pixels along the width.
    source = np.moveaxis(image, axis, 0)
    rest = source.shape[1:]
    source = np.ascontiguousarray(source, dtype=np.float64).reshape(source.shape[0], -1)
    # Sum the taps in order, in float64, exactly as MATLAB's imresizemex does.
    out = source[indices[:, 0]]
    out *= weights[:, :1]
    for tap in range(1, weights.shape[1]):
        term = source[indices[:, tap]]
        term *= weights[:, tap : tap + 1]
        out += term
    if integer_dtype is not None:
        # MATLAB keeps the input class after each pass: saturate, then round half away from 0.
        np.clip(out, 0, np.iinfo(integer_dtype).max, out=out)
        out += 0.5
        out = np.floor(out, out=out).astype(integer_dtype)
    return np.moveaxis(out.reshape((weights.shape[0], *rest)), 0, axis)


def imresize(image: np.ndarray, *, scale=None, output_shape=None) -> np.ndarray:
    """MATLAB's ``imresize(image, scale, 'bicubic')`` (or with an output size), to the grey level.

    The official LR sets were made with it. uint8/uint16 in gives the same type out, rounded and
    clipped after each pass as MATLAB does: rounding only once at the end agrees with the
    official files on only about 90% of pixels. Float in gives float64 out, unclipped.
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be HxW or HxWxC, not {image.shape}")
    if (scale is None) == (output_shape is None):
        raise ValueError("give exactly one of scale and output_shape")
    in_shape = image.shape[:2]
    if scale is not None:
        if not scale > 0:
            raise ValueError(f"scale must be positive, not {scale!r}")
        scales = (float(scale), float(scale))
        out_shape = tuple(math.ceil(scale * n) for n in in_shape)
    else:
        out_shape = tuple(int(n) for n in output_shape)
        if len(out_shape) != 2 or min(out_shape) < 1:
            raise ValueError(f"output_shape must be two positive sizes, not {output_shape!r}")
        scales = tuple(o / i for o, i in zip(out_shape, in_shape, strict=True))

    if image.dtype in (np.uint8, np.uint16):
        integer_dtype = image.dtype.type
        out = image
    elif np.issubdtype(image.dtype, np.floating):
        integer_dtype = None
        out = image.astype(np.float64)
    else:
        raise TypeError(f"image must be uint8, uint16 or floating point, not {image.dtype}")

    # MATLAB resizes the most-shrunk dimension first (height first on a tie).
    for axis in sorted((0, 1), key=lambda a: scales[a]):
        if out_shape[axis] == in_shape[axis] and scales[axis] == 1:
            continue  # the cubic kernel at scale 1 is the identity
        weights, indices = _contributions(in_shape[axis], out_shape[axis], scales[axis])
        out = _resize_axis(out, axis, weights, indices, integer_dtype)
    if out is image:
        return image.copy()
    return np.ascontiguousarray(out)


def bicubic_downscale(hr: np.ndarray, scale: int = conventions.DEFAULT_SCALE) -> np.ndarray:
    """The LR image of the SR benchmarks: MATLAB bicubic of the mod-cropped HR."""
    return imresize(modcrop(hr, scale), scale=1 / scale)


def bicubic_upscale(lr: np.ndarray, scale: int = conventions.DEFAULT_SCALE) -> np.ndarray:
    """The bicubic baseline every SR paper reports."""
    return imresize(lr, scale=scale)
