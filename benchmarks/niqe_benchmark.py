"""How long evaluation.niqe.niqe takes: a 512x512 photo and a DIV2K-sized 2040x1356 one.

    python benchmarks/niqe_benchmark.py              # best of 5 runs per size
    python benchmarks/niqe_benchmark.py --runs 20

The first call also reads and hashes the pristine model (once per process); it is timed apart.
The best run is reported, since a shared machine only ever makes a run slower. CPU seconds are
printed beside wall seconds.
"""

import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from skimage import data

from evaluation.niqe import niqe


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def photo(height: int, width: int) -> np.ndarray:
    """scikit-image's astronaut, mirrored out to the size asked: NIQE's cost depends on it."""
    image = data.astronaut()
    reps = (-(-height // image.shape[0]), -(-width // image.shape[1]), 1)
    tiles = np.tile(np.concatenate([image, image[::-1]], axis=0), reps)
    return np.ascontiguousarray(tiles[:height, :width])


def timed(image: np.ndarray):
    wall, cpu = time.perf_counter(), time.process_time()
    score = niqe(image)
    return score, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per size; the best is kept")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}")

    _, first_wall, _ = timed(photo(512, 512))
    print(f"first call (loads and checks the model): {first_wall * 1000:.0f} ms")
    for height, width in ((512, 512), (1356, 2040)):
        image = photo(height, width)
        runs = [timed(image) for _ in range(args.runs)]
        score, wall, cpu = min(runs, key=lambda run: run[1])
        print(
            f"{width}x{height}: NIQE {score:.4f}, best of {args.runs}: "
            f"{wall * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU"
        )


if __name__ == "__main__":
    main()
