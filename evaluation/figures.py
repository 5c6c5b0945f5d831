"""Figures of an evaluation: the side-by-side comparison, the perception-distortion plane, PSNR
curves, checkerboard artefacts.

matplotlib is imported only when a figure is drawn, and only its ``Figure`` class: no pyplot,
so a notebook keeps its inline backend.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from data import conventions
from data.matlab_functions import modcrop
from evaluation.benchmark import Evaluation, FigureData
from evaluation.tables import write_file
from runtime.errors import UserError


def choose_crop(
    hr: np.ndarray, size: int | None = None, *, scale=conventions.DEFAULT_SCALE
) -> tuple[int, int, int]:
    """(x, y, size) of the square with the most detail: where methods differ most visibly.

    Detail is the luma gradient energy; the border the metrics shave at ``scale`` is avoided.
    """
    height, width = hr.shape[:2]
    size = int(size or max(16, min(height, width) // 4))
    size = min(size, height, width)
    luma = conventions.rgb_to_y(hr)
    energy = np.zeros_like(luma)
    energy[:, 1:] += np.diff(luma, axis=1) ** 2
    energy[1:, :] += np.diff(luma, axis=0) ** 2
    integral = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    stride = max(1, size // 8)
    border = conventions.shave_border(scale)
    margin = border if min(height, width) - size > 2 * border else 0
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


def crop_caption(scores: dict) -> str:
    """What the comparison figure prints under a crop: PSNR-Y and LPIPS (SSIM-Y without it)."""
    if "lpips" in scores:
        return f"PSNR-Y {scores['psnr_y']:.2f} dB\nLPIPS {scores['lpips']:.4f}"
    return f"PSNR-Y {scores['psnr_y']:.2f} dB\nSSIM-Y {scores['ssim_y']:.4f}"


def comparison_figure(figure_data: FigureData, path=None, *, crop=None, title=None):
    """Each method and the HR side by side, a zoomed crop under each (paper, figure 2).

    The crop's rectangle is drawn on the full images; each crop's caption gives the method's
    PSNR-Y and LPIPS on the whole image (SSIM-Y where LPIPS was not scored). Returns the
    figure (which Jupyter displays); ``path`` also writes it.
    """
    from matplotlib.patches import Rectangle

    hr = figure_data.hr
    x, y, size = crop or choose_crop(hr, scale=figure_data.scale)
    height, width = hr.shape[:2]
    if min(x, y) < 0 or size < 1 or x + size > width or y + size > height:
        raise UserError(f"crop {x},{y},{size} does not fit in the {width}x{height} image")
    panels = [(sr, name, crop_caption(s)) for name, sr, s in figure_data.panels]
    panels.append((hr, "HR (original)", "reference"))
    aspect = height / width
    figure = _new_figure(figsize=(3.2 * len(panels), 3.2 * aspect + 3.6))
    axes = figure.subplots(
        2, len(panels), gridspec_kw={"height_ratios": [aspect, 1]}, squeeze=False
    )
    grey = {"cmap": "gray", "vmin": 0, "vmax": 255} if hr.ndim == 2 else {}
    for column, (image, label, caption) in enumerate(panels):
        top, bottom = axes[0, column], axes[1, column]
        top.imshow(image, **grey)
        top.add_patch(Rectangle((x - 0.5, y - 0.5), size, size, fill=False, color="red", lw=1.5))
        top.set_title(label, fontsize=9)
        bottom.imshow(image[y : y + size, x : x + size], interpolation="nearest", **grey)
        bottom.set_xlabel(caption, fontsize=9)
        for axis in (top, bottom):
            axis.set_xticks([])
            axis.set_yticks([])
        for spine in bottom.spines.values():
            spine.set_edgecolor("red")
    where = f"{figure_data.dataset} / " if figure_data.dataset else ""
    figure.suptitle(title or f"{where}{figure_data.name} (x{figure_data.scale})")
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


def perception_distortion_points(evaluation: Evaluation) -> dict[str, list[tuple]]:
    """``{dataset: [(method, mean PSNR-Y, mean LPIPS), ...]}`` for every method scored there.

    Ledig et al. publish PSNR but no LPIPS, so their rows give no point (``tables``).
    """
    if "lpips" not in evaluation.perceptual:
        raise UserError("the perception-distortion plot needs LPIPS: drop --perceptual none")
    points = {}
    for dataset in evaluation.datasets:
        found = []
        for method in evaluation.methods:
            psnr_y = evaluation.mean(method, dataset.name, "psnr_y")
            lpips = evaluation.mean(method, dataset.name, "lpips")
            if np.isfinite(psnr_y) and np.isfinite(lpips):
                found.append((method, psnr_y, lpips))
        points[dataset.name] = found
    return points


# Where a point's label may go, in points from the point: right above, right below, left
# above, left below (with the horizontal alignment that keeps the text off the point).
LABEL_PLACES = (((4, 3), "left"), ((4, -9), "left"), ((-4, 3), "right"), ((-4, -9), "right"))


def label_placements(xs, ys) -> list[tuple[tuple[int, int], str]]:
    """One of ``LABEL_PLACES`` per point, chosen so close points' labels do not overlap.

    Checkpoints of one run sit close together on the plane, and labels all put on the same
    side of their points print over each other. Greedy, in the order given: each label goes
    where its anchor is farthest from the anchors already placed (distances in units of the
    data's range, a label's offset counted as 4% of it), which separates neighbours.
    """
    if not xs:
        return []
    span_x = (max(xs) - min(xs)) or 1.0
    span_y = (max(ys) - min(ys)) or 1.0
    placed, choices = [], []
    for x, y in zip(xs, ys, strict=True):
        anchors = [(x / span_x + 0.01 * dx, y / span_y + 0.01 * dy) for (dx, dy), _ in LABEL_PLACES]
        room = [
            min((np.hypot(ax - px, ay - py) for px, py in placed), default=np.inf)
            for ax, ay in anchors
        ]
        best = int(np.argmax(room))  # the first of equals: the usual place when nothing is near
        placed.append(anchors[best])
        choices.append(LABEL_PLACES[best])
    return choices


def perception_distortion_figure(evaluation: Evaluation, path=None):
    """PSNR-Y (distortion, x) against LPIPS (perception, y), one panel per dataset, a labelled
    point per method or checkpoint: Blau & Michaeli's plane (CVPR 2018) with LPIPS as the
    perceptual axis, as perceptual SR papers draw it. The best corner is the lower right.

    Returns the figure; each panel's first collection holds its points (``get_offsets``).
    ``path`` also writes it.
    """
    points = perception_distortion_points(evaluation)
    figure = _new_figure(figsize=(5.2 * max(1, len(points)), 4.4))
    axes = figure.subplots(1, max(1, len(points)), squeeze=False)[0]
    for axis, (dataset, found) in zip(axes, points.items(), strict=False):
        xs = [psnr_y for _, psnr_y, _ in found]
        ys = [lpips for _, _, lpips in found]
        axis.scatter(xs, ys, s=24, zorder=3)
        for (method, psnr_y, lpips), (offset, align) in zip(
            found, label_placements(xs, ys), strict=True
        ):
            axis.annotate(
                method,
                (psnr_y, lpips),
                xytext=offset,
                textcoords="offset points",
                fontsize=7,
                ha=align,
            )
        axis.set_title(f"{dataset} (x{evaluation.scale})")
        axis.set_xlabel("PSNR-Y (dB), higher is better")
        axis.set_ylabel("LPIPS (AlexNet), lower is better")
        axis.grid(alpha=0.3)
    figure.suptitle("Perception-distortion plane (Blau & Michaeli 2018)")
    figure.text(
        0.01,
        0.005,
        "Ledig et al. 2017 publish PSNR but no LPIPS: their SRResNet and SRGAN have no point.",
        fontsize=7,
    )
    figure.tight_layout(rect=(0, 0.03, 1, 1))
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
    validated = [row for row in rows if row.get("weights") != "raw"]  # raw rows: no validation
    for row in sorted(validated, key=lambda r: r["step"]):
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
    """The generator's output for a flat grey LR image, in grey levels, border dropped (4 LR
    pixels, at the generator's own scale).

    A perfect network answers a flat input with a flat output; any pattern left is the
    network's own, and a period of 2 or 4 pixels (up to the scale) is the checkerboard that
    deconvolution-like upsamplers are known for (Odena et al. 2016).
    """
    from models.description import describe

    lr = np.full((1, size, size, 3), level, np.float32)
    sr = np.asarray(generator.predict_on_batch(lr))[0]
    grey = conventions.luma(conventions.to_levels(sr).astype(np.float64))
    border = 4 * describe(generator).scale
    return grey[border:-border, border:-border]


def spectrum(image: np.ndarray) -> np.ndarray:
    """log10 power spectrum of the luma (DC at the centre) for ``imshow``."""
    luma = conventions.rgb_to_y(image) if image.ndim == 3 else np.asarray(image, np.float64)
    luma = luma - luma.mean()
    window = np.outer(np.hanning(luma.shape[0]), np.hanning(luma.shape[1]))
    power = np.abs(np.fft.fftshift(np.fft.fft2(luma * window))) ** 2
    return np.log10(power + 1e-6)


def checkerboard_energy(image: np.ndarray, period: int = conventions.DEFAULT_SCALE) -> float:
    """Share of the (non-DC) power at the frequencies a grid of ``period`` pixels produces
    (the generator's scale, its pixel shuffle's period; a x2 grid's frequencies are among x4's).

    Those are the multiples of 1/period cycle per pixel on each axis; the image is cropped to
    a multiple of ``period`` so they fall exactly on FFT bins. Natural images put well under 1%
    there.
    """
    luma = conventions.rgb_to_y(image) if image.ndim == 3 else np.asarray(image, np.float64)
    luma = modcrop(luma, period)
    luma = luma - luma.mean()
    power = np.abs(np.fft.fft2(luma)) ** 2
    height, width = luma.shape
    rows = np.arange(0, height, height // period)
    cols = np.arange(0, width, width // period)
    grid = power[np.ix_(rows, cols)].sum() - power[0, 0]
    total = power.sum() - power[0, 0]
    return float(grid / total) if total > 0 else 0.0
