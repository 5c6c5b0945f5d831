"""GFLOP/s of each convolution shape the generator runs at inference, one op at a time.

The upscaling profile (``upscale_benchmark.py --profile``) says which part of the generator
is slow; this says why. TensorFlow hands oneDNN NHWC tensors, and oneDNN then convolves by
im2col and a GEMM (``ONEDNN_VERBOSE=1`` prints ``x64:gemm:jit``), whose speed depends on the
shape far more than the FLOP count suggests: narrow outputs (12 maps, 3 maps) leave the GEMM
memory-bound. Each shape is timed on its own, as ``upscale.py`` runs it (oneDNN on, one op at
a time), on an input of the size it has for a SIZE x SIZE LR image, and its rate is printed
against the CPU's vector peak (``benchmarks/machine.py``).

    python benchmarks/conv_benchmark.py [--size 128] [--runs 2] [--precision float32]
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # as upscale.py, through runtime/cli.py
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")  # as upscale.py: cli.run_one_op_at_a_time
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.machine import describe_cpu, vector_peak

# (what it is, kernel (height, width), input maps, output maps, resolution in LR sides)
SHAPES = (
    ("body", (3, 3), 64, 64, 1),
    ("tail: before the first shuffle", (3, 3), 64, 256, 1),
    ("tail: a phase group's conv", (3, 3), 64, 64, 2),
    ("tail: a phase group's output conv", (5, 5), 64, 12, 2),
    ("the same in rows (models.subpixel.narrow_conv)", (1, 5), 64, 60, 2),
    ("upsampling tail as saved, at 4x", (3, 3), 64, 64, 4),
    ("output conv as saved, at 4x", (9, 9), 64, 3, 4),
)


def flops(kernel, inputs, outputs, pixels):
    """Multiply-adds counted as two, as ``models/cost.py`` counts them."""
    return 2 * kernel[0] * kernel[1] * inputs * outputs * pixels


def time_conv(kernel, inputs, outputs, side, precision, runs):
    """Best of ``runs`` warm calls, in seconds."""
    from keras import ops

    rng = np.random.default_rng(0)
    x = ops.convert_to_tensor(rng.standard_normal((1, side, side, inputs), np.float32), precision)
    weights = rng.standard_normal((*kernel, inputs, outputs), np.float32)
    w = ops.convert_to_tensor(weights, precision)
    ops.convert_to_numpy(ops.conv(x, w, padding="same"))  # the first call picks the kernel
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        ops.convert_to_numpy(ops.conv(x, w, padding="same"))
        best = min(best, time.perf_counter() - started)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128, help="the LR side (default: 128)")
    parser.add_argument("--runs", type=int, default=2, help="warm calls per shape, best kept")
    parser.add_argument("--precision", choices=["float32", "bfloat16"], default="float32")
    args = parser.parse_args()
    if args.size < 1 or args.runs < 1:
        sys.exit("error: --size and --runs must be positive")
    peak = vector_peak(args.precision)
    print(f"CPU: {describe_cpu()}; {args.precision}; LR side {args.size}")
    print(f"peak: {peak.gflops:.0f} GFLOP/s = {peak.how}")
    print(f"{'shape':>60} {'input':>11} {'ms':>9} {'GFLOP/s':>8} {'% peak':>6}")
    for name, kernel, inputs, outputs, factor in SHAPES:
        side = args.size * factor
        seconds = time_conv(kernel, inputs, outputs, side, args.precision, args.runs)
        rate = flops(kernel, inputs, outputs, side * side) / seconds / 1e9
        label = f"{name} ({kernel[0]}x{kernel[1]}, {inputs}->{outputs})"
        print(
            f"{label:>60} {f'{side}x{side}':>11} {1000 * seconds:9.1f} {rate:8.1f} "
            f"{rate / peak.gflops:6.1%}",
            flush=True,
        )


if __name__ == "__main__":
    main()
