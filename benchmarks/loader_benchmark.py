"""How fast the paper preset's loader makes batches, next to what a GAN step needs.

Prints: MATLAB-bicubic imresize's time on a DIV2K-sized image (2040x1356 down x4 and back),
the one-off preparation time (decode + MATLAB bicubic + .npy cache), batches/s read from
the cache on one thread and through the background Prefetcher, and the full-size GAN step's
seconds (batch 16, HR 96, VGG54), so the loader's margin over the step is one division.

    python benchmarks/loader_benchmark.py [FOLDER_OR_DATASET] [--batches 200]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from data.conventions import DEFAULT_SCALE
from data.matlab_functions import imresize
from data.pairs import PairSource, Prefetcher
from data.resolve import resolve_training_set


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "train" / "BSD200"
    parser.add_argument(
        "dataset", nargs="?", default=str(default if default.is_dir() else "sample")
    )
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--hr-size", type=int, default=96)
    parser.add_argument("--gan-steps", type=int, default=5, help="0 skips the GAN step timing")
    args = parser.parse_args()

    image = np.random.default_rng(0).integers(0, 256, (1356, 2040, 3), dtype=np.uint8)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        imresize(imresize(image, scale=1 / DEFAULT_SCALE), scale=DEFAULT_SCALE)
        best = min(best, time.perf_counter() - started)
    print(f"MATLAB bicubic imresize of a 2040x1356 image down x4 and back up: {best:.3f} s")

    images = resolve_training_set(args.dataset).train
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        source = PairSource(
            images, mode="crop", hr_size=args.hr_size, cache_dir=cache, augment=True, progress=False
        )
        prepare = time.perf_counter() - started
        print(
            f"{len(source)} images prepared in {prepare:.1f} s "
            f"({len(source) / prepare:.1f} img/s, once per dataset); "
            f"{len(source.skipped)} skipped"
        )

        started = time.perf_counter()
        for index in range(args.batches):
            source.batch(0, 0, index, args.batch_size)
        serial = args.batches / (time.perf_counter() - started)

        started = time.perf_counter()
        prefetch = Prefetcher(
            source,
            seed=0,
            batch_size=args.batch_size,
            steps_per_epoch=10**6,
            start=0,
            stop=args.batches,
        )
        for _ in prefetch:
            pass
        prefetch.close()
        prefetched = args.batches / (time.perf_counter() - started)
    print(
        f"loader: {serial:.0f} batches/s on one thread, {prefetched:.0f} batches/s through "
        f"the prefetcher (batch {args.batch_size}, HR {args.hr_size}, flips and rotations)"
    )

    if args.gan_steps:
        from training.config import resolve_config
        from training.loop import build_networks, gan_step, real_labels

        config = resolve_config("paper", "gan", {"dataset": "sample"})
        networks = build_networks(config)
        rng = np.random.default_rng(0)
        lr = rng.uniform(size=(16, 24, 24, 3)).astype("float32")
        hr = rng.uniform(-1, 1, size=(16, 96, 96, 3)).astype("float32")
        labels = real_labels(config, 0, 16)
        for _ in range(2):
            gan_step(networks, lr, hr, labels)
        started = time.perf_counter()
        for _ in range(args.gan_steps):
            gan_step(networks, lr, hr, labels)
        step = (time.perf_counter() - started) / args.gan_steps
        needed = 1 / step
        print(
            f"GAN step: {step:.2f} s, so training needs {needed:.2f} batches/s; "
            f"the loader is {serial / needed:.0f}x faster than needed (target: at least 10x)"
        )


if __name__ == "__main__":
    main()
