import inspect
import json
import re

import pytest

from runtime.errors import UserError
from training.config import PRESETS, Config, resolve_config


def test_report_preset_is_the_default():
    config = resolve_config()
    assert (config.preset, config.stage, config.pairs) == ("report", "gan", "resize")
    assert (config.hr_size, config.lr_size, config.batch_size) == (224, 56, 10)
    assert config.upsample_activation == "leaky_relu"
    assert config.content_loss == "vgg54"
    assert config.adversarial_weight == 1e-3


def test_paper_preset_and_its_stages():
    pretrain = resolve_config("paper")
    assert pretrain.stage == "pretrain"
    assert (pretrain.hr_size, pretrain.lr_size, pretrain.batch_size) == (96, 24, 16)
    assert pretrain.augment and pretrain.pairs == "crop"
    assert (pretrain.learning_rate, pretrain.beta_1) == (1e-4, 0.9)
    assert pretrain.epochs * pretrain.steps_per_epoch == 1_000_000
    gan = resolve_config("paper", "gan")
    assert gan.lr_decay_step == 100_000
    assert gan.epochs * gan.steps_per_epoch == 200_000


def test_cpu_budget_preset_keeps_the_papers_networks_and_fits_the_schedule_to_a_session():
    paper, budget = resolve_config("paper"), resolve_config("cpu-budget")
    same = ("pairs", "hr_size", "batch_size", "augment", "blocks", "upsample", "pixel_loss")
    assert [getattr(budget, name) for name in same] == [getattr(paper, name) for name in same]
    assert (budget.stage, budget.schedule, budget.learning_rate) == ("pretrain", "cosine", 5e-4)
    assert (budget.warmup_steps, budget.min_learning_rate, budget.ema) == (100, 1e-6, None)
    assert budget.epochs * budget.steps_per_epoch == 5_000
    gan = resolve_config("cpu-budget", "gan")
    assert (gan.learning_rate, gan.ema, gan.content_loss) == (1e-4, 0.999, "vgg54")
    assert gan.epochs * gan.steps_per_epoch == 5_000


def test_every_field_can_be_overridden():
    config = resolve_config(
        "paper",
        "gan",
        {
            "hr_size": 128,
            "batch_size": 4,
            "blocks": 8,
            "lr_decay_step": None,
            "upsample": "upsampling",
        },
    )
    assert (config.hr_size, config.batch_size, config.blocks) == (128, 4, 8)
    assert config.lr_decay_step is None and config.upsample == "upsampling"


def test_presets_only_name_real_fields():
    fields = set(Config.__dataclass_fields__)
    for preset in PRESETS.values():
        assert set(preset) - {"stages"} <= fields
        for stage_values in preset.get("stages", {}).values():
            assert set(stage_values) <= fields


def test_the_flags_the_field_comments_name_are_train_pys():
    import train

    usage = set(re.findall(r"--[a-z0-9-]+", train.build_parser().format_usage()))
    source = inspect.getsource(Config).split("    def ", 1)[0]
    comments = [line.split("#", 1)[1] for line in source.splitlines() if "#" in line]
    named = {flag for comment in comments for flag in re.findall(r"--[a-z0-9-]+", comment)}
    assert named and named <= usage, sorted(named - usage)


def test_round_trip_through_json():
    config = resolve_config("paper", "gan", {"seed": 7})
    assert Config.from_json(config.to_json()) == config


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"hr_size": 100}, "multiple of 16"),
        ({"content_loss": "vgg99"}, "content loss"),
        ({"batch_size": 0}, "--batch-size"),
        ({"label_noise": 1.5}, "label-noise"),
        ({"init_generator": "/nonexistent/g.keras"}, "does not exist"),
        ({"scale": 3}, "--scale must be one of 2, 4, 8, not 3"),
        ({"scale": 8, "hr_size": 100}, "--hr-size 100 is not a multiple of --scale 8"),
    ],
)
def test_bad_values_are_refused_in_one_line(overrides, message):
    with pytest.raises(UserError, match=message):
        resolve_config("report", None, overrides)


def test_unknown_preset_and_stage():
    with pytest.raises(UserError, match="preset"):
        resolve_config("nope")
    with pytest.raises(UserError, match="stage"):
        resolve_config("report", "finetune")


