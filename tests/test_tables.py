"""The tables evaluate.py prints, and its CSV and JSON files."""

import csv
import json

import pytest

from evaluation.tables import benchmark_table, write_csv, write_json
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
