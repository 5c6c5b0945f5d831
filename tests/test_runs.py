"""Training run directories as the evaluation reads them."""

import csv
import json

import pytest

from evaluation.runs import latest_runs, read_run, report_rows
from evaluation.tables import report_table
from runtime.errors import UserError


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
    rows = report_rows([read_run(run) for run in runs])
    assert [(r["method"], r["data"], r["epoch"]) for r in rows] == [
        ("Pixel Shuffle", "DIV2K", 5),
        ("UpSampling2D", "photos", 5),
        ("UpSampling2D", "photos", 10),
    ]
    table = report_table(rows)
    assert "| Pixel Shuffle | DIV2K | 5 | 50 | 24.50 | 0.7000 | a |" in table
    assert "| UpSampling2D | photos | 10 | 100 | 23.50 | 0.6600 | b |" in table
    assert latest_runs(tmp_path) == [runs[0], runs[1]]


def test_a_folder_that_is_not_a_run_is_refused(tmp_path):
    with pytest.raises(UserError, match=r"no config\.json"):
        read_run(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(UserError, match=r"no validation\.csv"):
        read_run(tmp_path)