def test_a_missing_init_generator_is_refused_unless_paths_are_not_checked(tmp_path):
    missing = {"init_generator": str(tmp_path / "g.keras")}
    with pytest.raises(UserError, match=r"--init-generator: .* does not exist"):
        resolve_config("paper", "gan", missing)
    assert resolve_config("paper", "gan", missing, check_paths=False).init_generator == str(
        tmp_path / "g.keras"
    )


def test_the_consistency_weight_is_the_gan_stages_and_not_negative():
    assert resolve_config("paper", "gan").consistency_weight == 0.0  # the paper's loss
    assert resolve_config("paper", "gan", {"consistency_weight": 10.0}).consistency_weight == 10
    with pytest.raises(UserError, match="consistency-weight must be 0 or more"):
        resolve_config("paper", "gan", {"consistency_weight": -1.0})
    with pytest.raises(UserError, match="for the gan stage"):
        resolve_config("paper", "pretrain", {"consistency_weight": 1.0})


@pytest.mark.parametrize("name", ["pixel_weight", "grid_weight", "coherent_grid_weight"])
def test_the_new_loss_weights_are_the_gan_stages_and_not_negative_or_nan(name):
    flag = name.replace("_", "-")
    assert getattr(resolve_config("paper", "gan"), name) == 0.0  # off: the paper's loss
    assert getattr(resolve_config("paper", "gan", {name: 30.0}), name) == 30.0
    for bad in (-1.0, float("nan")):
        with pytest.raises(UserError, match=f"{flag} must be 0 or more"):
            resolve_config("paper", "gan", {name: bad})
    with pytest.raises(UserError, match="for the gan stage"):
        resolve_config("paper", "pretrain", {name: 1.0})


def test_the_adversarial_loss_is_bce_unless_ragan_is_asked_for():
    assert resolve_config("paper", "gan").adversarial == "bce"
    assert resolve_config("report").adversarial == "bce"
    assert resolve_config("paper", "gan", {"adversarial": "ragan"}).adversarial == "ragan"
    with pytest.raises(UserError, match="unknown adversarial loss 'wgan'; choose from bce, ragan"):
        resolve_config("paper", "gan", {"adversarial": "wgan"})
    assert resolve_config("paper", "gan", {"content_loss": "vgg54-prerelu"}).content_loss


def test_the_degradation_is_bicubic_unless_real_is_asked_for_and_real_needs_crops():
    assert resolve_config("paper", "pretrain").degradation == "bicubic"
    assert resolve_config("paper", "gan", {"degradation": "real"}).degradation == "real"
    with pytest.raises(UserError, match="unknown degradation 'jpeg'; choose from bicubic, real"):
        resolve_config("paper", "gan", {"degradation": "jpeg"})
    with pytest.raises(UserError, match="use --pairs crop"):
        resolve_config("report", None, {"degradation": "real"})


def test_the_real_world_preset_degrades_both_stages_and_keeps_the_papers_networks():
    pretrain = resolve_config("real-world", "pretrain")
    gan = resolve_config("real-world", "gan")
    for config in (pretrain, gan):
        assert config.degradation == "real" and config.pairs == "crop"
        assert (config.hr_size, config.batch_size, config.blocks) == (96, 16, 16)
        assert config.ema == 0.999 and config.schedule == "cosine"
    assert (pretrain.pixel_loss, pretrain.learning_rate) == ("l1", 2e-4)
    assert (gan.content_loss, gan.adversarial, gan.consistency_weight) == ("vgg54", "bce", 10.0)
    assert gan.grid_weight == 300.0 and pretrain.grid_weight == 0.0  # the shipped SRGAN's loss


def test_the_scale_is_the_papers_unless_asked_and_decides_the_lr_size():
    assert resolve_config("paper").scale == 4 == resolve_config("report").scale
    sizes = {scale: resolve_config("paper", None, {"scale": scale}).lr_size for scale in (2, 4, 8)}
    assert sizes == {2: 48, 4: 24, 8: 12}  # 96-pixel HR crops
    assert resolve_config("report", None, {"scale": 8}).lr_size == 28  # 224 / 8


def test_a_config_json_written_before_there_were_scales_reads_as_x4(tmp_path):
    from training.config import read_config

    values = json.loads(resolve_config("paper", "pretrain", {"scale": 2}).to_json())
    assert values["scale"] == 2
    del values["scale"]
    (tmp_path / "config.json").write_text(json.dumps(values))
    config = read_config(tmp_path / "config.json")
    assert (config.scale, config.lr_size) == (4, 24)
    assert Config.from_values({**values, "scale": 8}).scale == 8
