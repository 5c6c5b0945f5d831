import json
import os
import re

import keras
import numpy as np
import pytest

from models.gan import compile_generator
from models.generator import build_generator
from runtime import rundir
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
    assert rundir.latest_checkpoint(tmp_path) == saved
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
    assert rundir.latest_checkpoint(tmp_path) == good
    # A `latest` naming a folder that never completed falls back to the newest complete one.
    (tmp_path / "checkpoints" / "latest").write_text("step_0000009\n")
    assert rundir.latest_checkpoint(tmp_path) == good
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


def saved_twice(tmp_path):
    generator = trained_generator()
    for step in (3, 6):
        checkpoints.save_checkpoint(
            tmp_path,
            step=step,
            models={"generator": generator, "discriminator": generator},
            optimizers={"generator": generator.optimizer},
            state={"epoch": step // 3},
        )
    return tmp_path / "checkpoints" / "step_0000003", tmp_path / "checkpoints" / "step_0000006"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda c: os.truncate(c / "generator.keras", 1000), "generator.keras unreadable"),
        (lambda c: os.truncate(c / "discriminator.keras", 5000), "discriminator.keras"),
        (lambda c: os.truncate(c / "optimizers.npz", 100), "optimizers.npz unreadable"),
        (lambda c: (c / "state.json").write_text("{not json"), "state.json unreadable"),
        (lambda c: (c / "state.json").write_text("[]"), "state.json holds no step"),
        (lambda c: (c / "generator.keras").unlink(), "generator.keras is missing"),
    ],
)
def test_a_damaged_checkpoint_is_named_and_the_one_before_it_taken(tmp_path, damage, reason):
    older, newer = saved_twice(tmp_path)
    checkpoints.verify_checkpoint(newer)  # intact as written
    damage(newer)
    with pytest.raises(checkpoints.DamagedCheckpoint, match=re.escape(reason)):
        checkpoints.verify_checkpoint(newer)
    seen = []
    assert checkpoints.intact_checkpoint(tmp_path, lambda p, why: seen.append((p, why))) == older
    assert len(seen) == 1 and seen[0][0] == newer and reason in seen[0][1]


def test_a_flipped_byte_inside_a_weights_file_fails_its_crc(tmp_path):
    _, newer = saved_twice(tmp_path)
    path = newer / "generator.keras"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(checkpoints.DamagedCheckpoint, match=r"generator\.keras"):
        checkpoints.verify_checkpoint(newer)


def test_only_a_temporary_checkpoint_is_no_checkpoint(tmp_path):
    (tmp_path / "checkpoints" / ".step_0000001.123.tmp").mkdir(parents=True)
    assert rundir.latest_checkpoint(tmp_path) is None
    assert checkpoints.intact_checkpoint(tmp_path) is None
    saved_twice(tmp_path)
    assert rundir.latest_checkpoint(tmp_path) is not None
