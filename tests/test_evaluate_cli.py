"""evaluate.py end to end: in-process ``main`` calls (one subprocess), two tiny trained runs."""

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import evaluate
from data.images import write_image
from runtime import cli

REPO_ROOT = Path(__file__).resolve().parents[1]


def table_row(text, method):
    """The cells of ``method``'s row in a printed Markdown table."""
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] == method:
            return cells[1:]
    raise AssertionError(f"no row {method!r} in:\n{text}")


def pair(cell):
    psnr, ssim = cell.split(" / ")
    return float(psnr), float(ssim)


def test_the_bicubic_baseline_is_printed_with_the_papers_figures(shared_datasets, capsys):
    started = time.perf_counter()
    argv = ["--datasets", "Set5", "Set14", "--data-dir", str(shared_datasets)]
    assert evaluate.main([*argv, "--perceptual", "none"]) == 0
    seconds = time.perf_counter() - started
    out = capsys.readouterr().out
    set5, set14 = (pair(cell) for cell in table_row(out, "Bicubic"))
    assert set5[0] == pytest.approx(28.43, abs=0.005)
    assert set5[1] == pytest.approx(0.811, abs=0.005)
    assert set14[0] in (25.99, 26.00)  # 25.994 unrounded: within 0.01 of the 26.00 reference
    assert "Set5: 5 images, official LR; Set14: 14 images, official LR" in out
    assert "LPIPS" not in out
    assert seconds < 20  # about 1.5 s: numpy only, TensorFlow is never imported for bicubic


def test_lpips_niqe_and_the_grid_are_printed_beside_psnr(shared_datasets, capsys):
    from data.matlab_functions import bicubic_upscale, modcrop
    from evaluation.grid import grid_score
    from evaluation.niqe import niqe
    from evaluation.perceptual import lpips_score

    argv = ["--datasets", "Set5", "--data-dir", str(shared_datasets), "--no-progress"]
    assert evaluate.main([*argv, "--niqe", "--paper"]) == 0
    out = capsys.readouterr().out
    assert "| Method | Set5 PSNR / SSIM | Set5 LPIPS | Set5 NIQE | Set5 Grid |" in out
    assert "lower is better" in out
    psnr_ssim, lpips, niqe_cell, grid_cell = table_row(out, "Bicubic")
    assert pair(psnr_ssim)[0] == pytest.approx(28.43, abs=0.005)
    assert table_row(out, "SRGAN (Ledig et al.)") == ["29.40 / 0.8472", "–", "–", "–"]
    lpips_values, niqe_values, grid_values = [], [], []
    for hr_path in sorted((shared_datasets / "Set5" / "HR").glob("*.png")):
        hr = modcrop(np.asarray(Image.open(hr_path)), 4)
        lr = np.asarray(Image.open(hr_path.parent.parent / f"LR_bicubic/X4/{hr_path.stem}x4.png"))
        sr = bicubic_upscale(lr)
        lpips_values.append(lpips_score(hr, sr, crop_border=4))
        niqe_values.append(niqe(sr, crop_border=4))
        grid_values.append(grid_score(sr, crop_border=4))
    assert float(grid_cell) == pytest.approx(np.mean(grid_values), abs=0.006)
    assert float(lpips) == pytest.approx(np.mean(lpips_values), abs=6e-5)
    assert float(niqe_cell) == pytest.approx(np.mean(niqe_values), abs=0.006)
    assert 0.2 < float(lpips) < 0.5


