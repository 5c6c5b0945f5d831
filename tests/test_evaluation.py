"""The evaluation library: the benchmark protocol, tables, run reading, files and figures.

Fast: no training here (tests/test_evaluate_cli.py trains two tiny runs for the end-to-end
tests). The one network is an untrained 1-block generator, saved once per module.
"""

import csv
import json

import numpy as np
import pytest
from PIL import Image

import evaluation
import stop
from data.images import bicubic_downscale, bicubic_upscale, modcrop, read_rgb, write_image
from errors import UserError
from metrics import psnr, ssim


@pytest.fixture(scope="module")
def benchmark(shared_datasets):
    """Bicubic on Set5 and Set14: numpy only, about a second."""
    datasets = evaluation.resolve_datasets(["Set5", "Set14"], shared_datasets)
    return evaluation.evaluate([evaluation.bicubic_method()], datasets, progress=False)


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


def test_the_benchmark_table_starts_with_bicubic_and_can_show_the_paper(benchmark):
    table = evaluation.benchmark_table(benchmark, paper=True)
    lines = table.splitlines()
    assert lines[0] == "| Method | Set5 PSNR / SSIM | Set14 PSNR / SSIM |"
    assert lines[2].startswith("| Bicubic | 28.43 / 0.81")
    assert "| SRResNet (Ledig et al.) | 32.05 / 0.9019 | 28.49 / 0.8184 |" in lines
    assert "| SRGAN (Ledig et al.) | 29.40 / 0.8472 | 26.02 / 0.7397 |" in lines
    wide = evaluation.benchmark_table(benchmark, paper=True, columns=["Set5", "BSD100"])
    assert "| Bicubic (Ledig et al.) | 28.43 / 0.8211 | 25.94 / 0.6935 |" in wide
    assert "| Bicubic | 28.43 / 0.8111 | – |" in wide


def test_a_folder_without_lr_gets_matlab_bicubic_lr(photo_folder):
    (dataset,) = evaluation.resolve_datasets([str(photo_folder)])
    assert dataset.name == photo_folder.name and dataset.official_lr == 0
    image = evaluation.load_test_image(dataset.name, dataset.images[0])
    hr = modcrop(read_rgb(dataset.images[0].hr), 4)
    np.testing.assert_array_equal(image.hr, hr)
    np.testing.assert_array_equal(image.lr, bicubic_downscale(hr))
    assert not image.official_lr


