"""The training loop on tiny models (1 residual block, 32 px HR) and a folder of real photos."""

import csv
import os

import keras
import numpy as np
import pytest

from models.discriminator import build_discriminator
from models.gan import build_gan, compile_discriminator
from models.generator import build_generator
from runtime import rundir, stop
from runtime.errors import UserError
from training import checkpoints, loop
from training.config import resolve_config
from training.loop import (
    Interrupted,
    TrainingDiverged,
    gan_step,
    real_labels,
    train,
)
from training.networks import Networks


def weights_of(model):
    return {w.path: keras.ops.convert_to_numpy(w).copy() for w in model.weights}


def changed(before, after):
    return {name for name in before if not np.array_equal(before[name], after[name])}


def tiny_networks(feature_extractor=None, adversarial="bce", **weights):
    """``weights``: build_gan's consistency_weight, pixel_weight, grid_weight."""
    keras.utils.set_random_seed(0)
    generator = build_generator(blocks=1)
    discriminator = build_discriminator(32, logits=adversarial == "ragan")
    compile_discriminator(discriminator, adversarial=adversarial)
    gan = build_gan(generator, discriminator, feature_extractor, adversarial=adversarial, **weights)
    return Networks(generator, discriminator, feature_extractor, gan)


def batch(seed=0):
    rng = np.random.default_rng(seed)
    lr = rng.uniform(size=(4, 8, 8, 3)).astype("float32")
    hr = rng.uniform(-1, 1, size=(4, 32, 32, 3)).astype("float32")
    return lr, hr


def assert_d_learns_and_is_frozen_in_g_step(networks):
    """Weights before/after each half of gan_step: D only in D's half, G only in G's."""
    generator, discriminator = networks.generator, networks.discriminator
    lr, hr = batch()
    real = np.ones((4, 1), "float32")
    for _ in range(2):  # the second round runs the already-traced functions
        d_before, g_before = weights_of(discriminator), weights_of(generator)
        d_after_own_step = {}
        original = discriminator.train_on_batch

        def recording(*args, _seen=d_after_own_step, _original=original, **kwargs):
            result = _original(*args, **kwargs)
            _seen.update(weights_of(discriminator))
            return result

        discriminator.train_on_batch = recording
        try:
            losses = gan_step(networks, lr, hr, real)
        finally:
            del discriminator.train_on_batch
        d_after, g_after = weights_of(discriminator), weights_of(generator)

        d_moved = changed(d_before, d_after_own_step)
        assert any("kernel" in name for name in d_moved), "D's kernels did not learn"
        assert any("moving_mean" in name for name in d_moved), "D's BN statistics did not update"
        assert not changed(d_after_own_step, d_after), "D changed during the generator's step"
        g_moved = changed(g_before, g_after)
        assert any("kernel" in name for name in g_moved), "G did not learn"
        assert all(np.isfinite(v) for v in losses.values())
        extras = {f"g_{name}" for name in networks.gan.output_names[2:]}
        assert (
            set(losses)
            == {
                "d_real",
                "d_fake",
                "d_real_accuracy",
                "d_fake_accuracy",
                "g_total",
                "g_content",
                "g_adversarial",
            }
            | extras
        )
    return losses


def test_discriminator_learns_in_its_step_and_is_frozen_in_the_generators():
    assert_d_learns_and_is_frozen_in_g_step(tiny_networks())


def test_same_with_the_consistency_term_whose_weight_enters_the_total():
    losses = assert_d_learns_and_is_frozen_in_g_step(tiny_networks(consistency_weight=10.0))
    assert losses["g_consistency"] > 0
    expected = losses["g_content"] + 1e-3 * losses["g_adversarial"] + 10 * losses["g_consistency"]
    assert losses["g_total"] == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize(
    ("weights", "term"),
    [
        ({"pixel_weight": 0.5}, "g_pixel"),
        ({"grid_weight": 3.0}, "g_grid"),
        ({"coherent_grid_weight": 30.0}, "g_coherent_grid"),
    ],
)
def test_same_with_each_extra_term_whose_weight_enters_the_total(weights, term):
    losses = assert_d_learns_and_is_frozen_in_g_step(tiny_networks(**weights))
    assert losses[term] > 0
    (weight,) = weights.values()
    expected = losses["g_content"] + 1e-3 * losses["g_adversarial"] + weight * losses[term]
    assert losses["g_total"] == pytest.approx(expected, rel=1e-4)


