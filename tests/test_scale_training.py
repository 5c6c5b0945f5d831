"""``train.py --scale 2|4|8`` end to end (issue 32), on tiny networks and a folder of photos.

What is trained at a scale says so itself (``models.description``) and upscales by it; a run
resumes at its scale, old runs (no ``scale`` in config.json) as the x4 they were, and every
mismatch (a scale the code cannot build, an HR crop it does not divide, a starting generator
of another scale) is one line before anything is trained.
"""

import json

import keras
import numpy as np
import pytest

from models.description import describe
from models.generator import build_generator
from runtime import rundir
from tests.test_description import without_spec
from tests.test_loop import assert_same_final_state, read_csv_rows, read_history, tiny_config
from tests.test_train_cli import one_error_line, run_main, tiny_args
from training.loop import Interrupted, train


def scale_args(photo_folder, tmp_path, scale, run_dir, *extra):
    """A 2-step pretraining run at ``scale``: 32-pixel HR crops, one 48-pixel validation crop."""
    steps = ("--epochs", "1", "--steps-per-epoch", "2", "--run-dir", str(run_dir))
    flags = ("--stage", "pretrain", "--scale", str(scale), *steps, *extra)
    return tiny_args(photo_folder, tmp_path, *flags)


@pytest.mark.parametrize("scale", [2, 8])
def test_a_run_at_a_scale_saves_a_generator_of_that_scale(photo_folder, tmp_path, scale, capsys):
    run = tmp_path / "run"
    assert run_main(scale_args(photo_folder, tmp_path, scale, run)) == 0
    assert "validation PSNR-Y" in capsys.readouterr().out
    assert json.loads((run / rundir.CONFIG).read_text())["scale"] == scale
    for path in (run / rundir.GENERATOR, rundir.latest_checkpoint(run) / rundir.GENERATOR):
        generator = keras.models.load_model(path)
        assert describe(generator).scale == scale
        assert describe(generator).blocks == 1 and not describe(generator).legacy
        out = generator.predict_on_batch(np.zeros((1, 5, 6, 3), np.float32))
        assert out.shape == (1, 5 * scale, 6 * scale, 3)
    # The crops were hr_size / scale LR pixels (a pixel loss of mismatched shapes cannot train).
    assert len(read_history(run)) == 2
    assert 5 < float(read_csv_rows(run / rundir.VALIDATION)[-1]["psnr_y"]) < 60
    # A config.json edited to another scale does not match its checkpoints: one line.
    values = json.loads((run / rundir.CONFIG).read_text())
    (run / rundir.CONFIG).write_text(json.dumps({**values, "scale": 4}))
    assert run_main(["--resume", str(run), "--epochs", "2", "--no-progress"]) == 2
    line = one_error_line(capsys)
    assert f"is an x{scale} generator; this run trains x4" in line and "config.json" in line


def test_an_interrupted_x2_run_resumes_at_x2_and_ends_as_an_uninterrupted_one(
    photo_folder, tmp_path, capsys
):
    """Interrupted mid-epoch by the library, resumed by ``train.py --resume``, which reads the
    scale from config.json: the same weights and optimiser state as the straight run."""
    config = tiny_config(photo_folder, tmp_path, stage="pretrain", scale=2, augment=True)
    straight = train(config, run_dir=tmp_path / "straight", progress=False)

    def interrupt(trainer, step, losses):
        if step == 4:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        train(config, run_dir=tmp_path / "resumed", progress=False, on_step=interrupt)
    assert run_main(["--resume", str(tmp_path / "resumed"), "--no-progress"]) == 0
    assert "done: 6 steps" in capsys.readouterr().out
    assert_same_final_state(straight.run_dir, tmp_path / "resumed")
    resumed = keras.models.load_model(tmp_path / "resumed" / rundir.GENERATOR)
    assert describe(resumed).scale == 2
    losses = [row["g_mse"] for row in read_history(tmp_path / "resumed")]
    assert losses == [row["g_mse"] for row in read_history(straight.run_dir)]


def test_a_gan_run_at_x2_trains_with_its_scales_consistency_and_grid_terms(
    photo_folder, tmp_path, capsys
):
    from models.lpips_files import MissingLPIPSWeights
    from models.lpips_weights import find_lpips_weights

    try:
        find_lpips_weights("alex", download=False)
    except MissingLPIPSWeights as error:
        pytest.skip(f"the GAN stage validates with LPIPS ({error})")
    run = tmp_path / "run"
    extra = ("--content-loss", "mse", "--consistency-weight", "1", "--grid-weight", "1")
    argv = scale_args(photo_folder, tmp_path, 2, run, *extra)
    argv[argv.index("--stage") + 1] = "gan"
    assert run_main(argv) == 0, capsys.readouterr().err
    history = read_history(run)
    assert len(history) == 2
    for name in ("g_content", "g_adversarial", "g_consistency", "g_grid"):
        assert np.isfinite(float(history[-1][name])), name
    assert describe(keras.models.load_model(run / rundir.GENERATOR)).scale == 2
    assert float(read_csv_rows(run / rundir.VALIDATION)[-1]["lpips"]) > 0


def test_a_scale_the_code_cannot_build_is_refused(capsys):
    with pytest.raises(SystemExit) as refused:
        run_main(["--scale", "3"])
    assert refused.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.endswith(": error: argument --scale: invalid choice: 3 (choose from 2, 4, 8)")


def test_an_old_runs_config_json_with_another_scale_is_one_line(tmp_path, capsys):
    from training.config import resolve_config

    values = json.loads(resolve_config("paper", "pretrain").to_json())
    (tmp_path / rundir.CONFIG).write_text(json.dumps({**values, "scale": 3}))
    assert run_main(["--resume", str(tmp_path)]) == 2
    assert "--scale must be one of 2, 4, 8, not 3" in one_error_line(capsys)


