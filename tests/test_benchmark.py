"""The benchmark protocol: methods, datasets, LR made or read, scoring, stop requests.

Fast: no training here (tests/test_evaluate_cli.py trains two tiny runs for the end-to-end
tests). The one network is an untrained 1-block generator, saved once per module.
"""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import evaluation.benchmark
from data.images import read_rgb, write_image
from data.matlab_functions import bicubic_downscale, bicubic_upscale, modcrop
from evaluation.benchmark import (
    Method,
    available_datasets,
    bicubic_method,
    default_name,
    evaluate,
    load_methods,
    load_test_image,
    resolve_datasets,
    safe_filename,
    split_model_spec,
    tables_by_scale,
)
from evaluation.figures import comparison_figure
from evaluation.metrics import psnr, ssim
from runtime import stop
from runtime.errors import UserError


def test_bicubic_baseline_matches_the_published_figures(benchmark):
    # Ledig et al. print 28.43 / 25.99; MATLAB-exact bicubic of the official LR gives 28.429
    # and 25.994 (bridge on its grey channel). Their SSIM came from another implementation.
    assert benchmark.mean("Bicubic", "Set5", "psnr_y") == pytest.approx(28.429, abs=0.005)
    set14 = benchmark.mean("Bicubic", "Set14", "psnr_y")
    assert set14 == pytest.approx(25.994, abs=0.002) and abs(set14 - 26.00) < 0.01
    assert benchmark.mean("Bicubic", "Set5", "ssim_y") == pytest.approx(0.811, abs=0.005)
    assert [d.official_lr for d in benchmark.datasets] == [5, 14]


def test_a_grey_image_is_scored_on_its_grey_channel(benchmark, shared_datasets):
    bridge = [r for r in benchmark.per_image if r["image"] == "bridge"]
    assert len(bridge) == 1 and bridge[0]["grey"]
    hr = modcrop(np.asarray(Image.open(shared_datasets / "Set14/HR/bridge.png")), 4)
    lr = np.asarray(Image.open(shared_datasets / "Set14/LR_bicubic/X4/bridgex4.png"))
    assert hr.ndim == 2 and lr.ndim == 2
    sr = bicubic_upscale(lr)
    assert bridge[0]["psnr_y"] == pytest.approx(psnr(hr, sr, crop_border=4))
    assert bridge[0]["ssim_y"] == pytest.approx(ssim(hr, sr, crop_border=4))


def test_a_folder_without_lr_gets_matlab_bicubic_lr(photo_folder):
    (dataset,) = resolve_datasets([str(photo_folder)])
    assert dataset.name == photo_folder.name and dataset.official_lr == 0
    image = load_test_image(dataset.name, dataset.images[0])
    hr = modcrop(read_rgb(dataset.images[0].hr), 4)
    np.testing.assert_array_equal(image.hr, hr)
    np.testing.assert_array_equal(image.lr, bicubic_downscale(hr))
    assert not image.official_lr