def test_the_bicubic_baseline_without_lpips_never_imports_tensorflow(shared_datasets):
    code = (
        "import sys, evaluate; "
        f"evaluate.main(['--datasets', 'Set5', '--data-dir', {str(shared_datasets)!r}, "
        "'--perceptual', 'none', '--no-progress']); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert "| Bicubic | 28.43 / 0.81" in result.stdout


def test_the_command_line_runs_end_to_end(shared_datasets, tmp_path):
    result = subprocess.run(
        [
            *(sys.executable, "evaluate.py", "--datasets", "Set5", "--no-progress"),
            *("--data-dir", str(shared_datasets), "--json", str(tmp_path / "out.json")),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    document = json.loads((tmp_path / "out.json").read_text())
    assert document["summary"][0]["method"] == "Bicubic"
    assert document["summary"][0]["psnr_y"] == pytest.approx(28.429, abs=0.005)
    assert len(document["per_image"]) == 5
    assert document["paper"]["results"]["SRGAN (Ledig et al.)"]["Set5"]["psnr_y"] == 29.40
    assert 0.2 < document["summary"][0]["lpips"] < 0.5  # LPIPS is on by default
    assert all("lpips" in row for row in document["per_image"])


def test_the_report_table_lists_both_methods_and_their_epochs(runs, tmp_path, capsys):
    argv = [str(runs["pixelshuffle"]), str(runs["upsampling"]), "--report-table"]
    assert evaluate.main([*argv, "--csv", str(tmp_path / "report.csv")]) == 0
    out = capsys.readouterr().out
    assert "| Method | Data | Epoch |" in out
    assert "own validation images" in out and "PSNR-Y" in out
    assert "Bicubic" not in out  # no --datasets: the runs' table alone, nothing evaluated
    rows = [line for line in out.splitlines() if line.startswith(("| Pixel", "| UpSampling2D"))]
    methods_epochs = [tuple(c.strip() for c in row.split("|")[1:4:2]) for row in rows]
    assert methods_epochs == [
        ("Pixel Shuffle", "1"),
        ("Pixel Shuffle", "2"),
        ("UpSampling2D", "1"),
        ("UpSampling2D", "2"),
    ]
    with open(tmp_path / "report.csv", newline="") as handle:
        report = list(csv.DictReader(handle))
    assert [(r["method"], r["epoch"], r["stage"]) for r in report][:2] == [
        ("Pixel Shuffle", "1", "pretrain"),
        ("Pixel Shuffle", "2", "pretrain"),
    ]


def photos(photo_folder, folder, count):
    """The first ``count`` test photos in their own folder: fewer images, a faster test."""
    folder.mkdir()
    for index in range(count):
        name = f"photo{index}.png"
        (folder / name).write_bytes((photo_folder / name).read_bytes())
    return folder


def test_checkpoints_can_be_scored_on_a_shared_benchmark(runs, photo_folder, tmp_path, capsys):
    bench = photos(photo_folder, tmp_path / "bench", 2)
    argv = [str(runs["pixelshuffle"]), str(runs["upsampling"]), "--report-table"]
    argv += ["--report-checkpoints", "--datasets", str(bench), "--no-progress"]
    argv += ["--rank-by", "lpips", "--pd-plot", str(tmp_path / "pd.svg")]
    assert evaluate.main([*argv, "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    report = out[out.index("Training runs") :]
    assert "| bench PSNR / SSIM | bench LPIPS | bench Grid | Run |" in report
    assert "Ranked by bench benchmark LPIPS, lowest first" in report
    rows = [line for line in report.splitlines() if line.startswith(("| Pixel", "| UpSampling2D"))]
    assert len(rows) == 4
    lpips = []
    for row in rows:  # both checkpoints of each run are still on disk (keep_checkpoints=2)
        psnr, ssim = pair(row.split("|")[7].strip())
        assert 3 < psnr < 60 and 0 < ssim <= 1
        lpips.append(float(row.split("|")[8]))
    assert lpips == sorted(lpips) and 0 < lpips[0] < 1.5
    assert "Chosen checkpoint: none (the rule needs Set5 in --datasets)." in out
    assert (tmp_path / "pd.svg").read_text().count("<svg") == 1
    document = json.loads((tmp_path / "r.json").read_text())
    rows = [row for row in document["report"]["rows"] if "bench_lpips" in row]
    assert len(rows) == 4 and all(Path(row["checkpoint"]).is_dir() for row in rows)
    assert "chosen" not in document["report"]


def test_the_chosen_checkpoint_rule_is_printed_on_set5(runs, shared_datasets, capsys):
    argv = [str(runs["pixelshuffle"]), "--report-table", "--report-checkpoints"]
    argv += ["--datasets", "Set5", "--data-dir", str(shared_datasets), "--no-progress"]
    assert evaluate.main(argv) == 0
    out = capsys.readouterr().out
    # Two steps of training are far below bicubic: the rule refuses every checkpoint.
    assert (
        "Chosen checkpoint (lowest Set5 LPIPS whose Set5 PSNR-Y is at least bicubic's 28.43 dB): "
        "none qualifies." in out
    )


def test_generators_get_a_row_each_after_bicubic_with_images_figure_and_files(
    runs, photo_folder, tmp_path, capsys
):
    bench = photos(photo_folder, tmp_path / "bench", 3)
    checkpoint = runs["upsampling"] / "checkpoints" / "step_0000002"
    out_dir = tmp_path / "sr"
    argv = [str(runs["pixelshuffle"]), f"resize={runs['upsampling']}", str(checkpoint)]
    argv += ["--datasets", str(bench), "--rgb", "--no-progress"]
    argv += ["--save-images", str(out_dir), "--figure", str(tmp_path / "figure.png")]
    argv += ["--figure-image", "bench/photo2", "--csv", str(tmp_path / "t.csv")]
    argv += ["--json", str(tmp_path / "t.json"), "--pd-plot", str(tmp_path / "pd.png")]
    assert evaluate.main(argv) == 0
    out = capsys.readouterr().out
    names = ["Bicubic", "pixelshuffle", "resize", "upsampling-step2"]
    printed = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ")]
    assert printed[1:] == names  # [0] is the header
    assert len(table_row(out, "resize")) == 4  # PSNR / SSIM, LPIPS, Grid, --rgb's PSNR-RGB
    assert Image.open(tmp_path / "pd.png").size[0] > 300

    for name in names:
        saved = sorted((out_dir / "bench" / name).iterdir())
        assert [p.name for p in saved] == [f"photo{i}.png" for i in range(3)]
        assert np.asarray(Image.open(saved[0])).shape == (80, 96, 3)
    assert Image.open(tmp_path / "figure.png").size[0] > 600
    with open(tmp_path / "t.csv", newline="") as handle:
        summary = list(csv.DictReader(handle))
    assert [r["method"] for r in summary] == names
    assert {"psnr_y", "ssim_y", "psnr_rgb", "lpips"} <= set(summary[0])
    with open(tmp_path / "t_per_image.csv", newline="") as handle:
        per_image = list(csv.DictReader(handle))
    assert len(per_image) == 4 * 3 and all(0 <= float(row["lpips"]) < 1.5 for row in per_image)
    document = json.loads((tmp_path / "t.json").read_text())
    assert document["methods"] == names and len(document["per_image"]) == 12


def test_precision_applies_to_every_model_and_names_itself(photo_folder, tmp_path, capsys):
    import keras

    from models.generator import build_generator

    keras.utils.set_random_seed(3)
    build_generator(blocks=1).save(tmp_path / "g.keras")
    argv = [str(tmp_path / "g.keras"), "other=" + str(tmp_path / "g.keras")]
    argv += ["--datasets", str(photo_folder), "--perceptual", "none", "--no-progress"]
    rows = {}
    for precision in ("float32", "bfloat16"):
        assert evaluate.main([*argv, "--precision", precision]) == 0
        out = capsys.readouterr().out
        suffix = "" if precision == "float32" else " (bfloat16)"
        rows[precision] = [pair(table_row(out, f"{name}{suffix}")[0]) for name in ("g", "other")]
    assert rows["float32"][0] == rows["float32"][1] and rows["bfloat16"][0] == rows["bfloat16"][1]
    assert rows["bfloat16"][0][0] == pytest.approx(rows["float32"][0][0], abs=0.05)
    with pytest.raises(SystemExit) as refused:
        evaluate.main([*argv, "--precision", "fp8"])
    assert refused.value.code == 2 and "invalid choice: 'fp8'" in capsys.readouterr().err


def run_cli(argv, capsys):
    code = cli.run(evaluate.main, argv)
    err = capsys.readouterr().err.strip()
    return code, err


def test_a_corrupt_model_file_is_one_line(tmp_path, photo_folder, capsys):
    (tmp_path / "broken.keras").write_bytes(os.urandom(2048))
    code, err = run_cli([str(tmp_path / "broken.keras"), "--datasets", str(photo_folder)], capsys)
    assert code == 2
    assert err.startswith("error: ") and "broken.keras" in err and "\n" not in err


def test_a_missing_dataset_is_one_line(tmp_path, capsys):
    code, err = run_cli(["--datasets", "Set5", "--data-dir", str(tmp_path)], capsys)
    assert code == 2
    assert err.startswith("error: Set5 is not downloaded") and "\n" not in err
    code, err = run_cli(["--datasets", str(tmp_path / "nowhere")], capsys)
    assert code == 2 and "does not exist" in err and "\n" not in err


def test_an_undecodable_image_is_one_line(tmp_path, capsys):
    write_image(tmp_path / "fine.png", np.zeros((40, 40, 3), np.uint8))
    (tmp_path / "zzz.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    code, err = run_cli(["--datasets", str(tmp_path), "--no-progress"], capsys)
    assert code == 2
    assert err.startswith("error: ") and "zzz.jpg" in err and "\n" not in err


def test_missing_lpips_weights_are_one_line_naming_the_fetch_and_the_way_out(
    tmp_path, photo_folder, capsys, monkeypatch
):
    from models.lpips_weights import WEIGHTS_ENV

    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    code, err = run_cli(["--datasets", str(photo_folder), "--no-progress"], capsys)
    assert code == 2
    assert err.startswith("error: LPIPS alex weights not in") and "\n" not in err
    assert "`python -m models.lpips fetch`" in err and "--perceptual none" in err
    argv = ["--datasets", str(photo_folder), "--no-progress", "--perceptual", "none"]
    assert run_cli(argv, capsys) == (0, "")


def test_other_mistakes_are_one_line_before_any_work(tmp_path, photo_folder, capsys):
    argv = ["--datasets", str(photo_folder), "--figure", str(tmp_path / "f.png")]
    code, err = run_cli([*argv, "--figure-image", "nope"], capsys)
    assert code == 2 and "no image 'nope'" in err
    assert not (tmp_path / "f.png").exists()
    code, err = run_cli(["--datasets", str(photo_folder), "--figure-image", "photo1"], capsys)
    assert code == 2 and "--figure-image goes with --figure" in err
    code, err = run_cli([str(photo_folder), "--report-table"], capsys)
    assert code == 2 and "not a training run directory" in err
    code, err = run_cli(["--datasets", str(photo_folder), "--csv", "/no/such/dir/t.csv"], capsys)
    assert code == 2 and "does not exist" in err
    code, err = run_cli(["--pd-plot", str(tmp_path / "p.png"), "--perceptual", "none"], capsys)
    assert code == 2 and "--pd-plot needs the perceptual scores" in err
    code, err = run_cli(["--niqe", "--perceptual", "none"], capsys)
    assert code == 2 and "--niqe needs the perceptual scores" in err
    code, err = run_cli(["--datasets", str(photo_folder), "--rank-by", "lpips"], capsys)
    assert code == 2 and "--rank-by goes with --report-table" in err


def test_an_ema_checkpoints_raw_generator_gets_its_own_row(runs, photo_folder, tmp_path, capsys):
    import shutil

    run = tmp_path / "ema_run"
    shutil.copytree(runs["pixelshuffle"], run)
    first, last = sorted((run / "checkpoints").glob("step_*"))
    # An --ema checkpoint keeps its raw weights beside the average; here the raw file of the
    # first checkpoint is the last checkpoint's generator, so its scores are known exactly.
    shutil.copyfile(last / "generator.keras", first / "generator_raw.keras")
    bench = photos(photo_folder, tmp_path / "bench", 2)
    argv = [str(run), "--report-table", "--report-checkpoints", "--datasets", str(bench)]
    assert evaluate.main([*argv, "--no-progress", "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "| Step | Weights | PSNR-Y (dB) |" in out
    rows = json.loads((tmp_path / "r.json").read_text())["report"]["rows"]
    by_key = {(row["step"], row.get("weights")): row for row in rows}
    step_first, step_last = (int(folder.name.split("_")[1]) for folder in (first, last))
    assert set(by_key) == {(step_first, "ema"), (step_first, "raw"), (step_last, None)}
    raw, average = by_key[(step_first, "raw")], by_key[(step_first, "ema")]
    assert raw["checkpoint"] == str(first / "generator_raw.keras")
    assert raw["psnr_y"] is None and average["psnr_y"] is not None  # validation scored the average
    for metric in ("bench_psnr_y", "bench_ssim_y", "bench_lpips"):
        assert raw[metric] == pytest.approx(by_key[(step_last, None)][metric], abs=1e-6)
    assert raw["bench_psnr_y"] != pytest.approx(average["bench_psnr_y"], abs=1e-3)
    raw_line = next(line for line in out.splitlines() if "| raw |" in line)
    assert raw_line.split("|")[6].strip() == "–"  # no validation PSNR-Y for the raw weights


def test_self_ensemble_adds_a_plus_row_after_each_model(runs, photo_folder, tmp_path, capsys):
    from data.matlab_functions import bicubic_downscale, modcrop
    from evaluation.metrics import psnr
    from inference.tiling import upscale
    from inference.weights import load_generator

    bench = photos(photo_folder, tmp_path / "bench", 2)
    model = f"ps={runs['pixelshuffle']}"
    argv = [model, "--datasets", str(bench), "--perceptual", "none", "--no-progress"]
    assert evaluate.main([*argv, "--self-ensemble", "--json", str(tmp_path / "e.json")]) == 0
    out = capsys.readouterr().out
    assert "NAME+: the model's x8 self-ensemble" in out
    names = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ")]
    assert names[1:] == ["Bicubic", "ps", "ps+"]  # after the header
    assert pair(table_row(out, "ps")[0]) != pair(table_row(out, "ps+")[0])
    # The + row scores the generator's answers averaged over the 8 orientations.
    hr = modcrop(np.asarray(Image.open(bench / "photo0.png").convert("RGB")), 4)
    generator = load_generator(runs["pixelshuffle"] / "generator.keras")
    sr = upscale(bicubic_downscale(hr), generator, self_ensemble=True)
    per_image = json.loads((tmp_path / "e.json").read_text())["per_image"]
    (row,) = [r for r in per_image if r["method"] == "ps+" and r["image"] == "photo0"]
    assert row["psnr_y"] == pytest.approx(psnr(hr, sr, crop_border=4, y_channel=True), abs=1e-4)
    code, err = run_cli(["--datasets", str(bench), "--self-ensemble"], capsys)
    assert code != 0 and err == "error: --self-ensemble needs a model: bicubic has no ensemble"


def test_real_degradation_scores_on_degraded_lr_fixed_by_the_seed(shared_datasets, capsys):
    argv = ["--datasets", "Set5", "Set14", "--data-dir", str(shared_datasets), "--no-progress"]
    argv += ["--perceptual", "none", "--degradation", "real"]
    cells = {}
    for seed in (0, 0, 1):
        assert evaluate.main([*argv, "--seed", str(seed)]) == 0
        out = capsys.readouterr().out
        assert f"real model, seed {seed}" in out
        cells.setdefault(seed, []).append(table_row(out, "Bicubic"))
    assert cells[0][0] == cells[0][1] != cells[1][0]  # the same LR for the same seed
    set5, set14 = (pair(cell)[0] for cell in cells[0][0])
    assert set5 < 28.43 - 1 and set14 < 25.99 - 1  # harder than the protocol's clean bicubic
