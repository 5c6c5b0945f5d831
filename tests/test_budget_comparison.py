"""The budget comparison runs what it says: each setting is a valid train.py command that
differs from the others only in the lever it names, and all share data, seed and budget."""

import dataclasses

import pytest

import train
from benchmarks import budget_comparison

SHARED = {"run_dir"}  # the one field every setting must have its own value of


def resolved(name, steps=1500):
    argv = budget_comparison.train_command(name, steps, "/data/train", "/out")[2:]
    return train.config_from_args(train.build_parser().parse_args(argv), argv, check_paths=False)


def differences(a, b):
    a, b = dataclasses.asdict(a), dataclasses.asdict(b)
    return {key for key in a if a[key] != b[key]} - SHARED


@pytest.mark.parametrize("name", list(budget_comparison.SETTINGS))
def test_every_setting_is_the_papers_srresnet_for_the_same_budget(name):
    config = resolved(name, steps=1234)
    assert (config.stage, config.blocks, config.hr_size, config.batch_size) == (
        "pretrain",
        16,
        96,
        16,
    )
    assert config.epochs * config.steps_per_epoch == 1234
    assert config.seed == 0 and config.init_generator is None
    assert config.dataset.split(",") == [
        "/data/train/T91",
        "/data/train/BSD200",
        "/data/train/BSDS500_test",
    ]
    assert config.run_dir == f"/out/{name}"


def test_each_setting_changes_only_its_own_lever():
    paper, cosine = resolved("paper"), resolved("cosine")
    assert differences(paper, resolved("const5e-4")) == {"learning_rate"}
    assert paper.schedule == "constant" and paper.learning_rate == 1e-4
    assert cosine.schedule == "cosine" and cosine.min_learning_rate == 1e-6
    assert differences(cosine, resolved("cosine-ema")) == {"ema"}
    assert differences(cosine, resolved("cosine-l1")) == {"pixel_loss"}
    assert differences(cosine, resolved("cosine-f32")) == {"precision"}
    assert resolved("cosine-f32").precision == "float32" and cosine.precision == "auto"


def test_a_train_dir_without_the_photos_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        budget_comparison.main(["--train-dir", str(tmp_path), "--out", str(tmp_path / "o")])
    assert stopped.value.code == 2
    assert "no T91 folder" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
