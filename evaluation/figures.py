"""Figures of an evaluation: the side-by-side comparison, PSNR curves, checkerboard artefacts.

matplotlib is imported only when a figure is drawn, and only its ``Figure`` class: no pyplot,
so a notebook keeps its inline backend.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from data.images import modcrop
from evaluation.benchmark import SCALE, FigureData
from evaluation.tables import write_file
from runtime.errors import UserError


def choose_crop(hr: np.ndarray, size: int | None = None) -> tuple[int, int, int]:
    """(x, y, size) of the square with the most detail: where methods differ most visibly.

    Detail is the luma gradient energy; the border the metrics shave is avoided.
    """
    from data.images import rgb_to_y

    height, width = hr.shape[:2]
    size = int(size or max(16, min(height, width) // 4))
    size = min(size, height, width)
    luma = rgb_to_y(hr)
    energy = np.zeros_like(luma)
    energy[:, 1:] += np.diff(luma, axis=1) ** 2
    energy[1:, :] += np.diff(luma, axis=0) ** 2
    integral = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    stride = max(1, size // 8)
    margin = SCALE if min(height, width) - size > 2 * SCALE else 0
    best, where = -1.0, (0, 0)
    for y in range(margin, height - size - margin + 1, stride):
        for x in range(margin, width - size - margin + 1, stride):
            total = (
                integral[y + size, x + size]
                - integral[y, x + size]
                - integral[y + size, x]
                + integral[y, x]
            )
            if total > best:
                best, where = total, (x, y)
    return where[0], where[1], size


def save_figure(figure, path) -> Path:
    """Write a matplotlib figure atomically; the format follows the suffix (png, pdf, svg)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise UserError(f"{path}: folder {path.parent} does not exist")
    buffer = io.BytesIO()
    suffix = path.suffix.lower().lstrip(".") or "png"
    try:
        figure.savefig(buffer, format=suffix, dpi=120, bbox_inches="tight")
    except ValueError as error:
        raise UserError(f"{path}: cannot save a figure as .{suffix} ({error})") from None
    return write_file(path, buffer.getvalue())


def _new_figure(**options):
    # A bare Figure, not pyplot: no global backend switch (a notebook keeps its inline plots)
    # and nothing kept alive by pyplot's figure manager after the file is written.
    from matplotlib.figure import Figure

    return Figure(**options)


def comparison_figure(figure_data: FigureData, path=None, *, crop=None, title=None):
    """Each method and the HR side by side, a zoomed crop under each (paper, figure 2).

    The crop's rectangle is drawn on the full images; titles carry PSNR-Y / SSIM-Y. Returns
    the figure (which Jupyter displays); ``path`` also writes it.
    """
    from matplotlib.patches import Rectangle

    hr = figure_data.hr
    x, y, size = crop or choose_crop(hr)
    height, width = hr.shape[:2]
    if min(x, y) < 0 or size < 1 or x + size > width or y + size > height:
        raise UserError(f"crop {x},{y},{size} does not fit in the {width}x{height} image")
    panels = [
        (sr, f"{name}\n{s['psnr_y']:.2f} dB / {s['ssim_y']:.4f}")
        for name, sr, s in figure_data.panels
    ]
    panels.append((hr, "HR (original)\ntitles: PSNR-Y / SSIM-Y"))
    aspect = height / width
    figure = _new_figure(figsize=(3.2 * len(panels), 3.2 * aspect + 3.6))
    axes = figure.subplots(
        2, len(panels), gridspec_kw={"height_ratios": [aspect, 1]}, squeeze=False
    )
    grey = {"cmap": "gray", "vmin": 0, "vmax": 255} if hr.ndim == 2 else {}
    for column, (image, label) in enumerate(panels):
        top, bottom = axes[0, column], axes[1, column]
        top.imshow(image, **grey)
        top.add_patch(Rectangle((x - 0.5, y - 0.5), size, size, fill=False, color="red", lw=1.5))
        top.set_title(label, fontsize=9)
        bottom.imshow(image[y : y + size, x : x + size], interpolation="nearest", **grey)
        for axis in (top, bottom):
            axis.set_xticks([])
            axis.set_yticks([])
        for spine in bottom.spines.values():
            spine.set_edgecolor("red")
    where = f"{figure_data.dataset} / " if figure_data.dataset else ""
    figure.suptitle(title or f"{where}{figure_data.name} (x{SCALE})")
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


def plot_psnr_vs_epoch(rows: list[dict], path=None, *, axis=None):
    """Validation PSNR-Y against the epoch, one line per run (labelled by method and data).

    Draws on ``axis`` if given, else on a new figure, which is returned (and written to
    ``path`` if given).
    """
    figure = None
    if axis is None:
        figure = _new_figure(figsize=(6.5, 3.5))
        axis = figure.subplots()
    by_run = {}
    for row in sorted(rows, key=lambda r: r["step"]):
        by_run.setdefault(row["run"], []).append(row)
    for run, points in by_run.items():
        label = f"{points[0]['method']} ({points[0]['data']}, {run})"
        axis.plot([p["epoch"] for p in points], [p["psnr_y"] for p in points], "o-", label=label)
    axis.set_xlabel("epoch")
    axis.set_ylabel("validation PSNR-Y (dB)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)
    if figure is None:
        return axis
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


# -- checkerboard artefacts -----------------------------------------------------------------
def flat_response(generator, *, level: float = 0.5, size: int = 32) -> np.ndarray:
    """The generator's output for a flat grey LR image, in grey levels, border dropped.

    A perfect x4 network answers a flat input with a flat output; any pattern left is the
    network's own, and a period of 2 or 4 pixels is the checkerboard that deconvolution-like
    upsamplers are known for (Odena et al. 2016).
    """
    lr = np.full((1, size, size, 3), level, np.float32)
    sr = np.asarray(generator.predict_on_batch(lr))[0]
    grey = ((sr + 1.0) * 127.5) @ np.array([0.299, 0.587, 0.114])
    border = 4 * SCALE
    return grey[border:-border, border:-border]


def spectrum(image: np.ndarray) -> np.ndarray:
    """log10 power spectrum of the luma (DC at the centre) for ``imshow``."""
    from data.images import rgb_to_y

    luma = rgb_to_y(image) if image.ndim == 3 else np.asarray(image, np.float64)
    luma = luma - luma.mean()
    window = np.outer(np.hanning(luma.shape[0]), np.hanning(luma.shape[1]))
    power = np.abs(np.fft.fftshift(np.fft.fft2(luma * window))) ** 2
    return np.log10(power + 1e-6)


def checkerboard_energy(image: np.ndarray) -> float:
    """Share of the (non-DC) power at the frequencies a x2/x4 grid produces.

    Those are the multiples of 1/4 cycle per pixel on each axis; the image is cropped to a
    multiple of 4 so they fall exactly on FFT bins. Natural images put well under 1% there.
    """
    from data.images import rgb_to_y

    luma = rgb_to_y(image) if image.ndim == 3 else np.asarray(image, np.float64)
    luma = modcrop(luma, 4)
    luma = luma - luma.mean()
    power = np.abs(np.fft.fft2(luma)) ** 2
    height, width = luma.shape
    rows = np.arange(0, height, height // 4)
    cols = np.arange(0, width, width // 4)
    grid = power[np.ix_(rows, cols)].sum() - power[0, 0]
    total = power.sum() - power[0, 0]
    return float(grid / total) if total > 0 else 0.0
