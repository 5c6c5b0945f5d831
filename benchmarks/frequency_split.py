"""Where a GAN generator's PSNR goes: its low frequencies or its texture.

The paper's perceptual loss (VGG54 features plus 1e-3 adversarial) says little about colour
and brightness at LR scale, which the LR input already fixes. This prints, per dataset and per
generator, the PSNR-Y, the LPIPS and the MSE of the SR and HR images both average-pooled 4x4
(on the generator's [-1, 1] scale: what ``--consistency-weight`` trains), and then the GAN
image with its frequencies below a Gaussian of sigma pixels (HR scale) replaced by the PSNR
model's. If the composite gains PSNR without losing LPIPS, the GAN's loss of PSNR was low-
frequency error, not texture, and a term that pins the low frequencies is worth its weight.

    python benchmarks/frequency_split.py weights/srresnet_x4.keras runs/<gan run>/checkpoints/step_N
        [--datasets Set5 Set14] [--data-dir ../shared/datasets] [--sigmas 1 2 4]
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.machine import describe_cpu  # noqa: E402
from data.conventions import DEFAULT_SCALE, to_model_output  # noqa: E402


def pooled(image, scale=DEFAULT_SCALE):
    """``image`` (uint8, HxW or HxWxC) on [-1, 1], average-pooled scale x scale as the
    training's consistency target is (``models.gan.pooled_like_consistency``)."""
    from models.gan import pooled_like_consistency

    x = to_model_output(image)
    x = x if x.ndim == 3 else x[:, :, None]
    height, width = x.shape[0] // scale * scale, x.shape[1] // scale * scale
    result = pooled_like_consistency(x[None, :height, :width], scale)[0]
    return result if np.ndim(image) == 3 else result[:, :, 0]


def pooled_mse(hr, sr, scale=DEFAULT_SCALE):
    return float(np.mean((pooled(sr, scale) - pooled(hr, scale)) ** 2))


def low_frequencies_of(psnr_sr, gan_sr, sigma):
    """``gan_sr`` with its content below a Gaussian of ``sigma`` replaced by ``psnr_sr``'s."""
    import cv2

    gan, psnr = (np.asarray(image, np.float32) for image in (gan_sr, psnr_sr))
    blur = lambda image: cv2.GaussianBlur(image, (0, 0), sigma)  # noqa: E731
    return np.clip(np.rint(gan - blur(gan) + blur(psnr)), 0, 255).astype(np.uint8)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("psnr", help="the PSNR-trained generator (.keras, run or checkpoint)")
    parser.add_argument("gan", help="the GAN generator fine-tuned from it")
    parser.add_argument("--datasets", nargs="+", default=["Set5", "Set14"])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--sigmas", nargs="+", type=float, default=[1.0, 2.0, 4.0])
    return parser.parse_args(argv)


def main(argv=None):
    from evaluation.benchmark import (
        load_method,
        load_test_image,
        resolve_datasets,
        score,
        super_resolve,
    )
    from evaluation.perceptual import perceptual_metrics
    from runtime.cli import import_keras_quietly

    args = parse_args(argv)
    datasets = resolve_datasets(args.datasets, args.data_dir)
    import_keras_quietly()
    perceptual = perceptual_metrics()
    psnr_model, gan_model = load_method(args.psnr), load_method(args.gan)
    rows = {}  # (label, dataset) -> list of per-image (psnr_y, lpips, pooled mse)
    for dataset in datasets:
        for image in dataset.images:
            pair = load_test_image(dataset.name, image)
            psnr_sr = super_resolve(psnr_model, pair.lr)
            gan_sr = super_resolve(gan_model, pair.lr)
            candidates = {psnr_model.name: psnr_sr, gan_model.name: gan_sr}
            for sigma in args.sigmas:
                label = f"{gan_model.name}, below sigma {sigma:g} from {psnr_model.name}"
                candidates[label] = low_frequencies_of(psnr_sr, gan_sr, sigma)
            for label, sr in candidates.items():
                scores = score(pair.hr, sr, perceptual=perceptual)
                figures = (scores["psnr_y"], scores["lpips"], pooled_mse(pair.hr, sr))
                rows.setdefault((label, dataset.name), []).append(figures)
    print(describe_cpu())
    print("| generator | dataset | PSNR-Y | LPIPS | pooled 4x4 MSE |")
    print("|---|---|---|---|---|")
    for (label, name), figures in rows.items():
        psnr_y, lpips, mse = np.nanmean(np.array(figures), axis=0)
        print(f"| {label} | {name} | {psnr_y:.2f} | {lpips:.4f} | {mse:.5f} |")
    return 0


if __name__ == "__main__":
    from runtime.cli import exit_with, run

    exit_with(run(main))
