"""Validation during training: the generator on held-out pairs, scored as the papers score.

PSNR-Y and SSIM-Y with the papers' border shave, the scale (4 pixels at x4;
``data.conventions.shave_border``) as the generator itself says it (``models.description``),
and RGB PSNR as the student report gave it; in the GAN stage LPIPS as well
(``evaluation.perceptual``: AlexNet, RGB, the same shave), the score a GAN checkpoint is chosen
by. The SR images come back too, for the sample grids.
"""

import numpy as np

from data.conventions import output_to_uint8, shave_border, to_model_input
from evaluation.metrics import psnr, ssim
from evaluation.perceptual import lpips_score
from models.description import describe


def predict(generator, batch):
    """``generator.predict_on_batch`` as a numpy array (``predict_on_batch`` keeps less memory
    than calling the model, and ``predict`` would split the batch)."""
    return np.asarray(generator.predict_on_batch(np.asarray(batch)))


def super_resolve(generator, lr_images):
    """uint8 LR images (any sizes) -> uint8 SR images; equal sizes share one call."""
    results = [None] * len(lr_images)
    by_shape = {}
    for index, image in enumerate(lr_images):
        by_shape.setdefault(image.shape, []).append(index)
    for indices in by_shape.values():
        batch = to_model_input(np.stack([lr_images[i] for i in indices]))
        for i, sr in zip(indices, predict(generator, batch), strict=True):
            results[i] = output_to_uint8(sr)
    return results


def validate(generator, triples, *, lpips_weights=None):
    """Mean PSNR-Y / SSIM-Y (shaving the generator's scale, as the papers) and RGB PSNR, with
    the SR images.

    ``lpips_weights`` (a verified file, ``evaluation.perceptual.require_lpips_weights``) adds
    the mean LPIPS; pretraining leaves it out, as it costs time and says little there.
    """
    border = shave_border(describe(generator).scale)
    srs = super_resolve(generator, [lr for _, lr, _ in triples])
    rows = [
        (
            psnr(hr, sr, crop_border=border, y_channel=True),
            ssim(hr, sr, crop_border=border, y_channel=True),
            psnr(hr, sr, crop_border=border, y_channel=False),
        )
        for (_, _, hr), sr in zip(triples, srs, strict=True)
    ]
    psnr_y, ssim_y, psnr_rgb = (float(np.mean(column)) for column in zip(*rows, strict=True))
    metrics = {"psnr_y": psnr_y, "ssim_y": ssim_y, "psnr_rgb": psnr_rgb}
    if lpips_weights is not None:
        distances = [
            lpips_score(hr, sr, crop_border=border, weights=lpips_weights)
            for (_, _, hr), sr in zip(triples, srs, strict=True)
        ]
        metrics["lpips"] = float(np.mean(distances))
    return metrics, srs
