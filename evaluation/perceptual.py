"""Perceptual scores beside PSNR and SSIM: LPIPS (with a reference) and NIQE (without one).

PSNR rewards the blurry average of every plausible texture, so a GAN whose images look sharper
scores lower on it; the perceptual SR papers report these two beside it (Blau & Michaeli 2018
plot one against the other). Lower is better for both.

- LPIPS v0.1 with AlexNet (``models.lpips``): the SR image against ``modcrop(HR)``, RGB in
  [0, 1], with the same ``crop_border`` shave as PSNR and SSIM, so every figure of a row
  describes the same pixels and a network's border artefacts count for none of them. BasicSR
  does both: its ``basicsr/metrics/lpips.py`` shaves the ``crop_border`` its PSNR uses, its
  ``scripts/metrics/calculate_lpips.py`` scores whole images. The shave moves bicubic's mean
  from 0.3398 (whole images) to 0.3435 on Set5, from 0.4384 to 0.4395 on Set14. A grey image
  (Set14's ``bridge``) is replicated to three channels, since AlexNet takes RGB.
- NIQE (``evaluation.niqe``): the SR image alone, its luma, the same shave.
- Grid (``evaluation.grid``): how far the SR image's spectrum peaks at the pixel shuffle's
  grid frequencies (a period of the scale: 4 pixels at x4) above its surroundings (log10,
  mean of 15 at x4; the HR images score about -0.2, a visible dot grid about 2). No
  reference, the same shave; numpy only.

Every score shaves the border of its ``scale`` (``data.conventions.shave_border``), as PSNR and
SSIM do.

An image too small for a metric (LPIPS-AlexNet needs 31 pixels a side after the shave, NIQE two
96x96 blocks) scores NaN there, which the tables print as '–'.

The LPIPS weights are looked up, never downloaded here: ``require_lpips_weights`` stops with
one line that names ``python -m models.lpips fetch``. Keras is imported only then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from data.conventions import DEFAULT_SCALE, shave, shave_border
from evaluation.grid import grid_score

LPIPS_NET = "alex"
# The smallest side AlexNet's five layers take (models.lpips_nets.min_image_size("alex")), known
# here so that checking an image needs no Keras.
LPIPS_MIN_SIDE = 31
NIQE_BLOCK = 96
LABELS = {"lpips": "LPIPS", "niqe": "NIQE", "grid": "Grid"}
FORMATS = {"lpips": "{:.4f}", "niqe": "{:.2f}", "grid": "{:.2f}"}
PROTOCOL = (
    "LPIPS (v0.1, AlexNet; lower is better) of SR against modcrop(HR) on RGB in [0, 1], grey "
    "replicated to RGB, same shave; NIQE (lower is better) of the SR image's Y, same shave; "
    "Grid (lower is better): mean log10 of the SR luma's Hann-windowed power at the "
    "frequencies (k/s, l/s) of the scale s, (0, 0) left out, over the median of the bins 2-3 "
    "away, same shave"
)


def require_lpips_weights(hint: str | None = None):
    """The verified path of the AlexNet LPIPS weights, or a ``UserError`` in one line.

    ``hint`` says what else the user can do (evaluate.py: ``--perceptual none``). Nothing is
    downloaded: a tool that silently runs pip for minutes is worse than one clear line.
    """
    from models.lpips_files import MissingLPIPSWeights
    from models.lpips_weights import find_lpips_weights
    from runtime.errors import UserError

    try:
        return find_lpips_weights(LPIPS_NET, download=False)
    except MissingLPIPSWeights as error:
        message = " ".join(str(error).split())
        raise UserError(f"{message}{'; ' + hint if hint else ''}") from None


def as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    return image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)


def lpips_score(reference, estimate, *, crop_border: int = 0, weights=None) -> float:
    """LPIPS-AlexNet between two uint8 images (grey or RGB) after the shave; NaN if too small."""
    from models.lpips import lpips_distance

    reference = shave(as_rgb(reference), crop_border)
    estimate = shave(as_rgb(estimate), crop_border)
    if reference.shape != estimate.shape:
        raise ValueError(f"images differ in shape: {reference.shape} and {estimate.shape}")
    if min(reference.shape[:2]) < LPIPS_MIN_SIDE:
        return math.nan
    return lpips_distance(reference, estimate, LPIPS_NET, weights=weights)


def niqe_score(image, *, crop_border: int = 0) -> float:
    """NIQE of a uint8 image after the shave; NaN if it holds fewer than two 96x96 blocks."""
    from evaluation.niqe import niqe

    height, width = (side - 2 * crop_border for side in np.shape(image)[:2])
    if (height // NIQE_BLOCK) * (width // NIQE_BLOCK) < 2:
        return math.nan
    return niqe(image, crop_border=crop_border)


@dataclass(frozen=True)
class Perceptual:
    """Which perceptual scores to add to each image's PSNR and SSIM, and how."""

    lpips: bool = True
    niqe: bool = False
    grid: bool = False
    scale: int = DEFAULT_SCALE  # the SR images' scale: the shave and the grid's period
    weights: str | None = None  # a verified LPIPS weights file (None: the usual places)

    @property
    def crop_border(self) -> int:
        return shave_border(self.scale)

    @property
    def metrics(self) -> tuple[str, ...]:
        wanted = (("lpips", self.lpips), ("niqe", self.niqe), ("grid", self.grid))
        return tuple(name for name, on in wanted if on)

    def score(self, hr: np.ndarray, sr: np.ndarray) -> dict:
        scores = {}
        if self.lpips:
            scores["lpips"] = lpips_score(
                hr, sr, crop_border=self.crop_border, weights=self.weights
            )
        if self.niqe:
            scores["niqe"] = niqe_score(sr, crop_border=self.crop_border)
        if self.grid:
            scores["grid"] = grid_score(sr, period=self.scale, crop_border=self.crop_border)
        return scores


def perceptual_metrics(
    *, lpips: bool = True, niqe: bool = False, grid: bool = False, hint: str | None = None
):
    """A ``Perceptual`` whose LPIPS weights were found, or None when no score is wanted.

    Call it before any work, so that missing weights stop a run in its first second.
    """
    if not (lpips or niqe or grid):
        return None
    weights = str(require_lpips_weights(hint)) if lpips else None
    return Perceptual(lpips=lpips, niqe=niqe, grid=grid, weights=weights)


def format_score(metric: str, value) -> str:
    if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
        return "–"
    return FORMATS[metric].format(value)