def test_a_stop_request_ends_the_benchmark_between_images(photo_folder, monkeypatch):
    (dataset,) = evaluation.resolve_datasets([str(photo_folder)])
    original, calls = evaluation.super_resolve, []

    def super_resolve(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            stop.request()  # as Ctrl-C or SIGTERM would, during the second image
        return original(*args, **kwargs)

    monkeypatch.setattr(evaluation, "super_resolve", super_resolve)
    with stop.watching(), pytest.raises(KeyboardInterrupt):
        evaluation.evaluate([evaluation.bicubic_method()], [dataset], progress=False)
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
    (dataset,) = evaluation.resolve_datasets([str(tmp_path)])
    with pytest.raises(UserError, match="is not a x4 LR"):
        evaluation.load_test_image(dataset.name, dataset.images[0])
    with pytest.raises(UserError, match="too small"):
        evaluation.load_test_image(dataset.name, dataset.images[1])


def test_an_undecodable_image_stops_with_its_name(tmp_path):
    write_image(tmp_path / "good.png", np.zeros((32, 32, 3), np.uint8))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    datasets = evaluation.resolve_datasets([str(tmp_path)])
    with pytest.raises(UserError, match=r"broken\.png"):
        evaluation.evaluate([evaluation.bicubic_method()], datasets, progress=False)


def test_a_missing_dataset_says_how_to_get_it(tmp_path):
    with pytest.raises(UserError, match=r"data\.download Set5"):
        evaluation.resolve_datasets(["Set5"], tmp_path)
    found, missing = evaluation.available_datasets(["Set5", str(tmp_path / "nope")], tmp_path)
    assert found == [] and set(missing) == {"Set5", str(tmp_path / "nope")}


def test_model_specs_and_default_names(tmp_path):
    run = tmp_path / "my_run"
    checkpoint = run / "checkpoints" / "step_0000120"
    checkpoint.mkdir(parents=True)
    (checkpoint / "generator.keras").write_bytes(b"")
    (run / "generator.keras").write_bytes(b"")
    (tmp_path / "srgan.keras").write_bytes(b"")
    assert evaluation.split_model_spec("best=runs/x") == ("best", evaluation.Path("runs/x"))
    assert evaluation.split_model_spec("runs/a=b")[0] is None
    assert evaluation.default_name(run) == "my_run"
    assert evaluation.default_name(run / "generator.keras") == "my_run"
    assert evaluation.default_name(checkpoint) == "my_run-step120"
    assert evaluation.default_name(checkpoint / "generator.keras") == "my_run-step120"
    assert evaluation.default_name(tmp_path / "srgan.keras") == "srgan"
    assert evaluation.safe_filename("a/b c") == "a_b_c"


def fake_run(folder, upsample, dataset, rows):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(
        json.dumps({"upsample": upsample, "dataset": dataset, "stage": "gan"})
    )
    with open(folder / "validation.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "epoch", "psnr_y", "ssim_y", "psnr_rgb"])
        writer.writerows(rows)
    return folder


def test_the_report_table_reads_method_data_and_epochs_from_runs(tmp_path):
    runs = [
        fake_run(tmp_path / "a", "pixelshuffle", "DIV2K", [[50, 5, 24.5, 0.7, 22.0]]),
        fake_run(
            tmp_path / "b",
            "upsampling",
            "/data/photos",
            [[50, 5, 23.25, 0.65, 21.0], [100, 10, 23.5, 0.66, 21.5]],
        ),
    ]
    rows = evaluation.report_rows([evaluation.read_run(run) for run in runs])
    assert [(r["method"], r["data"], r["epoch"]) for r in rows] == [
        ("Pixel Shuffle", "DIV2K", 5),
        ("UpSampling2D", "photos", 5),
        ("UpSampling2D", "photos", 10),
    ]
    table = evaluation.report_table(rows)
    assert "| Pixel Shuffle | DIV2K | 5 | 50 | 24.50 | 0.7000 | a |" in table
    assert "| UpSampling2D | photos | 10 | 100 | 23.50 | 0.6600 | b |" in table
    assert evaluation.latest_runs(tmp_path) == [runs[0], runs[1]]


def test_a_folder_that_is_not_a_run_is_refused(tmp_path):
    with pytest.raises(UserError, match=r"no config\.json"):
        evaluation.read_run(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(UserError, match=r"no validation\.csv"):
        evaluation.read_run(tmp_path)


def test_csv_and_json_are_written_whole_and_nan_becomes_empty(tmp_path):
    rows = [{"method": "a", "psnr_y": 30.123456789}, {"method": "b", "psnr_y": float("nan")}]
    evaluation.write_csv(tmp_path / "t.csv", rows)
    with open(tmp_path / "t.csv", newline="") as handle:
        assert list(csv.DictReader(handle)) == [
            {"method": "a", "psnr_y": "30.123457"},
            {"method": "b", "psnr_y": ""},
        ]
    evaluation.write_json(tmp_path / "t.json", {"rows": rows, "path": tmp_path})
    assert json.loads((tmp_path / "t.json").read_text())["rows"][1]["psnr_y"] is None
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    with pytest.raises(UserError, match="does not exist"):
        evaluation.write_csv(tmp_path / "no" / "t.csv", rows)


def test_the_zoom_goes_where_the_detail_is():
    image = np.full((96, 128, 3), 128, np.uint8)
    rng = np.random.default_rng(0)
    image[48:80, 80:112] = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    x, y, size = evaluation.choose_crop(image, 32)
    assert size == 32 and abs(x - 80) <= 4 and abs(y - 48) <= 4


def test_checkerboard_energy_tells_a_grid_from_a_photo(photo_folder):
    grid = np.indices((64, 64)).sum(axis=0) % 2 * 40.0 + 100
    assert evaluation.checkerboard_energy(grid) > 0.99
    photo = read_rgb(sorted(photo_folder.iterdir())[0])
    assert evaluation.checkerboard_energy(photo) < 0.05
    assert evaluation.spectrum(photo).shape == photo.shape[:2]


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
    methods = evaluation.load_methods([f"tiny={untrained_generator}"])
    assert [m.name for m in methods] == ["Bicubic", "tiny"]
    datasets = evaluation.resolve_datasets([str(tmp_path)])
    result = evaluation.evaluate(
        methods, datasets, save_images=tmp_path / "out", keep_figure=True, progress=False
    )
    assert result.methods == ["Bicubic", "tiny"]
    assert len(result.per_image) == 4
    grey = np.asarray(Image.open(tmp_path / "out" / tmp_path.name / "tiny/grey.png"))
    assert grey.shape == (44, 40) and grey.dtype == np.uint8
    colour = np.asarray(Image.open(tmp_path / "out" / tmp_path.name / "tiny/colour.png"))
    assert colour.shape == (40, 48, 3)
    figure = evaluation.comparison_figure(result.figure, tmp_path / "figure.png")
    assert len(figure.axes) == 6  # (bicubic, tiny, HR) x (full, zoom)
    assert Image.open(tmp_path / "figure.png").size[0] > 300
    with pytest.raises(UserError, match="label them"):
        evaluation.load_methods([str(untrained_generator), str(untrained_generator)])
