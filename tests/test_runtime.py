"""The process-wide settings that decide training and inference speed."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_onednn_is_requested_before_tensorflow_loads():
    assert os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1"


# train.py goes through cli; training steps are ~4x faster with oneDNN, upscaling 1.5-3x.
@pytest.mark.parametrize(
    "entry", ["import cli", "import models", "import upscale", "import evaluate"]
)
def test_every_entry_point_turns_onednn_on(entry):
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
    assert out.strip().splitlines()[-1] == "True"
