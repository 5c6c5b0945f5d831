"""Learning-rate schedules: the paper's two kept exactly, cosine for a step budget."""

import itertools

import keras
import numpy as np
import pytest

from runtime import rundir
from runtime.errors import UserError
from tests.test_loop import tiny_config
from training.config import Config, resolve_config
from training.loop import Interrupted, train
from training.schedules import learning_rate_at


def test_the_papers_schedules_are_kept():
    pretrain = resolve_config("paper", "pretrain")
    assert pretrain.schedule == "constant"
    assert {learning_rate_at(pretrain, s, 10**6) for s in (0, 500_000, 10**6 - 1)} == {1e-4}
    gan = resolve_config("paper", "gan", {"learning_rate": 1e-4})
    assert gan.schedule == "step"
    assert learning_rate_at(gan, 99_999, 200_000) == pytest.approx(1e-4)
    assert learning_rate_at(gan, 100_000, 200_000) == pytest.approx(1e-5)
    assert resolve_config("paper", "gan", {"lr_decay_step": None}).schedule == "constant"
    assert resolve_config("report", None, {"lr_decay_step": 50}).schedule == "step"


def test_cosine_warms_up_then_decays_to_the_minimum_at_the_last_step():
    config = resolve_config(
        "paper",
        "pretrain",
        {
            "schedule": "cosine",
            "learning_rate": 1e-3,
            "warmup_steps": 10,
            "min_learning_rate": 1e-5,
        },
    )
    total = 110
    rates = [learning_rate_at(config, step, total) for step in range(total)]
    np.testing.assert_allclose(rates[:10], 1e-3 * np.arange(1, 11) / 10)
    assert rates[10] == pytest.approx(1e-3)
    assert all(a > b for a, b in itertools.pairwise(rates[10:]))
    assert rates[-1] == pytest.approx(1e-5)
    assert rates[60] == pytest.approx((1e-3 + 1e-5) / 2, rel=0.02)  # half-way: the mean


def test_configs_written_before_schedules_keep_their_schedule():
    old = resolve_config("paper", "gan")
    text = old.to_json().replace('"schedule": "step",', "")
    assert "schedule" not in text
    assert Config.from_json(text) == old
    constant = resolve_config("paper", "pretrain")
    assert Config.from_json(constant.to_json().replace('"schedule": "constant",', "")) == constant


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"schedule": "linear"}, "unknown schedule"),
        ({"schedule": "step"}, "needs --lr-decay-step"),
        ({"schedule": "cosine", "warmup_steps": -1}, "--warmup-steps"),
        ({"schedule": "cosine", "min_learning_rate": 1e-3}, "--min-learning-rate"),
    ],
)
def test_bad_schedules_are_refused(overrides, message):
    with pytest.raises(UserError, match=message):
        resolve_config("paper", "pretrain", {"learning_rate": 1e-4, **overrides})


def generator_weights(run_dir):
    model = keras.models.load_model(rundir.latest_checkpoint(run_dir) / "generator.keras")
    return [keras.ops.convert_to_numpy(w) for w in model.weights]


def test_a_resumed_cosine_run_equals_an_uninterrupted_one(photo_folder, tmp_path):
    cosine = {"schedule": "cosine", "warmup_steps": 2, "min_learning_rate": 1e-5}
    config = tiny_config(photo_folder, tmp_path, stage="pretrain", **cosine)
    straight = train(config, run_dir=tmp_path / "straight", progress=False)

    def interrupt(trainer, step, losses):
        if step == 4:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        train(config, run_dir=tmp_path / "resumed", progress=False, on_step=interrupt)
    resumed = train(config, run_dir=tmp_path / "resumed", resume=True, progress=False)
    assert resumed.step == straight.step == 6
    for a, b in zip(
        generator_weights(straight.run_dir), generator_weights(resumed.run_dir), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    # The schedule really ran: the same run at a constant rate ends elsewhere.
    constant = tiny_config(photo_folder, tmp_path, stage="pretrain")
    other = train(constant, run_dir=tmp_path / "constant", progress=False)
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(
            generator_weights(straight.run_dir), generator_weights(other.run_dir), strict=True
        )
    )
