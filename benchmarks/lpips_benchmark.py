"""How long LPIPS v0.1 takes on one 512x512 pair, per backbone, on this CPU.

Prints the CPU (model name, cores this process may use, its SIMD flags from /proc/cpuinfo),
then for AlexNet and VGG16 the median of ``--runs`` warm calls of ``lpips_distance`` (the model
built and traced beforehand), against the 2-second target for scoring a validation image.

    python benchmarks/lpips_benchmark.py [--runs 5] [--size 512] [--net alex vgg]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import skimage

from models.lpips import lpips_distance
from models.lpips_files import MissingLPIPSWeights
from models.lpips_nets import NETS
from models.lpips_weights import find_lpips_weights

TARGET_SECONDS = 2.0
SIMD_PREFIXES = ("sse4", "avx", "fma", "amx")


def cpu_description(cpuinfo="/proc/cpuinfo"):
    """(model name, SIMD flags) of the first CPU listed; blanks where there is no cpuinfo."""
    model, flags = "unknown CPU", []
    try:
        lines = Path(cpuinfo).read_text().splitlines()
    except OSError:
        return model, flags
    for line in lines:
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model == "unknown CPU":
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = [flag for flag in value.split() if flag.startswith(SIMD_PREFIXES)]
    return model, flags


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--net", nargs="+", default=list(NETS), choices=list(NETS))
    args = parser.parse_args()

    model, flags = cpu_description()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"CPU: {model}, {cores} cores usable; flags: {' '.join(flags) or 'none listed'}")

    photo = cv2.resize(skimage.data.astronaut(), (args.size, args.size))
    blurred = cv2.GaussianBlur(photo, (0, 0), 2)
    for net in args.net:
        try:
            weights = find_lpips_weights(net, download=False)
        except MissingLPIPSWeights as error:
            print(f"LPIPS-{net}: skipped ({error})")
            continue
        for _ in range(2):  # build, trace, and let oneDNN pick its kernels
            distance = lpips_distance(photo, blurred, net, weights=weights)
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            lpips_distance(photo, blurred, net, weights=weights)
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        verdict = "within" if median < TARGET_SECONDS else "over"
        print(
            f"LPIPS-{net} on a {args.size}x{args.size} pair: {median:.3f} s median of "
            f"{args.runs} warm runs (min {min(times):.3f}, max {max(times):.3f}; {verdict} the "
            f"{TARGET_SECONDS:.0f} s target); distance {distance:.4f}"
        )


if __name__ == "__main__":
    main()
