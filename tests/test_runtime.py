"""The process-wide settings that decide training and inference speed."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_onednn_is_requested_before_tensorflow_loads():
    assert os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("import cli", "True"),  # train.py: training steps are ~4x faster with oneDNN
        ("import models", "True"),
        ("import upscale", "True"),  # upscaling is 1.5-3x faster with it
        ("import evaluate", "True"),
    ],
)
def test_every_entry_point_turns_onednn_on(entry, expected):
    pytest.importorskip("tensorflow")
    code = (
        f"{entry}\nimport tensorflow\n"
        "from tensorflow.python.util import _pywrap_util_port as port\n"
        "print(port.IsMklEnabled())"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip().splitlines()[-1] == expected
