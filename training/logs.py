"""What a run writes for people to read: CSV histories, a loss plot, sample grids, TensorBoard
scalars and the progress bar.

Everything here is cheap per step (a CSV line, a counter); plots, grids and TensorBoard flushes
happen at checkpoints only, so logging costs no measurable training time.
"""

import csv
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from data.images import write_image
from runtime import atomic
from runtime.rundir import read_csv


class CsvLog:
    """An append-only CSV whose columns are fixed by the first row written.

    On resume, rows at or after the resumed step are dropped first: they belong to work that
    was lost with the interruption and is about to be done again. A resumed log whose first new
    row brings a column the file lacks (a GAN run's validation LPIPS, resumed by a newer
    version) is rewritten once with the wider header; the older rows leave that cell empty.
    """

    def __init__(self, path, *, resume_step=None):
        self.path = Path(path)
        self._writer = None
        self._handle = None
        self._columns = None
        if resume_step is not None and self.path.exists():
            with open(self.path, newline="") as handle:
                rows = list(csv.DictReader(handle))
            kept = [row for row in rows if int(row["step"]) < resume_step]
            if rows:
                self._columns = list(rows[0].keys())
                self._rewrite(kept)
        elif self.path.exists() and resume_step is None:
            self.path.unlink()

    def _rewrite(self, rows):
        with atomic.replacing(self.path) as temporary, open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self._columns)
            writer.writeheader()
            writer.writerows(rows)

    def write(self, row):
        if self._writer is None:
            exists = self.path.exists() and self.path.stat().st_size > 0
            new = [key for key in row if self._columns and key not in self._columns]
            if new and exists:
                with open(self.path, newline="") as handle:
                    kept = list(csv.DictReader(handle))
                self._columns += new
                self._rewrite(kept)
            self._columns = self._columns or list(row.keys())
            self._handle = open(self.path, "a", newline="")  # noqa: SIM115 (kept open for speed)
            self._writer = csv.DictWriter(self._handle, fieldnames=self._columns)
            if not exists:
                self._writer.writeheader()
        self._writer.writerow({key: row.get(key, "") for key in self._columns})

    def flush(self):
        if self._handle:
            self._handle.flush()

    def close(self):
        if self._handle:
            self._handle.close()
            self._handle = self._writer = None


def plot_losses(history_csv, png_path, *, smooth=50):
    """Each loss against the step, raw and as a moving average, one panel per loss."""
    # A bare Figure (no pyplot): switching pyplot's backend here would silently stop inline
    # plots in a notebook that trains.
    from matplotlib.figure import Figure

    rows = read_csv(history_csv)
    if not rows:
        return None
    names = [key for key in rows[0] if key not in ("step", "epoch", "seconds")]
    steps = np.array([row["step"] for row in rows])
    figure = Figure()
    axes = figure.subplots(len(names), 1, sharex=True, squeeze=False)
    for axis, name in zip(axes[:, 0], names, strict=True):
        values = np.array([row.get(name, np.nan) for row in rows])
        axis.plot(steps, values, alpha=0.3, linewidth=0.8)
        if len(values) >= smooth:
            kernel = np.ones(smooth) / smooth
            axis.plot(steps[smooth - 1 :], np.convolve(values, kernel, "valid"), linewidth=1.5)
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    figure.tight_layout()
    figure.set_size_inches(8, 2.2 * len(names))
    with atomic.replacing(png_path) as temporary:
        figure.savefig(temporary, dpi=100, format="png")
    return png_path


def sample_grid(rows, *, gap=4):
    """One row per image: LR (nearest-neighbour x4, so pixels stay visible) | SR | HR."""
    lines = []
    width = None
    for lr, sr, hr in rows:
        scale = hr.shape[0] // lr.shape[0]
        lr_big = np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1)
        spacer = np.full((hr.shape[0], gap, 3), 255, np.uint8)
        line = np.concatenate([lr_big, spacer, sr, spacer, hr], axis=1)
        width = max(width or 0, line.shape[1])
        lines.append(line)
    padded = []
    for line in lines:
        pad = np.full((line.shape[0], width - line.shape[1], 3), 255, np.uint8)
        padded.append(np.concatenate([line, pad], axis=1))
        padded.append(np.full((gap, width, 3), 255, np.uint8))
    return np.concatenate(padded[:-1], axis=0)


def save_sample_grid(path, rows):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, sample_grid(rows))
    return path


class TensorBoard:
    """Scalars for TensorBoard when TensorFlow and TensorBoard are installed; otherwise nothing.

    tf.summary needs the separate ``tensorboard`` package (``tensorflow-cpu`` does not pull it
    in), and the JAX and PyTorch backends have no TensorFlow at all: training must not depend
    on either, so a missing one is said once and the CSV and PNG logs carry on.
    """

    def __init__(self, logdir):
        try:
            import tensorboard  # noqa: F401
            import tensorflow as tf
        except ImportError as error:
            self._tf = None
            print(f"TensorBoard logs skipped: {error.name} is not installed")
            return
        self._tf = tf
        self._writer = tf.summary.create_file_writer(str(logdir))

    def scalars(self, step, values):
        if self._tf is None:
            return
        with self._writer.as_default(step=step):
            for name, value in values.items():
                self._tf.summary.scalar(name, value)

    def flush(self):
        if self._tf is not None:
            self._writer.flush()

    def close(self):
        if self._tf is not None:
            self._writer.close()


class Progress:
    """tqdm bar over steps with the latest losses, images/s and ETA."""

    def __init__(self, *, total, initial, batch_size, description, enabled=True):
        self.batch_size = batch_size
        self._bar = tqdm(
            total=total,
            initial=initial,
            desc=description,
            unit="step",
            disable=not enabled,
            dynamic_ncols=True,
            smoothing=0.05,
        )

    def update(self, losses, *, warning=None):
        """One step; ``warning`` (e.g. a collapsed discriminator) shows in the line while set."""
        bar = self._bar
        rate = bar.format_dict.get("rate")
        shown = {key: f"{value:.4g}" for key, value in losses.items()}
        if rate:
            shown["img/s"] = f"{rate * self.batch_size:.1f}"
        if warning:
            shown["warning"] = warning
        bar.set_postfix(shown, refresh=False)
        bar.update(1)

    def write(self, message):
        self._bar.write(message)

    def close(self):
        self._bar.close()