def test_a_stop_request_ends_the_benchmark_between_images(photo_folder, monkeypatch):
    (dataset,) = resolve_datasets([str(photo_folder)])
    original, calls = evaluation.benchmark.super_resolve, []

    def super_resolve(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            stop.request()  # as Ctrl-C or SIGTERM would, during the second image
        return original(*args, **kwargs)

    monkeypatch.setattr(evaluation.benchmark, "super_resolve", super_resolve)
    with stop.watching(), pytest.raises(KeyboardInterrupt):
        evaluate([bicubic_method()], [dataset], progress=False)
    assert len(calls) == 2 < len(dataset.images)  # the second image finished, no third began


def test_an_lr_file_of_the_wrong_size_and_a_tiny_image_are_refused(tmp_path):
    (tmp_path / "HR").mkdir()
    (tmp_path / "LR_bicubic" / "X4").mkdir(parents=True)
    rng = np.random.default_rng(0)
    write_image(tmp_path / "HR" / "a.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    write_image(
        tmp_path / "LR_bicubic" / "X4" / "ax4.png",
        rng.integers(0, 256, (15, 16, 3), dtype=np.uint8),
    )
    write_image(tmp_path / "HR" / "b.png", np.zeros((16, 40, 3), np.uint8))
    (dataset,) = resolve_datasets([str(tmp_path)])
    with pytest.raises(UserError, match="is not a x4 LR"):
        load_test_image(dataset.name, dataset.images[0])
    with pytest.raises(UserError, match="too small"):
        load_test_image(dataset.name, dataset.images[1])


def test_an_undecodable_image_stops_with_its_name(tmp_path):
    write_image(tmp_path / "good.png", np.zeros((32, 32, 3), np.uint8))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    datasets = resolve_datasets([str(tmp_path)])
    with pytest.raises(UserError, match=r"broken\.png"):
        evaluate([bicubic_method()], datasets, progress=False)


def test_a_missing_dataset_says_how_to_get_it(tmp_path):
    with pytest.raises(UserError, match=r"data\.download Set5"):
        resolve_datasets(["Set5"], tmp_path)
    found, missing = available_datasets(["Set5", str(tmp_path / "nope")], tmp_path)
    assert found == [] and set(missing) == {"Set5", str(tmp_path / "nope")}


def test_model_specs_and_default_names(tmp_path):
    run = tmp_path / "my_run"
    checkpoint = run / "checkpoints" / "step_0000120"
    checkpoint.mkdir(parents=True)
    (checkpoint / "generator.keras").write_bytes(b"")
    (checkpoint / "generator_raw.keras").write_bytes(b"")
    (tmp_path / "generator_raw.keras").write_bytes(b"")
    (run / "generator.keras").write_bytes(b"")
    (tmp_path / "srgan.keras").write_bytes(b"")
    assert split_model_spec("best=runs/x") == ("best", Path("runs/x"))
    assert split_model_spec("runs/a=b")[0] is None
    assert default_name(run) == "my_run"
    assert default_name(run / "generator.keras") == "my_run"
    assert default_name(checkpoint) == "my_run-step120"
    assert default_name(checkpoint / "generator.keras") == "my_run-step120"
    assert default_name(checkpoint / "generator_raw.keras") == "my_run-step120-raw"
    assert default_name(tmp_path / "generator_raw.keras") == "generator_raw"  # not a checkpoint's
    assert default_name(tmp_path / "srgan.keras") == "srgan"
    assert safe_filename("a/b c") == "a_b_c"


@pytest.fixture(scope="module")
def untrained_generator(tmp_path_factory):
    from models.generator import build_generator

    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    build_generator(blocks=1).save(path)
    return path


def test_a_model_row_follows_bicubic_and_grey_stays_grey(untrained_generator, tmp_path):
    rng = np.random.default_rng(1)
    write_image(tmp_path / "colour.png", rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
    write_image(tmp_path / "grey.png", rng.integers(0, 256, (44, 40), dtype=np.uint8))
    methods = load_methods([f"tiny={untrained_generator}"])
    assert [m.name for m in methods] == ["Bicubic", "tiny"]
    datasets = resolve_datasets([str(tmp_path)])
    result = evaluate(
        methods, datasets, save_images=tmp_path / "out", keep_figure=True, progress=False
    )
    assert result.methods == ["Bicubic", "tiny"]
    assert len(result.per_image) == 4
    grey = np.asarray(Image.open(tmp_path / "out" / tmp_path.name / "tiny/grey.png"))
    assert grey.shape == (44, 40) and grey.dtype == np.uint8
    colour = np.asarray(Image.open(tmp_path / "out" / tmp_path.name / "tiny/colour.png"))
    assert colour.shape == (40, 48, 3)
    figure = comparison_figure(result.figure, tmp_path / "figure.png")
    assert len(figure.axes) == 6  # (bicubic, tiny, HR) x (full, zoom)
    assert Image.open(tmp_path / "figure.png").size[0] > 300
    with pytest.raises(UserError, match="label them"):
        load_methods([str(untrained_generator), str(untrained_generator)])


@pytest.fixture(scope="module")
def lpips_weights():
    from models.lpips_files import MissingLPIPSWeights
    from models.lpips_weights import find_lpips_weights

    try:
        return str(find_lpips_weights("alex", download=False))
    except MissingLPIPSWeights as error:
        pytest.skip(f"no LPIPS weights ({error})")


def test_lpips_is_scored_on_the_modcropped_hr_and_the_sr_with_the_shave(
    shared_datasets, lpips_weights
):
    from evaluation.perceptual import Perceptual
    from models.lpips import lpips_distance

    datasets = resolve_datasets(["Set14"], shared_datasets)
    datasets[0].images = [i for i in datasets[0].images if i.name in ("bridge", "baboon")]
    perceptual = Perceptual(lpips=True, niqe=True, weights=lpips_weights)
    result = evaluate([bicubic_method()], datasets, progress=False, perceptual=perceptual)
    assert result.perceptual == ("lpips", "niqe")
    assert set(result.summary()[0]) >= {"psnr_y", "ssim_y", "lpips", "niqe"}
    for row in result.per_image:
        hr = np.asarray(Image.open(shared_datasets / f"Set14/HR/{row['image']}.png"))
        hr = modcrop(hr, 4)
        lr = np.asarray(Image.open(shared_datasets / f"Set14/LR_bicubic/X4/{row['image']}x4.png"))
        sr = bicubic_upscale(lr)
        if hr.ndim == 2:  # bridge: its grey channel three times
            hr, sr = (np.repeat(x[:, :, None], 3, axis=2) for x in (hr, sr))
        expected = lpips_distance(hr[4:-4, 4:-4], sr[4:-4, 4:-4], weights=lpips_weights)
        assert row["lpips"] == pytest.approx(expected, abs=1e-6)
        assert 0.1 < row["lpips"] < 0.9 and 3 < row["niqe"] < 15
    assert [row["grey"] for row in result.per_image] == [False, True]  # baboon, bridge
    assert result.mean("Bicubic", "Set14", "lpips") == pytest.approx(
        np.mean([row["lpips"] for row in result.per_image])
    )


def test_each_scale_gets_its_own_table_and_a_table_one_scale(photo_folder):
    models = [Method("a", scale=4), Method("b", scale=2), Method("c", scale=4)]
    tables = [[(m.name, m.scale) for m in table] for table in tables_by_scale(models)]
    assert tables == [[("Bicubic", 2), ("b", 2)], [("Bicubic", 4), ("a", 4), ("c", 4)]]
    (alone,) = tables_by_scale([], 8)  # no model: bicubic at the scale asked for
    assert [(m.name, m.scale) for m in alone] == [("Bicubic", 8)]
    (dataset,) = resolve_datasets([str(photo_folder)])
    with pytest.raises(UserError, match="different scales cannot share a table: a x4, b x2"):
        evaluate(models[:2], [dataset], progress=False)
    # A dataset follows the methods' scale: its pairs are made at x2 there.
    result = evaluate([bicubic_method(2)], [dataset], progress=False)
    assert result.scale == 2 and result.datasets[0].scale == 2
    hr = modcrop(read_rgb(dataset.images[0].hr), 2)
    sr = bicubic_upscale(bicubic_downscale(hr, 2), 2)
    first = result.per_image[0]
    assert first["scale"] == 2
    assert first["psnr_y"] == pytest.approx(psnr(hr, sr, crop_border=2))
