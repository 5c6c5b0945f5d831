"""What the grid penalty sees of a generator's pixel grid, against what the Grid measure sees.

``--grid-weight`` trains on the MSE between the sub-pixel phase means of G(LR) and of HR per
tile of 4 LR pixels (16 HR pixels at x4), each minus its tile's mean
(``models.layers.phase_deviations``). The Grid measure (``evaluation.grid``) reads the whole
image's spectrum, so it sees only the part of the grid that keeps its phase across the image.
This prints, per generator and dataset (means over the images, on the generator's [-1, 1]
scale, x 1e-6):

- the penalty as trained (SR's phase deviations against HR's, per tile);
- SR's and HR's own phase-deviation power per tile (what a tile's texture puts there);
- the coherent part: the same MSE with one tile for the whole image (its largest square crop),
  the grid that is the same everywhere, which is what the Grid measure's peaks are made of;
- the Grid measure itself;
- the grid's amplitude, the RMS of the luma's locally periodic part in grey levels
  (``evaluation.grid.grid_amplitude``): below one level an 8-bit image cannot show it;
- the Grid measure of the image less that part, rounded back to 8 bits (``without_grid``):
  what a notch at the grid frequencies would leave of the peaks; a grid under half a grey
  level survives it, since rounding puts such pixels back as they were.

HR's own amplitude and Grid come first: a photo's detail has some power at those frequencies.

If the trained penalty sits at the PSNR model's level while the coherent part and Grid stay
above it, the penalty is spent on texture the GAN invents where HR has other texture. For an
offset the same in every tile the per-tile term pulls exactly as a whole-image term would (a
phase mean over the image is the mean of the tiles'), so what would lower the remaining grid
is more weight on that part: ``--coherent-grid-weight`` (one tile for the whole crop) puts it
there without pressing on texture, where more ``--grid-weight`` would.

    python benchmarks/grid_penalty.py weights/srresnet_x4.keras weights/srgan_x4.keras \
        runs/<gan run>/checkpoints/step_N/generator_raw.keras \
        [--datasets Set14] [--data-dir ../shared/datasets]
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.machine import describe_cpu  # noqa: E402
from data.conventions import DEFAULT_SCALE, to_model_output  # noqa: E402

FIELDS = ("penalty", "sr_power", "hr_power", "coherent")
DIGITS = (
    1,
    1,
    1,
    2,
    2,
    2,
    2,
)  # the printed columns after the names: FIELDS, Grid, amplitude, notched
UNIT = 1e-6


def _deviations(image, period, tile):
    """``phase_deviations`` of ``image`` (H, W, C on [-1, 1]) cropped to whole tiles."""
    from models.layers import phase_deviations

    height, width = (side - side % tile for side in image.shape[:2])
    return phase_deviations(image[None, :height, :width], period, tile, xp=np)


def grid_terms(hr, sr, scale=DEFAULT_SCALE) -> dict[str, float]:
    """The penalty as trained, the two images' own phase power per tile, and the coherent
    part (one tile over the largest square crop whose side is a multiple of ``scale``), for
    uint8 ``hr`` and ``sr`` of the same shape (grey or RGB)."""
    from models.gan import grid_tile

    hr, sr = (to_model_output(image) for image in (hr, sr))
    hr, sr = (image if image.ndim == 3 else image[:, :, None] for image in (hr, sr))
    tile = grid_tile(scale)
    sr_tiles, hr_tiles = (_deviations(image, scale, tile) for image in (sr, hr))
    side = min(hr.shape[:2]) // scale * scale
    sr_whole, hr_whole = (_deviations(image[:side, :side], scale, side) for image in (sr, hr))
    return {
        "penalty": float(np.mean((sr_tiles - hr_tiles) ** 2)),
        "sr_power": float(np.mean(sr_tiles**2)),
        "hr_power": float(np.mean(hr_tiles**2)),
        "coherent": float(np.mean((sr_whole - hr_whole) ** 2)),
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("generators", nargs="+", help="generators (.keras, run or checkpoint)")
    parser.add_argument("--datasets", nargs="+", default=["Set14"])
    parser.add_argument("--data-dir", default=None)
    return parser.parse_args(argv)


def main(argv=None):
    from evaluation.benchmark import load_method, load_test_image, resolve_datasets, super_resolve
    from evaluation.grid import grid_amplitude, grid_score, without_grid
    from runtime.cli import import_keras_quietly

    args = parse_args(argv)
    datasets = resolve_datasets(args.datasets, args.data_dir)
    import_keras_quietly()
    methods = [load_method(path) for path in args.generators]

    def seen(image, period):
        return [
            grid_score(image, period=period, crop_border=period),
            grid_amplitude(image, period=period, crop_border=period),
            grid_score(without_grid(image, period=period), period=period, crop_border=period),
        ]

    rows = {}  # (generator, dataset) -> per-image [penalty, sr, hr, coherent, grid, amp, notched]
    for dataset in datasets:
        for image in dataset.images:
            pair = load_test_image(dataset.name, image, dataset.scale)
            rows.setdefault(("HR", dataset.name), []).append(
                [np.nan] * 4 + seen(pair.hr, pair.scale)
            )
            for method in methods:
                sr = super_resolve(method, pair.lr)
                terms = grid_terms(pair.hr, sr, method.scale)
                figures = [terms[field] / UNIT for field in FIELDS] + seen(sr, method.scale)
                rows.setdefault((method.name, dataset.name), []).append(figures)
    print(describe_cpu())
    print("Phase-deviation MSEs on the generator's [-1, 1] scale, x 1e-6; Grid as evaluate.py;")
    print("amplitude: RMS grey levels of the luma's grid part; notched: Grid without that part")
    columns = ["image", "dataset", "penalty", "SR power", "HR power", "coherent", "Grid"]
    columns += ["amplitude", "notched"]
    print(f"| {' | '.join(columns)} |")
    print("|---" * len(columns) + "|")
    for (name, dataset), figures in rows.items():
        cells = [  # a mean over the images that have the figure; HR has no penalty: "-"
            f"{np.nanmean(values):.{places}f}" if np.isfinite(values).any() else "-"
            for values, places in zip(np.array(figures, float).T, DIGITS, strict=True)
        ]
        print(f"| {name} | {dataset} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    from runtime.cli import exit_with, run

    exit_with(run(main))