def test_an_hr_size_the_scale_does_not_divide_is_one_line(photo_folder, tmp_path, capsys):
    argv = scale_args(photo_folder, tmp_path, 8, tmp_path / "run", "--hr-size", "20")
    assert run_main(argv) == 2
    assert "--hr-size 20 is not a multiple of --scale 8" in one_error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_the_grid_term_at_x8_needs_hr_crops_of_whole_tiles(photo_folder, tmp_path, capsys):
    """At x8 the grid term's tile is 32 pixels (4 LR pixels): a 48-pixel crop is refused
    before anything is written."""
    argv = scale_args(photo_folder, tmp_path, 8, tmp_path / "run", "--hr-size", "48")
    argv[argv.index("--stage") + 1] = "gan"
    argv += ["--content-loss", "mse", "--grid-weight", "1"]
    assert run_main(argv) == 2
    line = one_error_line(capsys)
    assert "--grid-weight at --scale 8" in line and "multiple of 32, not 48" in line
    assert not (tmp_path / "run").exists()


def test_a_config_json_without_a_scale_is_an_x4_run_and_resumes_as_one(
    photo_folder, tmp_path, capsys
):
    """Runs written before --scale: their config.json has no scale, their checkpoints'
    generators no spec (``models.description``), and they were x4."""
    run = tmp_path / "run"
    assert run_main(scale_args(photo_folder, tmp_path, 4, run)) == 0
    values = json.loads((run / rundir.CONFIG).read_text())
    del values["scale"]
    (run / rundir.CONFIG).write_text(json.dumps(values))
    checkpoint = rundir.latest_checkpoint(run) / rundir.GENERATOR
    old = without_spec(keras.models.load_model(checkpoint))
    assert describe(old).legacy
    old.save(checkpoint)
    assert run_main(["--resume", str(run), "--epochs", "2", "--no-progress"]) == 0
    assert "done: 4 steps" in capsys.readouterr().out
    assert describe(keras.models.load_model(run / rundir.GENERATOR)).scale == 4


@pytest.mark.parametrize("legacy", [False, True], ids=["described", "legacy"])
def test_an_x4_init_generator_into_an_x2_run_is_one_line(photo_folder, tmp_path, capsys, legacy):
    x4 = build_generator(blocks=1)
    if legacy:  # saved before generators recorded their scale: read as the x4 it was
        x4 = without_spec(x4)
    x4.save(tmp_path / "x4.keras")
    argv = scale_args(photo_folder, tmp_path, 2, tmp_path / "run")
    assert run_main([*argv, "--init-generator", str(tmp_path / "x4.keras")]) == 2
    line = one_error_line(capsys)
    assert "x4.keras is an x4 generator" in line and "this run trains x2 (--scale 2)" in line
    assert ("saved before generators recorded their scale" in line) == legacy
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_an_init_generator_of_the_runs_scale_is_where_training_starts(photo_folder, tmp_path):
    """The check lets the right file through: an x8 run starts from an x8 generator's weights,
    and the networks it builds next start where they would without it (the check's reading of
    the file draws nothing from the seeded sequence)."""
    from training.networks import build_networks

    keras.utils.set_random_seed(5)
    start = build_generator(scale=8, blocks=1)
    start.save(tmp_path / "x8.keras")
    init = str(tmp_path / "x8.keras")
    config = tiny_config(photo_folder, tmp_path, scale=8, content_loss="mse", init_generator=init)
    networks = build_networks(config)
    assert describe(networks.generator).scale == 8
    for a, b in zip(start.weights, networks.generator.weights, strict=True):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), err_msg=a.path
        )
    config.init_generator = None
    fresh = build_networks(config)
    for a, b in zip(fresh.discriminator.weights, networks.discriminator.weights, strict=True):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), err_msg=a.path
        )


def test_init_across_scales_takes_the_layers_both_scales_have(photo_folder, tmp_path, capsys):
    """An x2 run from an x4 generator (EDSR's way to a new scale): head, body, the first
    upsampling stage and the output conv come from the file; nothing else does, and the run
    trains from there."""
    from training.networks import build_networks

    keras.utils.set_random_seed(7)
    x4 = build_generator(blocks=1)
    x4.save(tmp_path / "x4.keras")
    config = tiny_config(
        photo_folder,
        tmp_path,
        stage="pretrain",
        scale=2,
        init_generator=str(tmp_path / "x4.keras"),
        init_across_scales=True,
    )
    generator = build_networks(config).generator
    printed = capsys.readouterr().out
    assert "initialised afresh: none" in printed  # x2 has no layer x4 lacks
    for layer in generator.layers:
        for a, b in zip(layer.weights, x4.get_layer(layer.name).weights, strict=True):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), err_msg=a.path
            )
    assert describe(generator).scale == 2

    # the other way: x8 from x4 leaves the third stage as initialised, and says so
    config.scale, config.hr_size = 8, 32
    generator = build_networks(config).generator
    assert "initialised afresh: up3_conv, up3_act" in capsys.readouterr().out
    np.testing.assert_array_equal(
        generator.get_layer("sr").get_weights()[0], x4.get_layer("sr").get_weights()[0]
    )

    argv = scale_args(photo_folder, tmp_path, 2, tmp_path / "run")
    argv += ["--init-generator", str(tmp_path / "x4.keras"), "--init-across-scales"]
    assert run_main(argv) == 0
    assert describe(keras.models.load_model(tmp_path / "run" / rundir.GENERATOR)).scale == 2
