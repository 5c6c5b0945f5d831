"""Training run directories as the evaluation reads them."""

import csv
import json

import pytest

from evaluation.runs import choose_checkpoint, latest_runs, rank_rows, read_run, report_rows
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


def test_comma_joined_folders_are_named_by_all_their_folders(tmp_path):
    run = fake_run(
        tmp_path / "c", "pixelshuffle", "../train/T91,../train/BSD200", [[1, 1, 20, 0.5, 19]]
    )
    assert read_run(run).data == "T91+BSD200"  # as the default run name joins them


def test_a_folder_that_is_not_a_run_is_refused(tmp_path):
    with pytest.raises(UserError, match=r"no config\.json"):
        read_run(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(UserError, match=r"no validation\.csv"):
        read_run(tmp_path)


def test_a_gan_runs_validation_lpips_is_read(tmp_path):
    folder = tmp_path / "gan"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"upsample": "pixelshuffle", "stage": "gan"}))
    (folder / "validation.csv").write_text(
        "step,epoch,psnr_y,ssim_y,psnr_rgb,lpips\n10,1,24.0,0.7,22.0,0.2512\n"
    )
    (row,) = report_rows([read_run(folder)])
    assert row["lpips"] == 0.2512


def checkpoint(run, step, psnr, lpips):
    return {"run": run, "step": step, "Set5_psnr_y": psnr, "Set5_lpips": lpips}


def test_the_chosen_checkpoint_has_the_lowest_lpips_that_keeps_bicubics_psnr():
    bicubic = 28.43
    rows = [
        checkpoint("gan", 1000, 30.10, 0.210),
        checkpoint("gan", 2000, 29.20, 0.160),  # the rule's pick
        checkpoint("gan", 3000, 28.10, 0.120),  # lower LPIPS, but below bicubic's PSNR
        checkpoint("gan", 4000, 28.43, 0.160),  # ties on LPIPS: the higher PSNR wins
        {"run": "gan", "step": 5000, "psnr_y": 27.0},  # not on disk any more: never chosen
        checkpoint("other", 500, 31.00, float("nan")),  # PSNR only (--perceptual none)
    ]
    assert choose_checkpoint(rows, bicubic)["step"] == 2000
    rows.append(checkpoint("late", 6000, 28.43, 0.150))  # exactly at bicubic's PSNR: allowed
    assert choose_checkpoint(rows, bicubic)["run"] == "late"
    assert choose_checkpoint(rows, 40.0) is None
    assert choose_checkpoint(rows, bicubic, dataset="Set14") is None


def test_rows_rank_by_lpips_or_psnr_and_unscored_ones_come_last():
    rows = [
        {"step": 1, "psnr_y": 24.0, "lpips": 0.3, "Set5_psnr_y": 29.0, "Set5_lpips": 0.2},
        {"step": 2, "psnr_y": 25.0, "lpips": float("nan")},
        {"step": 3, "psnr_y": 23.0, "lpips": 0.1, "Set5_psnr_y": 28.0, "Set5_lpips": 0.1},
    ]
    steps = lambda ranked: [row["step"] for row in ranked]  # noqa: E731
    assert steps(rank_rows(rows, "lpips")) == [3, 1, 2]
    assert steps(rank_rows(rows, "psnr")) == [2, 1, 3]
    assert steps(rank_rows(rows, "lpips", "Set5")) == [3, 1, 2]
    assert steps(rank_rows(rows, "psnr", "Set5")) == [1, 3, 2]
    with pytest.raises(ValueError, match="rank by"):
        rank_rows(rows, "ssim")