def test_same_with_the_relativistic_gan():
    networks = tiny_networks(adversarial="ragan")
    assert networks.discriminator.output.name != "probability"
    assert_d_learns_and_is_frozen_in_g_step(networks)


def test_same_with_a_vgg_content_loss(vgg_weights):
    from models.vgg import build_feature_extractor

    networks = tiny_networks(build_feature_extractor("vgg22", vgg_weights))
    vgg_before = weights_of(networks.feature_extractor)
    assert_d_learns_and_is_frozen_in_g_step(networks)
    assert not changed(vgg_before, weights_of(networks.feature_extractor))


def test_same_with_vgg_features_before_the_relu(vgg_weights):
    from models.vgg import build_feature_extractor

    networks = tiny_networks(build_feature_extractor("vgg54-prerelu", vgg_weights))
    vgg_before = weights_of(networks.feature_extractor)
    assert_d_learns_and_is_frozen_in_g_step(networks)
    assert not changed(vgg_before, weights_of(networks.feature_extractor))


def test_label_noise():
    config = resolve_config("paper", "gan", {"learning_rate": 1e-4})
    noisy = resolve_config("report", None, {"label_noise": 0.2})
    labels = real_labels(noisy, step=7, batch_size=1000)
    assert labels.min() >= 0.8 and labels.max() <= 1.0 and labels.std() > 0.01
    np.testing.assert_array_equal(labels, real_labels(noisy, step=7, batch_size=1000))
    assert np.all(real_labels(config, 7, 4) == 1)


def tiny_config(photo_folder, tmp_path, **overrides):
    values = {
        "dataset": str(photo_folder),
        "data_dir": str(tmp_path / "data"),
        "blocks": 1,
        "hr_size": 32,
        "batch_size": 2,
        "epochs": 2,
        "steps_per_epoch": 3,
        "content_loss": "mse",
        "validation_images": 2,
        "validation_crop": 48,
        "learning_rate": 1e-3,
        "checkpoint_every": 1,
    }
    values.update(overrides)
    return resolve_config("paper", overrides.pop("stage", "gan"), values)


def read_csv_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def read_history(run_dir):
    return read_csv_rows(run_dir / "history.csv")


def test_pretraining_lowers_the_content_loss(photo_folder, tmp_path):
    config = tiny_config(photo_folder, tmp_path, stage="pretrain", epochs=1, steps_per_epoch=40)
    result = train(config, run_dir=tmp_path / "run", progress=False)
    losses = [float(row["g_mse"]) for row in read_history(result.run_dir)]
    assert len(losses) == 40
    assert np.mean(losses[-8:]) < 0.7 * np.mean(losses[:8])


def test_a_run_writes_its_directory(photo_folder, tmp_path):
    result = train(tiny_config(photo_folder, tmp_path), run_dir=tmp_path / "run", progress=False)
    run = result.run_dir
    for name in (
        "config.json",
        "history.csv",
        "loss.png",
        "validation.csv",
        "generator.keras",
        "run.log",
        "samples/epoch_0001.png",
        "samples/epoch_0002.png",
    ):
        assert (run / name).is_file(), name
    assert any((run / "tensorboard").iterdir())
    latest = rundir.latest_checkpoint(run)
    assert latest.name == "step_0000006"
    assert {p.name for p in latest.iterdir()} == {
        "generator.keras",
        "discriminator.keras",
        "optimizers.npz",
        "state.json",
    }
    rows = read_csv_rows(run / "validation.csv")
    assert [int(r["step"]) for r in rows] == [3, 6]
    assert 5 < float(rows[-1]["psnr_y"]) < 60
    assert result.validation["psnr_y"] == pytest.approx(float(rows[-1]["psnr_y"]), abs=1e-3)
    # The GAN stage adds LPIPS (the tests of training/validation.py check its value).
    assert all(0 < float(r["lpips"]) < 1.5 for r in rows)
    assert result.validation["lpips"] == pytest.approx(float(rows[-1]["lpips"]), abs=1e-4)
    assert f"LPIPS {float(rows[-1]['lpips']):.4f}; checkpoint" in (run / "run.log").read_text()
    loaded = keras.models.load_model(run / "generator.keras")
    assert loaded.predict_on_batch(np.zeros((1, 5, 6, 3), "float32")).shape == (1, 20, 24, 3)
    with pytest.raises(UserError, match="--resume"):
        train(tiny_config(photo_folder, tmp_path), run_dir=run, progress=False)


