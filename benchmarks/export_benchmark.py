"""Seconds per image of the exported generator in each runtime, against Keras; Set5 agreement.

    python benchmarks/export_benchmark.py                  # 256x256, 3 rounds
    python benchmarks/export_benchmark.py --size 128 --rounds 5 --no-set5

The 16-block generator (``weights/srresnet_x4.keras`` when it ships, else random weights:
speed does not depend on them) is exported to every format (float32) and the float16 and int8
TFLite variants by ``export.files``, into a temporary folder. One 256x256 uint8 LR image
then goes through Keras's ``predict_on_batch`` (the generator as saved), ``upscale.py``'s path
(``inference.tiling.upscale``: folded batch norms, polyphase tail) and each exported file in its
own runtime: TensorFlow for SavedModel, LiteRT (XNNPACK, one thread per core) for TFLite,
onnxruntime (CPU) for ONNX. After one warm-up call each, the runtimes take turns, round after
round, so a busy moment of the machine hits them alike; each figure is the median of its
rounds.

With the shipped weights and Set5 (``--data-dir``, default ``../shared/datasets`` or
``datasets/``), every export's mean PSNR-Y on Set5 is compared with Keras's as evaluate.py
measures it (``evaluation.benchmark``: modcrop, official LR, Y channel, 4-pixel shave); float32
exports must agree within 0.01 dB.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # as the tools, through runtime/cli.py
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")  # as upscale.py: one op at a time
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.machine import describe_cpu

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED = REPO_ROOT / "weights" / "srresnet_x4.keras"
AGREEMENT_DB = 0.01


def test_image(size):
    """A photo-like LR image (scikit-image's astronaut, resized)."""
    from skimage import data as skimage_data

    from data.matlab_functions import imresize

    return imresize(skimage_data.astronaut(), output_shape=(size, size))


def default_data_dir():
    shared = REPO_ROOT.parent / "shared" / "datasets"
    return shared if shared.is_dir() else REPO_ROOT / "datasets"


def weights_file(folder):
    """The shipped weights, else a random 16-block generator saved in ``folder``."""
    if SHIPPED.is_file():
        return SHIPPED, True
    import keras

    from models.generator import build_generator

    keras.utils.set_random_seed(0)
    path = Path(folder) / "random_b16.keras"
    build_generator().save(path)
    return path, False


def time_rounds(runners, batch, rounds):
    """Median seconds per image of each runner, the runners taking turns round after round."""
    for run in runners.values():
        run(batch)  # warm-up: tracing, allocation, weight packing
    seconds = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            started = time.perf_counter()
            run(batch)
            seconds[name].append(time.perf_counter() - started)
    return {name: (statistics.median(s), min(s), max(s)) for name, s in seconds.items()}


def set5_scores(weights, exports, data_dir):
    """Keras's Set5 PSNR-Y as evaluate.py measures it, and each export's."""
    from evaluation.benchmark import load_method, load_test_image, resolve_dataset, score
    from evaluation.benchmark import super_resolve as keras_super_resolve
    from export.checks import dataset_psnr
    from export.runtimes import load_exported

    dataset = resolve_dataset("Set5", data_dir)
    pairs = [load_test_image(dataset.name, image) for image in dataset.images]
    method = load_method(weights)
    keras_psnr = float(
        np.mean([score(p.hr, keras_super_resolve(method, p.lr))["psnr_y"] for p in pairs])
    )
    rows = {}
    for item in exports:
        run = load_exported(item.path)
        rows[f"{item.format} {item.precision}"] = dataset_psnr(run, pairs)
    return keras_psnr, rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="LR side (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (default: %(default)s)")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--no-set5", action="store_true", help="skip the Set5 agreement")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    from data.conventions import to_model_input
    from export.convert import QUANTIZATIONS
    from export.files import export_generator
    from export.runtimes import load_exported
    from inference import tiling
    from inference.weights import load_generator
    from runtime.errors import UserError

    tf.get_logger().setLevel("ERROR")  # Keras retraces for each Set5 size, and says so
    print(describe_cpu())
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        weights, shipped = weights_file(folder)
        print(f"weights: {weights if shipped else 'random, 16 blocks (no shipped weights)'}")
        started = time.perf_counter()
        exports = export_generator(weights, Path(folder) / "exported", quantize=QUANTIZATIONS)
        print(f"exported {len(exports)} files in {time.perf_counter() - started:.0f} s", flush=True)

        generator = load_generator(weights)
        image = test_image(args.size)
        batch = image[None]
        runners = {
            "Keras predict_on_batch": lambda b: generator.predict_on_batch(to_model_input(b)),
            "upscale.py (inference.tiling)": lambda b: tiling.upscale(b[0], generator, tile=0),
        }
        for item in exports:
            run = load_exported(item.path)
            runners[f"{item.format} {item.precision} ({run.runtime})"] = run
        results = time_rounds(runners, batch, args.rounds)
        baseline = results["Keras predict_on_batch"][0]
        print(
            f"\n{args.size}x{args.size} LR -> {4 * args.size}x{4 * args.size}, batch 1, "
            f"median of {args.rounds} rounds after a warm-up"
        )
        print(f"{'runtime':<48} {'s/image':>8} {'range':>13} {'vs Keras':>9}")
        for name, (median, low, high) in results.items():
            print(f"{name:<48} {median:8.2f} {low:6.2f}-{high:<6.2f} {baseline / median:8.2f}x")

        if args.no_set5:
            return 0
        if not shipped:
            print("\nSet5: skipped (no shipped weights to score)")
            return 0
        try:
            keras_psnr, rows = set5_scores(weights, exports, args.data_dir)
        except UserError as error:  # Set5 is not there
            print(f"\nSet5: skipped ({error})")
            return 0
        print("\nSet5 PSNR-Y (dB), evaluate.py's protocol; Keras (upscale.py's path):")
        print(f"{'Keras':<20} {keras_psnr:8.4f}")
        failed = False
        for name, value in rows.items():
            change = value - keras_psnr
            verdict = ""
            if name.endswith("float32"):
                ok = abs(change) < AGREEMENT_DB
                failed |= not ok
                verdict = "agrees" if ok else f"DIFFERS by more than {AGREEMENT_DB} dB"
            print(f"{name:<20} {value:8.4f} {change:+8.4f} {verdict}")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
