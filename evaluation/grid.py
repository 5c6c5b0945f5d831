"""How strongly an upscaled image sits on the pixel grid of its generator's pixel shuffle.

The grid's period is the generator's scale (``period``, 4 at x4). A x4 sub-pixel generator
makes each output pixel from one of 16 phase-specific filters ((row mod 4, column mod 4)); when
the 16 disagree, as a GAN's texture lets them, the image carries a regular dot pattern with a
4-pixel period, the checkerboard artefact (Odena et al. 2016, "Deconvolution and Checkerboard
Artifacts"). Such a pattern puts its power at exactly the frequencies (k/4, l/4) cycles per
pixel, while a natural photo's spectrum is smooth there; at x2 it is (k/2, l/2), at x8
(k/8, l/8).

The measure: the luma (BT.601) of the image, the same border shave as PSNR, cropped to a
multiple of the period, minus its mean, times a 2-D Hann window; its FFT power at each of the
period**2 - 1 grid frequencies other than (0, 0) (15 at x4) over the median power of the ring
of bins 2 to 3 away from it (Chebyshev distance, 40 bins), as log10; their mean. About 0 or
below for photos (their spectrum falls off, so a peak's own bin is no brighter than its
neighbours), about 2 when grid peaks stand 100x above their surroundings. Lower is better; the
HR image's own score is the floor a generator can aim for.
"""

from __future__ import annotations

import math

import numpy as np

from data.conventions import DEFAULT_SCALE, rgb_to_y, shave

RING = (2, 3)  # the neighbours' Chebyshev distances from a grid bin, in FFT bins
# The smallest side scored: the ring of the lowest grid frequency must stay clear of DC.
MIN_SIDE = 32
TINY = 1e-20  # a flat image has no power anywhere: its ratios are 1 (log 0), not NaN


def ring_offsets(inner=RING[0], outer=RING[1]):
    return [
        (du, dv)
        for du in range(-outer, outer + 1)
        for dv in range(-outer, outer + 1)
        if inner <= max(abs(du), abs(dv)) <= outer
    ]


def grid_peaks(image, *, period=DEFAULT_SCALE, crop_border=0) -> np.ndarray:
    """log10(power / ring median) at each grid frequency, a (period, period) array with NaN at
    (0, 0); all NaN for an image smaller than ``MIN_SIDE`` after the shave."""
    luma = rgb_to_y(shave(np.asarray(image), crop_border))
    height, width = (side - side % period for side in luma.shape)
    peaks = np.full((period, period), np.nan)
    if min(height, width) < MIN_SIDE:
        return peaks
    luma = luma[:height, :width]
    window = np.outer(np.hanning(height), np.hanning(width))
    power = np.abs(np.fft.fft2((luma - luma.mean()) * window)) ** 2
    offsets = ring_offsets()
    for k in range(period):
        for m in range(period):
            if k == m == 0:
                continue
            u, v = k * height // period, m * width // period
            ring = [power[(u + du) % height, (v + dv) % width] for du, dv in offsets]
            peaks[k, m] = math.log10((power[u, v] + TINY) / (float(np.median(ring)) + TINY))
    return peaks


def grid_score(image, *, period=DEFAULT_SCALE, crop_border=0) -> float:
    """The mean of ``grid_peaks`` over the grid frequencies: higher, a more visible grid."""
    peaks = grid_peaks(image, period=period, crop_border=crop_border)
    if np.all(np.isnan(peaks)):
        return math.nan
    return float(np.nanmean(peaks))


# The grid as a pattern rather than a score: what a generator adds with the period, locally.
# Its high-pass part first (a Gaussian of sigma period / 2 keeps 0.7% of the lowest grid
# frequency, 1 / period, and leaves ramps exactly), then each phase's mean of it over a
# Gaussian window of WINDOW_CELLS cells of period x period pixels (16 pixels at x4: the
# ``--grid-weight`` tile), minus the mean over phases. A notch of that width at the grid
# frequencies: it finds a grid whose strength drifts across the image as texture does, and
# leaves a photo's own detail there nearly alone.
WINDOW_CELLS = 4.0


def grid_component(image, *, period=DEFAULT_SCALE, window=WINDOW_CELLS) -> np.ndarray:
    """The locally periodic part of ``image`` (grey or RGB, any dtype), float32, per channel,
    in the image's own levels; zero in the rows and columns past a multiple of ``period``."""
    import cv2

    pixels = np.asarray(image, np.float32)
    height, width = (side - side % period for side in pixels.shape[:2])
    component = np.zeros_like(pixels)
    if min(height, width) < period:
        return component

    def blur(array, sigma):  # the shape kept: OpenCV drops a last axis of 1
        return cv2.GaussianBlur(np.ascontiguousarray(array), (0, 0), sigma).reshape(array.shape)

    cropped = pixels[:height, :width]
    high = cropped - blur(cropped, period / 2)
    phases = {
        (row, column): blur(high[row::period, column::period], window)
        for row in range(period)
        for column in range(period)
    }
    mean = np.mean(list(phases.values()), axis=0)
    for (row, column), local in phases.items():
        component[row:height:period, column:width:period] = local - mean
    return component


def without_grid(image, *, period=DEFAULT_SCALE, window=WINDOW_CELLS) -> np.ndarray:
    """``image`` (uint8) less its ``grid_component``, rounded back to uint8: what a generator
    without its grid would show, if the notch took nothing else. Where the component is under
    half a grey level, rounding leaves the pixel as it was: a grid that faint survives."""
    component = grid_component(image, period=period, window=window)
    return np.clip(np.rint(np.asarray(image, np.float32) - component), 0, 255).astype(np.uint8)


def grid_amplitude(image, *, period=DEFAULT_SCALE, crop_border=0) -> float:
    """The RMS of the luma's ``grid_component`` in grey levels, after the shave: how strong a
    grid is to the eye (below one level of an 8-bit image it cannot be seen), where
    ``grid_score`` says how far it stands above the spectrum around it."""
    luma = rgb_to_y(shave(np.asarray(image), crop_border))
    return float(np.sqrt(np.mean(grid_component(luma, period=period) ** 2)))