def test_resume_after_an_interruption_matches_an_uninterrupted_run(photo_folder, tmp_path, recwarn):
    config = tiny_config(photo_folder, tmp_path, label_noise=0.1, augment=True)
    straight = train(config, run_dir=tmp_path / "straight", progress=False)

    def interrupt(trainer, step, losses):
        if step == 3:  # mid-epoch: the second epoch's first step
            raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        train(config, run_dir=tmp_path / "resumed", progress=False, on_step=interrupt)
    assert rundir.latest_checkpoint(tmp_path / "resumed").name == "step_0000004"
    recwarn.clear()
    resumed = train(config, run_dir=tmp_path / "resumed", resume=True, progress=False)
    assert resumed.step == straight.step == 6
    # Checkpoints' model files hold no optimiser; a resume should not warn that Keras skips it.
    assert not [w for w in recwarn if "Skipping variable loading" in str(w.message)]

    for name in ("generator", "discriminator"):
        a = keras.models.load_model(rundir.latest_checkpoint(straight.run_dir) / f"{name}.keras")
        b = keras.models.load_model(rundir.latest_checkpoint(resumed.run_dir) / f"{name}.keras")
        for wa, wb in zip(a.weights, b.weights, strict=True):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(wa), keras.ops.convert_to_numpy(wb), err_msg=wa.path
            )
    _, opt_a = checkpoints.read_checkpoint(rundir.latest_checkpoint(straight.run_dir))
    _, opt_b = checkpoints.read_checkpoint(rundir.latest_checkpoint(resumed.run_dir))
    for name in opt_a:
        for key in opt_a[name]:
            np.testing.assert_array_equal(opt_a[name][key], opt_b[name][key])
    history = read_history(resumed.run_dir)
    assert [int(row["step"]) for row in history] == list(range(6))
    assert [r["g_total"] for r in history] == [r["g_total"] for r in read_history(straight.run_dir)]


def straight_and_resumed(config, tmp_path, at_step=4):
    """Two runs of ``config``'s 6 steps: one straight, one interrupted by Ctrl-C at ``at_step``
    (mid-epoch) and resumed; their results."""
    straight = train(config, run_dir=tmp_path / "straight", progress=False)

    def interrupt(trainer, step, losses):
        if step == at_step:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        train(config, run_dir=tmp_path / "resumed", progress=False, on_step=interrupt)
    resumed = train(config, run_dir=tmp_path / "resumed", resume=True, progress=False)
    assert resumed.step == straight.step == 6
    return straight, resumed


def assert_same_final_state(run_a, run_b, models=("generator",)):
    """Same weights of ``models`` and optimiser state in the two runs' latest checkpoints."""
    latest_a, latest_b = rundir.latest_checkpoint(run_a), rundir.latest_checkpoint(run_b)
    assert latest_a.name == latest_b.name
    for name in models:
        a = keras.models.load_model(latest_a / f"{name}.keras")
        b = keras.models.load_model(latest_b / f"{name}.keras")
        for wa, wb in zip(a.weights, b.weights, strict=True):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(wa), keras.ops.convert_to_numpy(wb), err_msg=wa.path
            )
    _, opt_a = checkpoints.read_checkpoint(latest_a)
    _, opt_b = checkpoints.read_checkpoint(latest_b)
    for name in opt_a:
        for key in opt_a[name]:
            np.testing.assert_array_equal(opt_a[name][key], opt_b[name][key])


