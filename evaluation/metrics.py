"""PSNR and SSIM measured the way the SR papers measure them, so our figures compare with theirs.

The protocol (SRCNN, EDSR, BasicSR): score the BT.601 luma (MATLAB's ``rgb2ycbcr``) unrounded,
after shaving ``scale`` pixels off each border, and compute SSIM as MATLAB's ``ssim_index``
does: an 11x11 Gaussian window (sigma 1.5) over the valid region only. ``y_channel=False``
scores all RGB channels instead, as the student report did.
"""

from __future__ import annotations

import math

import numpy as np
from skimage.metrics import structural_similarity

from data.conventions import SSIM_WINDOW, rgb_to_y, shave

DATA_RANGE = 255.0


def _prepare(reference, estimate, crop_border: int, y_channel: bool):
    reference = np.asarray(reference)
    estimate = np.asarray(estimate)
    if reference.shape != estimate.shape:
        raise ValueError(
            f"reference has shape {reference.shape} but estimate has shape {estimate.shape}"
        )
    if not (reference.ndim == 2 or (reference.ndim == 3 and reference.shape[2] == 3)):
        raise ValueError(f"images must be HxW or HxWx3, not {reference.shape}")
    reference = shave(reference, crop_border)
    estimate = shave(estimate, crop_border)
    if y_channel:
        # A grey image is already its own luma: rgb_to_y returns it as it is.
        return rgb_to_y(reference), rgb_to_y(estimate)
    return reference.astype(np.float64), estimate.astype(np.float64)


def psnr(reference, estimate, *, crop_border: int = 0, y_channel: bool = True) -> float:
    """Peak signal-to-noise ratio in dB for 0-255 images; ``inf`` when they are identical."""
    reference, estimate = _prepare(reference, estimate, crop_border, y_channel)
    mse = float(np.mean((reference - estimate) ** 2))
    if mse == 0:
        return float("inf")
    return 10 * math.log10(DATA_RANGE**2 / mse)


def ssim(reference, estimate, *, crop_border: int = 0, y_channel: bool = True) -> float:
    """MATLAB's SSIM (Wang et al. 2004), averaged over the channels scored.

    skimage filters the whole image with the same separable 11-tap Gaussian and then drops the
    5-pixel border that padding touched, which leaves exactly MATLAB's 'valid' region.
    The tests check this against a direct implementation.
    """
    reference, estimate = _prepare(reference, estimate, crop_border, y_channel)
    return float(
        structural_similarity(
            reference,
            estimate,
            win_size=SSIM_WINDOW,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            K1=0.01,
            K2=0.03,
            data_range=DATA_RANGE,
            channel_axis=-1 if reference.ndim == 3 else None,
        )
    )
