import matplotlib
import numpy as np

from runtime.rundir import read_csv
from training.logs import CsvLog, plot_losses, sample_grid


def test_csv_log_drops_rows_from_the_lost_work_on_resume(tmp_path):
    path = tmp_path / "history.csv"
    log = CsvLog(path)
    for step in range(5):
        log.write({"step": step, "loss": step / 10})
    log.close()
    resumed = CsvLog(path, resume_step=3)
    resumed.write({"step": 3, "loss": 0.9})
    resumed.close()
    assert [(r["step"], r["loss"]) for r in read_csv(path)] == [
        (0, 0),
        (1, 0.1),
        (2, 0.2),
        (3, 0.9),
    ]


def test_a_resumed_log_widens_its_header_for_a_new_column(tmp_path):
    path = tmp_path / "validation.csv"
    log = CsvLog(path)
    for step in (10, 20):
        log.write({"step": step, "psnr_y": 24.0})
    log.close()
    resumed = CsvLog(path, resume_step=30)  # e.g. a GAN run resumed by a version with LPIPS
    resumed.write({"step": 30, "psnr_y": 25.0, "lpips": 0.25})
    resumed.write({"step": 40, "psnr_y": 25.5, "lpips": 0.2})
    resumed.close()
    assert path.read_text().splitlines()[0] == "step,psnr_y,lpips"
    assert read_csv(path) == [
        {"step": 10, "psnr_y": 24.0},
        {"step": 20, "psnr_y": 24.0},
        {"step": 30, "psnr_y": 25.0, "lpips": 0.25},
        {"step": 40, "psnr_y": 25.5, "lpips": 0.2},
    ]


def test_loss_plot_is_written_without_touching_pyplots_backend(tmp_path):
    backend = matplotlib.get_backend()
    path = tmp_path / "history.csv"
    log = CsvLog(path)
    for step in range(60):
        log.write({"step": step, "epoch": 0, "g_mse": 1 / (step + 1), "d_real": 0.5})
    log.close()
    png = plot_losses(path, tmp_path / "loss.png")
    assert png.stat().st_size > 1000
    assert matplotlib.get_backend() == backend


def test_sample_grid_puts_lr_sr_hr_side_by_side():
    lr = np.zeros((4, 4, 3), np.uint8)
    sr = np.full((16, 16, 3), 100, np.uint8)
    hr = np.full((16, 16, 3), 200, np.uint8)
    grid = sample_grid([(lr, sr, hr), (lr, sr, hr)], gap=2)
    assert grid.shape == (16 * 2 + 2, 16 * 3 + 2 * 2, 3)
    assert grid[0, 18, 0] == 100 and grid[0, 36, 0] == 200


def test_tensorboard_scalars_are_written_or_cleanly_skipped(tmp_path, monkeypatch):
    import sys

    from training.logs import TensorBoard

    board = TensorBoard(tmp_path / "tb")
    board.scalars(0, {"loss": 1.0})
    board.close()
    if board._tf is not None:
        assert any((tmp_path / "tb").iterdir())
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as on a machine without it
    skipped = TensorBoard(tmp_path / "tb2")
    skipped.scalars(0, {"loss": 1.0})
    skipped.close()
    assert skipped._tf is None