def test_a_resumed_run_with_every_new_gan_option_equals_an_uninterrupted_one(
    photo_folder, tmp_path, vgg_weights
):
    """The relativistic GAN, VGG54 before the ReLU, the L1 pixel and both grid terms at once:
    interrupted mid-epoch and resumed, the same weights, optimiser states and losses."""
    options = {
        "adversarial": "ragan",
        "content_loss": "vgg54-prerelu",
        "vgg_weights": str(vgg_weights),
        "pixel_weight": 0.5,
        "grid_weight": 3.0,
        "coherent_grid_weight": 30.0,
        "consistency_weight": 1.0,
    }
    config = tiny_config(photo_folder, tmp_path, **options)
    straight, resumed = straight_and_resumed(config, tmp_path)
    assert_same_final_state(straight.run_dir, resumed.run_dir, ("generator", "discriminator"))
    history = read_history(resumed.run_dir)
    assert {"g_pixel", "g_grid", "g_coherent_grid", "g_consistency"} <= set(history[0])
    assert [r["g_total"] for r in history] == [r["g_total"] for r in read_history(straight.run_dir)]


def test_resume_skips_a_damaged_newest_checkpoint_and_still_ends_where_a_straight_run_does(
    straight_pretrain, tmp_path, capsys
):
    """Step 6's generator cut short: the resume names it, goes on from step 3 and reaches the
    straight run's step-6 weights exactly (batches are functions of the step)."""
    config, straight = straight_pretrain
    run = tmp_path / "run"
    train(config, run_dir=run, progress=False)
    os.truncate(run / "checkpoints" / "step_0000006" / "generator.keras", 1000)
    (run / "checkpoints" / "step_0000006" / "generator_raw.keras").unlink(missing_ok=True)
    capsys.readouterr()
    resumed = train(config, run_dir=run, resume=True, progress=False)
    out = capsys.readouterr().out
    assert "checkpoint step_0000006 is damaged (generator.keras unreadable" in out
    assert resumed.step == 6
    assert_same_final_state(straight.run_dir, run)
    assert "damaged" in (run / "run.log").read_text()


def test_a_run_killed_before_its_first_checkpoint_starts_over(straight_pretrain, tmp_path, capsys):
    """Only a temporary checkpoint folder: --resume starts over from step 0 (saying so) and
    so does the original command; both end where the straight run ends."""
    config, straight = straight_pretrain
    for resume in (True, False):
        run = tmp_path / f"resume_{resume}"
        (run / "checkpoints" / ".step_0000003.999.tmp").mkdir(parents=True)
        (run / "config.json").write_text(config.to_json())
        (run / "history.csv").write_text("step,epoch,seconds,g_mse\n0,0,1.0,9.9\n")
        result = train(config, run_dir=run, resume=resume, progress=False)
        assert result.step == 6
        assert_same_final_state(straight.run_dir, run)
        assert [row["step"] for row in read_history(run)] == [str(i) for i in range(6)]
        assert not list((run / "checkpoints").glob(".step_*"))
    assert "no complete checkpoint: starting it over from step 0" in capsys.readouterr().out


@pytest.fixture(scope="module")
def straight_pretrain(photo_folder, tmp_path_factory):
    """An uninterrupted 6-step pretraining run (2 epochs of 3) to compare resumed runs with,
    in this machine's ``auto`` precision (tests/test_precision.py pins mixed bf16 too)."""
    tmp_path = tmp_path_factory.mktemp("straight")
    config = tiny_config(photo_folder, tmp_path, stage="pretrain")
    return config, train(config, run_dir=tmp_path / "run", progress=False)


def test_pretraining_validates_without_lpips(straight_pretrain):
    _, straight = straight_pretrain
    rows = read_csv_rows(straight.run_dir / "validation.csv")
    assert rows and "lpips" not in rows[0] and "lpips" not in straight.validation


