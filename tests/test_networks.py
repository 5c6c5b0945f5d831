"""Networks per stage: the pixel loss, and the generator's moving average (--ema)."""

import keras
import numpy as np
import pytest

from runtime import rundir
from tests.test_loop import assert_same_final_state, read_history, tiny_config
from training.config import resolve_config
from training.loop import Interrupted, Trainer, train
from training.networks import averaged_generator, build_networks


def weights(model):
    return [keras.ops.convert_to_numpy(w) for w in model.weights]


def load(path):
    return keras.models.load_model(path)


def test_l1_pixel_loss_trains_on_mean_absolute_error(photo_folder, tmp_path):
    config = tiny_config(photo_folder, tmp_path, stage="pretrain", pixel_loss="l1", epochs=1)
    result = train(config, run_dir=tmp_path / "run", progress=False)
    history = read_history(result.run_dir)
    assert "g_l1" in history[0] and "g_mse" not in history[0]
    networks = build_networks(config)
    lr = np.random.default_rng(0).uniform(-1, 1, (2, 8, 8, 3)).astype("float32")
    hr = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    sr = np.asarray(networks.generator.predict_on_batch(lr))
    loss = networks.generator.test_on_batch(lr, hr)
    np.testing.assert_allclose(loss, np.mean(np.abs(sr - hr)), rtol=1e-4)


def test_pixel_loss_is_refused_for_the_gan_stage():
    from runtime.errors import UserError

    with pytest.raises(UserError, match="--pixel-loss"):
        resolve_config("paper", "gan", {"pixel_loss": "l1"})
    with pytest.raises(UserError, match="--ema"):
        resolve_config("paper", "pretrain", {"ema": 1.5})


@pytest.mark.parametrize("stage", ["pretrain", "gan"])
def test_ema_generator_holds_the_average_and_training_keeps_the_raw_weights(
    photo_folder, tmp_path, stage
):
    config = tiny_config(photo_folder, tmp_path, stage=stage, epochs=1, ema=0.5)
    result = train(config, run_dir=tmp_path / "run", progress=False)
    latest = rundir.latest_checkpoint(result.run_dir)
    averaged, raw = load(latest / "generator.keras"), load(latest / "generator_raw.keras")
    # The run's last state, as a resume restores it, against what Keras's use_ema holds.
    networks = Trainer(config, result.run_dir, resume=True, progress=False).networks
    for a, b in zip(weights(networks.generator), weights(raw), strict=True):
        np.testing.assert_array_equal(a, b)  # resume trains on from the raw weights
    optimizer, variables = next(iter(networks.optimizers().values()))
    averages = optimizer._model_variables_moving_average  # Keras's own store, read for the test
    by_path = {w.path: keras.ops.convert_to_numpy(w) for w in averaged.weights}
    for variable, average in zip(variables, averages, strict=True):
        np.testing.assert_array_equal(by_path[variable.path], keras.ops.convert_to_numpy(average))
    moved = [
        not np.array_equal(a, b)
        for a, b in zip(weights(averaged), weights(raw), strict=True)
        if a.ndim == 4
    ]
    assert any(moved), "the averaged kernels equal the raw ones"
    # What training validated and shipped is the averaged generator.
    final = load(result.run_dir / "generator.keras")
    for a, b in zip(weights(final), weights(averaged), strict=True):
        np.testing.assert_array_equal(a, b)
    # And reading the average out left the training weights alone.
    again = averaged_generator(networks)
    for a, b in zip(weights(networks.generator), weights(raw), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(weights(again), weights(averaged), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_resumed_cosine_run_with_ema_equals_an_uninterrupted_one(photo_folder, tmp_path):
    cosine = {"schedule": "cosine", "warmup_steps": 2, "min_learning_rate": 1e-5, "ema": 0.9}
    config = tiny_config(photo_folder, tmp_path, stage="pretrain", **cosine)
    straight = train(config, run_dir=tmp_path / "straight", progress=False)

    def interrupt(trainer, step, losses):
        if step == 4:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        train(config, run_dir=tmp_path / "resumed", progress=False, on_step=interrupt)
    resumed = train(config, run_dir=tmp_path / "resumed", resume=True, progress=False)
    assert resumed.step == straight.step == 6
    assert_same_final_state(
        straight.run_dir, resumed.run_dir, models=("generator", "generator_raw")
    )


def test_init_discriminator_takes_d_from_a_gan_checkpoint_and_refuses_another_size(
    photo_folder, tmp_path
):
    """A branch of a GAN run with another loss keeps the trained D (--init-discriminator)."""
    from runtime.errors import UserError

    source = train(tiny_config(photo_folder, tmp_path, epochs=1), run_dir=tmp_path / "a")
    checkpoint = rundir.latest_checkpoint(source.run_dir)
    trained = weights(load(checkpoint / rundir.DISCRIMINATOR))
    fresh = weights(build_networks(tiny_config(photo_folder, tmp_path, seed=5)).discriminator)
    assert any(not np.array_equal(a, b) for a, b in zip(trained, fresh, strict=True))
    for path in (checkpoint, source.run_dir):  # a checkpoint, or its run's newest
        branch = tiny_config(
            photo_folder, tmp_path, seed=5, grid_weight=3.0, init_discriminator=str(path)
        )
        loaded = weights(build_networks(branch).discriminator)
        for a, b in zip(trained, loaded, strict=True):
            np.testing.assert_array_equal(a, b)
    wrong = tiny_config(photo_folder, tmp_path, hr_size=48, init_discriminator=str(checkpoint))
    with pytest.raises(UserError, match="cannot load discriminator weights from"):
        build_networks(wrong)
    with pytest.raises(UserError, match="--init-discriminator is for the gan stage"):
        tiny_config(photo_folder, tmp_path, stage="pretrain", init_discriminator=str(checkpoint))
