"""benchmarks/conv_benchmark.py: one row per inference conv shape, rated against the peak."""

import subprocess
import sys
from pathlib import Path

from benchmarks.conv_benchmark import SHAPES, flops
from models.cost import flops_per_input_pixel
from models.generator import build_generator

ROOT = Path(__file__).resolve().parents[1]


def test_the_body_conv_counts_as_models_cost_counts_it():
    """16 blocks of two body convs, the body's closing conv and the 9x9 head: cost's body."""
    body = next(shape for shape in SHAPES if shape[0] == "body")
    head = flops((9, 9), 3, 64, 1)
    expected = (2 * 16 + 1) * flops(*body[1:4], 1) + head
    cost = flops_per_input_pixel(build_generator())
    assert abs(cost.body - expected) / expected < 0.01  # the PReLUs and adds are not convs


def test_prints_a_rated_row_for_every_shape():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "conv_benchmark.py"), "--size", "2"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    rows = [line for line in done.stdout.splitlines() if line.rstrip().endswith("%")]
    assert len(rows) == len(SHAPES)
    assert all(float(row.split()[-2]) > 0 for row in rows)  # GFLOP/s


def test_refuses_a_size_of_zero():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "conv_benchmark.py"), "--size", "0"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode != 0 and done.stderr.strip().splitlines() == [
        "error: --size and --runs must be positive"
    ]
