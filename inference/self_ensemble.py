"""x8 geometric self-ensemble: super-resolve the 8 flips and rotations of an image, undo each
and average (Timofte et al. 2016, "Seven ways to improve example-based single image super
resolution"; the "+" models of EDSR, Lim et al. 2017).

A network trained on flipped and rotated crops should answer each transformed image with the
transformed answer; it does not quite, and averaging its 8 answers cancels part of its error,
at 8 times the compute. Averaging also softens: measured on Set5 / Set14, srresnet_x4 gained
0.21 / 0.12 dB of PSNR-Y and lost a little LPIPS; srgan_x4 gained 0.9 / 0.5 dB but gave back
much of its LPIPS lead (README, Upscaling). It is a test-time choice, not the model:
tables name such rows with a ``+`` (``srresnet_x4+``) and keep the plain rows beside them.
"""

from __future__ import annotations

import numpy as np

# (quarter turns, mirror left-right): the dihedral group of the square, identity first.
TRANSFORMS = tuple((turns, mirror) for mirror in (False, True) for turns in range(4))


def transform(image: np.ndarray, turns: int, mirror: bool) -> np.ndarray:
    """``image`` (H x W or H x W x C) turned ``turns`` quarter turns, then mirrored."""
    out = np.rot90(image, turns, axes=(0, 1))
    return out[:, ::-1] if mirror else out


def untransform(image: np.ndarray, turns: int, mirror: bool) -> np.ndarray:
    """The inverse of ``transform``: ``untransform(transform(x, t, m), t, m)`` is ``x``."""
    out = image[:, ::-1] if mirror else image
    return np.rot90(out, -turns, axes=(0, 1))


def self_ensemble(image: np.ndarray, super_resolve) -> np.ndarray:
    """The float32 mean over ``TRANSFORMS`` of ``untransform(super_resolve(transform(image)))``.

    ``super_resolve`` maps an H x W x C array (C-contiguous) to its sH x sW x C' answer.
    """
    total = None
    for turns, mirror in TRANSFORMS:
        view = np.ascontiguousarray(transform(image, turns, mirror))
        answer = untransform(np.asarray(super_resolve(view), np.float32), turns, mirror)
        if total is None:
            total = np.array(answer, np.float32)  # a copy: the answer may be reused
        else:
            total += answer
    total /= np.float32(len(TRANSFORMS))
    return total
