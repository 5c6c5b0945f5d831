"""The GAN comparison runs what it says: each recipe is a valid train.py command for the same
budget from the same SRResNet, differing from today's recipe only in the levers it names."""

import dataclasses

import pytest

import train
from benchmarks import gan_comparison

SHARED = {"run_dir"}


def resolved(name, steps=1500):
    argv = gan_comparison.train_command(name, steps, "/data/train", "/out", "/w/srresnet.keras")
    return train.config_from_args(
        train.build_parser().parse_args(argv[2:]), argv[2:], check_paths=False
    )


def differences(a, b):
    a, b = dataclasses.asdict(a), dataclasses.asdict(b)
    return {key for key in a if a[key] != b[key]} - SHARED


@pytest.mark.parametrize("name", list(gan_comparison.RECIPES))
def test_every_recipe_is_the_gan_stage_from_the_same_srresnet_for_the_same_budget(name):
    config = resolved(name, steps=1200)
    assert (config.stage, config.blocks, config.hr_size, config.batch_size) == ("gan", 16, 96, 16)
    assert config.epochs * config.steps_per_epoch == 1200 and config.epochs == 3
    assert config.init_generator == "/w/srresnet.keras" and config.seed == 0
    assert (config.schedule, config.learning_rate, config.ema) == ("constant", 1e-4, 0.999)
    assert config.precision == "auto" and config.run_dir == f"/out/{name}"


def test_each_recipe_changes_only_its_own_levers():
    today = resolved("today")
    assert today.consistency_weight == 10 and today.adversarial == "bce"
    assert today.content_loss == "vgg54" and today.adversarial_weight == 1e-3
    assert differences(today, resolved("grid")) == {"grid_weight"}
    assert differences(resolved("grid"), resolved("grid300")) == {"grid_weight"}
    assert differences(today, resolved("ragan")) == {"adversarial"}
    assert differences(resolved("ragan"), resolved("esrgan")) == {"content_loss", "pixel_weight"}
    assert differences(resolved("esrgan"), resolved("esrgan-grid300")) == {"grid_weight"}
    assert resolved("esrgan-grid300").grid_weight == resolved("grid300").grid_weight


def test_a_budget_that_does_not_split_into_three_checkpoints_is_refused():
    with pytest.raises(SystemExit, match="multiple of 3"):
        gan_comparison.train_command("today", 1000, "/data/train", "/out", "/w/g.keras")


def means(psnr5, lpips5, lpips14, grid14):
    return {
        "Set5": {"psnr_y": psnr5, "lpips": lpips5, "grid": 0.0},
        "Set14": {"psnr_y": 26.0, "lpips": lpips14, "grid": grid14},
    }


def test_the_verdict_takes_each_recipes_better_admissible_generator_and_checks_the_targets():
    scores = {
        "Bicubic": means(28.43, 0.34, 0.44, -0.4),
        "today EMA": means(30.0, 0.15, 0.26, 1.5),
        "today raw": means(29.0, 0.14, 0.25, 1.9),
        "grid EMA": means(29.5, 0.11, 0.20, 0.3),
        "grid raw": means(28.0, 0.09, 0.15, 0.2),  # below bicubic's PSNR: not admissible
    }
    lines = gan_comparison.verdicts(["today", "grid"], scores)
    assert lines[0].startswith("today (raw): Set5 29.00 dB") and "targets" not in lines[0]
    assert lines[1].startswith("grid (EMA): Set5 29.50 dB")
    assert "Set14 LPIPS -0.0500, grid -1.60, Set5 PSNR-Y +0.50 dB" in lines[1]
    assert lines[1].endswith("meets every target")


def test_an_interrupted_recipe_is_not_taken_for_a_finished_one(tmp_path):
    from runtime import rundir

    run = tmp_path / "esrgan"
    for step in (500, 808):
        folder = rundir.checkpoint_dir(run, step)
        folder.mkdir(parents=True)
        (folder / rundir.STATE).write_text("{}")
    (run / rundir.GENERATOR).write_bytes(b"")  # what an interrupted run leaves too
    assert not gan_comparison.trained(run, 1500)
    assert gan_comparison.finished(["esrgan"], tmp_path, 1500) == []
    done = rundir.checkpoint_dir(run, 1500)
    done.mkdir()
    (done / rundir.STATE).write_text("{}")
    assert gan_comparison.finished(["esrgan"], tmp_path, 1500) == ["esrgan"]
