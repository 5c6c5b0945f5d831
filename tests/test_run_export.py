"""An exported run holds what the notebook reads, scored, and is written whole or not at all."""

import shutil

import numpy as np
import pytest

from evaluation.benchmark import load_method, resolve_datasets
from evaluation.run_export import SCORES, export_run, main, read_scores
from evaluation.runs import latest_runs, read_run
from runtime.errors import UserError
from runtime.rundir import GENERATOR


def test_an_exported_run_has_its_curves_generator_and_checkpoint_scores(
    runs, photo_folder, tmp_path
):
    bench = resolve_datasets([str(photo_folder)])
    target = export_run(runs["pixelshuffle"], tmp_path / "out", bench)
    assert sorted(p.name for p in target.iterdir()) == sorted(
        ["config.json", "history.csv", "validation.csv", GENERATOR, SCORES]
    )
    assert read_run(target).validation == read_run(runs["pixelshuffle"]).validation
    assert latest_runs(tmp_path / "out") == [target]  # the notebook finds it as a run
    scores = read_scores(target)
    assert [row["step"] for row in scores] == [2, 4]  # both checkpoints, in order
    assert [row["checkpoint"] for row in scores] == ["step_0000002", "step_0000004"]
    name = bench[0].name
    assert all(3 < row[f"{name}_psnr_y"] < 60 and 0 < row[f"{name}_ssim_y"] <= 1 for row in scores)
    assert all(np.isnan(row["lpips"]) for row in scores)  # a pretraining run validates no LPIPS
    # The final generator is the run's: the same output on the same input.
    lr = np.random.default_rng(0).uniform(-1, 1, (1, 8, 8, 3)).astype("float32")
    exported = load_method(target).generator.predict_on_batch(lr)
    original = load_method(runs["pixelshuffle"]).generator.predict_on_batch(lr)
    np.testing.assert_array_equal(exported, original)


def test_an_existing_export_is_kept_and_a_run_without_checkpoints_leaves_nothing(
    runs, photo_folder, tmp_path
):
    bench = resolve_datasets([str(photo_folder)])
    target = export_run(runs["upsampling"], tmp_path / "out", bench)
    before = (target / SCORES).read_bytes()
    with pytest.raises(UserError, match="exists"):
        export_run(runs["upsampling"], tmp_path / "out", bench)
    assert (target / SCORES).read_bytes() == before

    bare = tmp_path / "bare"
    shutil.copytree(runs["upsampling"], bare)
    shutil.rmtree(bare / "checkpoints")
    with pytest.raises(UserError, match="no checkpoint"):
        export_run(bare, tmp_path / "other", bench)
    assert not (tmp_path / "other").exists() or not any((tmp_path / "other").iterdir())


def test_the_command_line_exports_and_refuses_a_folder_that_is_no_run(
    runs, photo_folder, tmp_path, capsys
):
    from runtime import cli

    argv = [str(runs["pixelshuffle"]), "--to", str(tmp_path / "out")]
    argv += ["--datasets", str(photo_folder), "--perceptual", "none", "--no-progress"]
    assert cli.run(main, argv) == 0
    assert "exported to" in capsys.readouterr().out
    assert cli.run(main, [str(tmp_path), "--to", str(tmp_path / "o"), "--perceptual", "none"]) == 2
    assert "not a training run directory" in capsys.readouterr().err
