"""Real JPEGs, no reference: NIQE of each model's 4x output of photos saved at JPEG quality 40-70.

The benchmark tables degrade clean photos by MATLAB bicubic, which is not what people upscale:
their photos come as JPEGs. Here the two held-out sample photos (scikit-image's chelsea and
coffee, in no training set) are saved at each JPEG quality and upscaled as they are, the way
``upscale.py`` would get them; with no ground truth at 4x their size, each output is scored by
NIQE (lower is more natural; ``evaluation/niqe.py``, 4-pixel border crop), beside bicubic
enlargement of the same JPEG. A model that turns 8x8 JPEG blocks into texture scores worse here
than on clean inputs.

    python benchmarks/jpeg_niqe.py [--qualities 40 55 70] [--weights srgan srresnet ...]
        [--crop 192]   # the centre crop of each photo, LR pixels (0: the whole photo)
"""

import argparse
import io
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PIL import Image

from benchmarks.machine import describe_cpu

PHOTOS = ("chelsea", "coffee")


def photo(name, crop):
    from skimage import data

    pixels = getattr(data, name)()
    if crop:
        top, left = (max(0, (side - crop) // 2) for side in pixels.shape[:2])
        pixels = pixels[top : top + crop, left : left + crop]
    return np.ascontiguousarray(pixels)


def as_jpeg(pixels, quality):
    """The photo after a JPEG round trip at ``quality`` (4:2:0, as cameras and the web save)."""
    stream = io.BytesIO()
    Image.fromarray(pixels).save(stream, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(stream.getvalue())).convert("RGB"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qualities", type=int, nargs="+", default=[40, 55, 70])
    parser.add_argument(
        "--weights",
        nargs="+",
        default=["srresnet", "srgan"],
        help="shipped names or .keras files (default: %(default)s)",
    )
    parser.add_argument("--crop", type=int, default=192, help="centre crop in LR pixels (0: all)")
    args = parser.parse_args(argv)

    from data.conventions import DEFAULT_SCALE, shave_border
    from data.matlab_functions import imresize
    from evaluation.niqe import niqe
    from inference.tiling import upscale
    from inference.weights import load_generator, resolve_weights
    from models.description import describe
    from runtime.errors import UserError

    generators = {}
    for value in args.weights:
        path = resolve_weights(value)
        generators[Path(path).stem] = load_generator(path, "float32")
    scales = {describe(generator).scale for generator in generators.values()} or {DEFAULT_SCALE}
    if len(scales) > 1:
        raise UserError(f"the generators have different scales ({sorted(scales)}): give one")
    (scale,) = scales
    methods = {"bicubic": lambda lr: imresize(lr, scale=scale)}
    for name, generator in generators.items():
        methods[name] = lambda lr, g=generator: upscale(lr, g)
    print(describe_cpu(), flush=True)
    crop = args.crop or "none"
    print(f"NIQE (lower is more natural), {scale}x of each JPEG, crop {crop}, float32")
    scores = {name: {} for name in methods}
    started = time.perf_counter()
    for quality in args.qualities:
        for name_of_photo in PHOTOS:
            lr = as_jpeg(photo(name_of_photo, args.crop), quality)
            for name, method in methods.items():
                border = shave_border(scale)
                scores[name][quality, name_of_photo] = niqe(method(lr), crop_border=border)
        print(f"quality {quality} done ({time.perf_counter() - started:.0f} s)", flush=True)
    columns = [f"q{q} {p}" for q in args.qualities for p in PHOTOS]
    print("| Method | " + " | ".join(columns) + " | Mean |")
    print("|---" * (len(columns) + 2) + "|")
    for name, by_case in scores.items():
        values = [by_case[q, p] for q in args.qualities for p in PHOTOS]
        cells = " | ".join(f"{value:.2f}" for value in values)
        print(f"| {name} | {cells} | {np.mean(values):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
