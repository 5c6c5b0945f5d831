"""Network interpolation: one generator between a PSNR-trained and a GAN-trained one.

SRGAN trades distortion for perceptual quality, and where on that curve a user wants to be
depends on the photo. Wang et al. (ESRGAN, 2018, section 3.4) found that blending the weights of
the PSNR-oriented network and its GAN fine-tuning, ``(1 - alpha) * psnr + alpha * gan``, moves
smoothly between the two: fewer GAN artefacts than the GAN model, sharper than the PSNR one,
and more continuous than blending the output images. It works because the GAN model starts
from the PSNR model's weights (train.py's ``--init-generator``), so the two lie close together.

Every weight is blended, BatchNorm's moving mean and variance included (ESRGAN's network has no
BatchNorm; SRResNet's statistics move little in the GAN stage, and a linear blend of them is
what the blended kernels see in between).

``python -m inference.interpolation PSNR_WEIGHTS GAN_WEIGHTS --alpha 0.6 --output out.keras``
writes one file; several ``--alpha`` values with ``--output-dir`` write a sweep to evaluate with
``evaluate.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from runtime import atomic
from runtime.errors import UserError


def check_alpha(alpha):
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise UserError(f"--alpha {alpha:g} is outside [0, 1] (0: the PSNR model, 1: the GAN one)")
    return alpha


def _weight_shapes(model):
    return [tuple(weight.shape) for weight in model.weights]


def interpolate_generators(psnr_model, gan_model, alpha):
    """A new generator whose every weight is ``(1 - alpha) * psnr + alpha * gan``.

    Both must be the same architecture (the same weight shapes, in order); anything
    else is refused in one line, since a blend of unrelated networks means nothing.
    """
    import keras
    import numpy as np

    alpha = check_alpha(alpha)
    psnr_shapes, gan_shapes = _weight_shapes(psnr_model), _weight_shapes(gan_model)
    if psnr_shapes != gan_shapes:
        raise UserError(
            f"the two generators differ in architecture ({len(psnr_shapes)} and "
            f"{len(gan_shapes)} weight tensors, or their shapes); interpolate a GAN model with "
            "the PSNR model it was fine-tuned from"
        )
    blended = keras.models.clone_model(psnr_model)
    blended.set_weights(
        [
            (1.0 - alpha) * np.asarray(a, dtype=np.float64) + alpha * np.asarray(b, np.float64)
            for a, b in zip(psnr_model.get_weights(), gan_model.get_weights(), strict=True)
        ]
    )
    return blended


def save_generator(model, path):
    """Save ``model`` to ``path`` atomically: a crash leaves the old file or the new."""
    path = Path(path)
    if path.suffix != ".keras":
        raise UserError(f"{path}: the output must be a .keras file")
    return atomic.save_model(model, path)


def sweep_name(alpha):
    """``alpha_0.60.keras``: names that sort in alpha order and say what they hold."""
    return f"alpha_{alpha:.2f}.keras"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m inference.interpolation",
        description="Blend a PSNR-trained generator with its GAN fine-tuning (ESRGAN's "
        "network interpolation): (1 - alpha) * PSNR + alpha * GAN, weight by weight.",
    )
    parser.add_argument("psnr", help="the PSNR model: a .keras file, a run folder or a name")
    parser.add_argument("gan", help="the GAN model fine-tuned from it (same forms)")
    parser.add_argument(
        "--alpha", type=float, nargs="+", required=True, help="0: the PSNR model; 1: the GAN one"
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--output", type=Path, help="the .keras file to write (one --alpha)")
    target.add_argument(
        "--output-dir", type=Path, help="a folder for one alpha_<alpha>.keras per --alpha"
    )
    return parser.parse_args(argv)


def main(argv=None):
    from inference.weights import load_generator, resolve_weights

    args = parse_args(argv)
    alphas = [check_alpha(alpha) for alpha in args.alpha]
    if args.output is not None and len(alphas) != 1:
        raise UserError("--output takes one --alpha; use --output-dir for several")
    psnr_model = load_generator(resolve_weights(args.psnr))
    gan_model = load_generator(resolve_weights(args.gan))
    for alpha in alphas:
        path = args.output if args.output is not None else args.output_dir / sweep_name(alpha)
        save_generator(interpolate_generators(psnr_model, gan_model, alpha), path)
        print(f"alpha {alpha:.2f}: {path}")
    return 0


if __name__ == "__main__":
    from runtime.cli import exit_with, run

    exit_with(run(main))
