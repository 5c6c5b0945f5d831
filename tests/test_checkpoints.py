import json
import os

import keras
import numpy as np
import pytest

from models.gan import compile_generator
from models.generator import build_generator
from runtime.errors import UserError
from training import checkpoints


def trained_generator():
    generator = compile_generator(build_generator(blocks=1), learning_rate=1e-3)
    rng = np.random.default_rng(0)
    generator.train_on_batch(rng.uniform(size=(2, 6, 6, 3)), rng.uniform(-1, 1, (2, 24, 24, 3)))
    return generator


def test_save_restore_round_trip(tmp_path):
    generator = trained_generator()
    saved = checkpoints.save_checkpoint(
        tmp_path,
        step=5,
        models={"generator": generator},
        optimizers={"generator": generator.optimizer},
        state={"epoch": 1},
    )
    assert checkpoints.latest_checkpoint(tmp_path) == saved
    state, optimizers = checkpoints.read_checkpoint(saved)
    assert state == {"epoch": 1, "step": 5}

    fresh = compile_generator(build_generator(blocks=1), learning_rate=1e-3)
    checkpoints.restore_optimizer(
        fresh.optimizer, fresh.trainable_variables, optimizers["generator"]
    )
    fresh.load_weights(saved / "generator.keras")
    for a, b in zip(generator.optimizer.variables, fresh.optimizer.variables, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    assert int(fresh.optimizer.iterations) == 1


def test_only_the_newest_are_kept_and_no_temporary_folders_remain(tmp_path):
    generator = build_generator(blocks=1)
    for step in (1, 2, 3):
        checkpoints.save_checkpoint(
            tmp_path, step=step, models={"generator": generator}, optimizers={}, state={}, keep=2
        )
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["latest", "step_0000002", "step_0000003"]


def test_a_half_written_checkpoint_is_ignored(tmp_path):
    generator = build_generator(blocks=1)
    good = checkpoints.save_checkpoint(
        tmp_path, step=1, models={"generator": generator}, optimizers={}, state={}
    )
    # What kill -9 during a save leaves: a temporary folder, no rename, `latest` untouched.
    partial = tmp_path / "checkpoints" / f".step_0000002.{os.getpid()}.tmp"
    partial.mkdir()
    (partial / "generator.keras").write_bytes(b"half")
    assert checkpoints.latest_checkpoint(tmp_path) == good
    # A `latest` naming a folder that never completed falls back to the newest complete one.
    (tmp_path / "checkpoints" / "latest").write_text("step_0000009\n")
    assert checkpoints.latest_checkpoint(tmp_path) == good
    assert json.loads((good / "state.json").read_text())["step"] == 1


def test_optimizer_of_another_shape_is_refused(tmp_path):
    generator = trained_generator()
    saved = checkpoints.save_checkpoint(
        tmp_path, step=1, models={}, optimizers={"generator": generator.optimizer}, state={}
    )
    _, arrays = checkpoints.read_checkpoint(saved)
    other = compile_generator(build_generator(blocks=2))
    with pytest.raises(UserError, match="different configuration"):
        checkpoints.restore_optimizer(
            other.optimizer, other.trainable_variables, arrays["generator"]
        )