def test_a_gan_run_without_lpips_weights_stops_before_it_starts(
    photo_folder, tmp_path, monkeypatch
):
    from models.lpips_weights import WEIGHTS_ENV

    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_keras_home"))
    with pytest.raises(UserError) as error:
        train(tiny_config(photo_folder, tmp_path), run_dir=tmp_path / "run", progress=False)
    text = str(error.value)
    assert "\n" not in text and "python -m models.lpips fetch" in text
    assert "validation with LPIPS" in text
    assert not (tmp_path / "run").exists()  # nothing written
    pretrain = tiny_config(photo_folder, tmp_path, stage="pretrain", epochs=1, steps_per_epoch=1)
    assert train(pretrain, run_dir=tmp_path / "pre", progress=False).step == 1


def test_a_stop_request_finishes_the_step_saves_and_resumes_exactly(straight_pretrain, tmp_path):
    config, straight = straight_pretrain

    def request_at_step_3(trainer, step, losses):
        if step == 3:  # mid-epoch: the second epoch's first step
            stop.request()

    with stop.watching(), pytest.raises(Interrupted) as interrupted:
        train(config, run_dir=tmp_path / "run", progress=False, on_step=request_at_step_3)
    assert interrupted.value.checkpoint.name == "step_0000004"  # step 3 finished, then saved
    state, _ = checkpoints.read_checkpoint(rundir.latest_checkpoint(tmp_path / "run"))
    assert state["step"] == 4 and state["validation"] is None  # no validation on the way out
    assert [int(row["step"]) for row in read_history(tmp_path / "run")] == [0, 1, 2, 3]
    log = (tmp_path / "run" / "run.log").read_text()
    assert "interrupted at step 4; checkpoint saved: " in log and "step_0000004" in log
    resumed = train(config, run_dir=tmp_path / "run", resume=True, progress=False)
    assert resumed.step == straight.step == 6
    assert_same_final_state(straight.run_dir, resumed.run_dir)


@pytest.mark.parametrize("phase", ["validation", "saving"])
def test_a_stop_request_during_a_checkpoint_ends_after_it(
    straight_pretrain, tmp_path, monkeypatch, phase
):
    config, straight = straight_pretrain
    saves = []
    original_validate, original_save = loop.validate, checkpoints.save_checkpoint

    def validate(*args, **kwargs):
        if phase == "validation":
            stop.request()
        return original_validate(*args, **kwargs)

    def save_checkpoint(*args, **kwargs):
        saves.append(kwargs["step"])
        if phase == "saving":
            stop.request()
        return original_save(*args, **kwargs)

    monkeypatch.setattr(loop, "validate", validate)
    monkeypatch.setattr(checkpoints, "save_checkpoint", save_checkpoint)
    with stop.watching(), pytest.raises(Interrupted) as interrupted:
        train(config, run_dir=tmp_path / "run", progress=False)
    assert saves == [3]  # the checkpoint in progress completes, and is not written twice
    assert interrupted.value.checkpoint.name == "step_0000003"
    state, _ = checkpoints.read_checkpoint(rundir.latest_checkpoint(tmp_path / "run"))
    assert state["validation"]["psnr_y"] > 5  # the checkpoint's validation was kept
    assert [int(row["step"]) for row in read_history(tmp_path / "run")] == [0, 1, 2]
    monkeypatch.undo()
    resumed = train(config, run_dir=tmp_path / "run", resume=True, progress=False)
    assert resumed.step == 6
    assert_same_final_state(straight.run_dir, resumed.run_dir)


def test_a_nan_loss_stops_and_keeps_the_last_good_checkpoint(photo_folder, tmp_path):
    config = tiny_config(photo_folder, tmp_path, stage="pretrain", steps_per_epoch=2, epochs=3)

    def poison(trainer, step, losses):
        if step == 2:  # the first step after the checkpoint at step 2
            kernel = trainer.networks.generator.get_layer("head_conv").kernel
            kernel.assign(np.full(kernel.shape, np.nan, "float32"))

    with pytest.raises(TrainingDiverged, match="loss is not finite at step 3") as error:
        train(config, run_dir=tmp_path / "run", progress=False, on_step=poison)
    assert "step_0000002" in str(error.value)
    latest = rundir.latest_checkpoint(tmp_path / "run")
    assert latest.name == "step_0000002"
    restored = keras.models.load_model(latest / "generator.keras")
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(restored.get_layer("head_conv").kernel)))


