"""The tables evaluate.py prints, and its CSV and JSON files."""

import csv
import json

import pytest

from evaluation.benchmark import Dataset, Evaluation
from evaluation.tables import benchmark_table, json_document, report_table, write_csv, write_json
from runtime.errors import UserError


def test_the_benchmark_table_starts_with_bicubic_and_can_show_the_paper(benchmark):
    table = benchmark_table(benchmark, paper=True)
    lines = table.splitlines()
    assert lines[0] == "| Method | Set5 PSNR / SSIM | Set14 PSNR / SSIM |"
    assert lines[2].startswith("| Bicubic | 28.43 / 0.81")
    assert "| SRResNet (Ledig et al.) | 32.05 / 0.9019 | 28.49 / 0.8184 |" in lines
    assert "| SRGAN (Ledig et al.) | 29.40 / 0.8472 | 26.02 / 0.7397 |" in lines
    wide = benchmark_table(benchmark, paper=True, columns=["Set5", "BSD100"])
    assert "| Bicubic (Ledig et al.) | 28.43 / 0.8211 | 25.94 / 0.6935 |" in wide
    assert "| Bicubic | 28.43 / 0.8111 | – |" in wide


def test_csv_and_json_are_written_whole_and_nan_becomes_empty(tmp_path):
    rows = [{"method": "a", "psnr_y": 30.123456789}, {"method": "b", "psnr_y": float("nan")}]
    write_csv(tmp_path / "t.csv", rows)
    with open(tmp_path / "t.csv", newline="") as handle:
        assert list(csv.DictReader(handle)) == [
            {"method": "a", "psnr_y": "30.123457"},
            {"method": "b", "psnr_y": ""},
        ]
    write_json(tmp_path / "t.json", {"rows": rows, "path": tmp_path})
    assert json.loads((tmp_path / "t.json").read_text())["rows"][1]["psnr_y"] is None
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    with pytest.raises(UserError, match="does not exist"):
        write_csv(tmp_path / "no" / "t.csv", rows)


def made_up(perceptual=("lpips",)):
    """An evaluation of two methods on two one-image datasets, its scores given, not computed."""
    rows = [
        {"dataset": "Set5", "method": "Bicubic", "psnr_y": 28.4, "ssim_y": 0.81, "lpips": 0.34},
        {"dataset": "Set5", "method": "gan", "psnr_y": 27.1, "ssim_y": 0.77, "lpips": 0.12},
        {"dataset": "Set14", "method": "Bicubic", "psnr_y": 26.0, "ssim_y": 0.70, "lpips": 0.44},
        {"dataset": "Set14", "method": "gan", "psnr_y": 25.0, "ssim_y": 0.66, "lpips": 0.21},
    ]
    for row in rows:
        row["niqe"] = row["lpips"] * 20
    datasets = [Dataset("Set5", []), Dataset("Set14", [])]
    return Evaluation(["Bicubic", "gan"], datasets, rows, perceptual=perceptual)


def test_lpips_and_niqe_sit_beside_each_datasets_psnr_and_the_paper_has_none():
    lines = benchmark_table(made_up(("lpips", "niqe")), paper=True).splitlines()
    assert lines[0] == (
        "| Method | Set5 PSNR / SSIM | Set5 LPIPS | Set5 NIQE "
        "| Set14 PSNR / SSIM | Set14 LPIPS | Set14 NIQE |"
    )
    assert "| gan | 27.10 / 0.7700 | 0.1200 | 2.40 | 25.00 / 0.6600 | 0.2100 | 4.20 |" in lines
    assert "| SRGAN (Ledig et al.) | 29.40 / 0.8472 | – | – | 26.02 / 0.7397 | – | – |" in lines
    plain = benchmark_table(made_up(()), paper=True).splitlines()
    assert plain[0] == "| Method | Set5 PSNR / SSIM | Set14 PSNR / SSIM |"
    assert "| gan | 27.10 / 0.7700 | 25.00 / 0.6600 |" in plain
    summary = made_up().summary()
    assert summary[2]["method"] == "gan" and summary[2]["lpips"] == 0.12
    assert "niqe" not in summary[2]
    document = json_document(made_up(), [], chosen={"run": "a", "step": 3})
    assert document["report"]["chosen"]["step"] == 3 and "LPIPS" in document["protocol"]


def report(run, step, psnr, lpips, bench_psnr=None, bench_lpips=None):
    row = {"method": "Pixel Shuffle", "data": "DIV2K", "epoch": step, "step": step}
    row.update({"psnr_y": psnr, "ssim_y": 0.7, "lpips": lpips, "run": run})
    if bench_psnr is not None:
        row.update({"Set5_psnr_y": bench_psnr, "Set5_ssim_y": 0.8, "Set5_lpips": bench_lpips})
    return row


def test_the_report_table_shows_lpips_and_ranks_by_it():
    rows = [
        report("a", 1, 24.0, 0.30, 28.0, 0.25),
        report("a", 2, 23.0, 0.20, 27.0, 0.15),
        report("b", 1, 25.0, float("nan")),  # a pretraining run: no LPIPS, no checkpoint left
    ]
    table = report_table(rows, ["Set5"]).splitlines()
    assert table[0] == (
        "| Method | Data | Epoch | Step | PSNR-Y (dB) | SSIM-Y | LPIPS | Set5 PSNR / SSIM "
        "| Set5 LPIPS | Run |"
    )
    assert "| Pixel Shuffle | DIV2K | 1 | 1 | 25.00 | 0.7000 | – | – | – | b |" in table
    ranked = report_table(rows, ["Set5"], rank_by="lpips").splitlines()[2:]
    assert [line.split("|")[4].strip() for line in ranked] == ["2", "1", "1"]
    assert ranked[0].endswith("| 0.1500 | a |") and ranked[2].endswith("| b |")
    by_psnr = report_table(rows, [], rank_by="psnr").splitlines()
    assert "Set5" not in by_psnr[0]
    assert [line.split("|")[-2].strip() for line in by_psnr[2:]] == ["b", "a", "a"]