def test_non_finite_weights_are_never_checkpointed(photo_folder, tmp_path):
    config = tiny_config(photo_folder, tmp_path, stage="pretrain", steps_per_epoch=1, epochs=3)

    def poison(trainer, step, losses):
        if step == 1:  # after the step, before its checkpoint
            kernel = trainer.networks.generator.get_layer("body_conv").kernel
            kernel.assign(np.full(kernel.shape, np.inf, "float32"))

    with pytest.raises(TrainingDiverged, match="not finite at step 2"):
        train(config, run_dir=tmp_path / "run", progress=False, on_step=poison)
    assert rundir.latest_checkpoint(tmp_path / "run").name == "step_0000001"


def test_a_folder_of_every_bad_image_kind_trains_and_reports_what_it_skipped(
    photo_folder, tmp_path
):
    from PIL import Image

    from data.images import read_rgb

    folder = tmp_path / "mixed"
    folder.mkdir()
    photo = read_rgb(sorted(photo_folder.iterdir())[0])  # 80x96 real photo
    Image.fromarray(photo).convert("L").save(folder / "grey.png")
    Image.fromarray(photo).convert("RGBA").save(folder / "rgba.png")
    Image.fromarray(photo).convert("P").save(folder / "palette.png")
    Image.fromarray(photo).convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray(photo[..., 0].astype("uint16") * 257).save(folder / "sixteen.png")
    Image.fromarray(photo).save(folder / "good.png")
    (folder / "zero.png").write_bytes(b"")
    (folder / "notes.png").write_text("this is not an image")
    whole = (folder / "good.png").read_bytes()
    (folder / "truncated.png").write_bytes(whole[: len(whole) // 2])
    Image.fromarray(photo[:20, :20]).save(folder / "tiny.png")

    config = tiny_config(
        folder, tmp_path, stage="pretrain", epochs=1, steps_per_epoch=2, validation_images=1
    )
    result = train(config, run_dir=tmp_path / "run", progress=False)
    assert result.step == 2
    log = (result.run_dir / "run.log").read_text()
    for name in ("zero.png", "notes.png", "truncated.png", "tiny.png"):
        assert f"{name}:" in log, name
    assert "4 skipped" in log
    for name in ("grey.png", "rgba.png", "palette.png", "cmyk.jpg", "sixteen.png"):
        assert f"{name}:" not in log, name
    state, _ = checkpoints.read_checkpoint(rundir.latest_checkpoint(result.run_dir))
    assert state["skipped_images"] == 4


def test_a_real_degradation_run_trains_on_degraded_crops_and_resumes_exactly(
    photo_folder, tmp_path
):
    """--degradation real: the same HR crops as a bicubic run, LR made by the degradation
    model (so different from the bicubic LR); interrupted and resumed, the same weights."""
    from data.degradations import degrade
    from data.pairs import PairSource

    config = tiny_config(photo_folder, tmp_path, stage="pretrain", degradation="real")
    cache = tmp_path / "cache"
    real = PairSource(
        [photo_folder / "photo0.png"], mode="crop", hr_size=32, cache_dir=cache, degrade=degrade
    )
    clean = PairSource([photo_folder / "photo0.png"], mode="crop", hr_size=32, cache_dir=cache)
    (lr_real, hr_real), (lr_clean, hr_clean) = real.batch(0, 0, 0, 2), clean.batch(0, 0, 0, 2)
    np.testing.assert_array_equal(hr_real, hr_clean)
    assert lr_real.shape == lr_clean.shape and not np.array_equal(lr_real, lr_clean)
    np.testing.assert_array_equal(lr_real, real.batch(0, 0, 0, 2)[0])  # a function of the step

    straight, resumed = straight_and_resumed(config, tmp_path)
    assert_same_final_state(straight.run_dir, resumed.run_dir)
