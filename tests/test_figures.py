"""The figures and their helpers: where the zoom goes, what the crops say, the
perception-distortion plot, and what counts as a checkerboard."""

import numpy as np
import pytest
from PIL import Image

from data.images import read_rgb
from evaluation.benchmark import Dataset, Evaluation, FigureData
from evaluation.figures import (
    LABEL_PLACES,
    checkerboard_energy,
    choose_crop,
    comparison_figure,
    label_placements,
    perception_distortion_figure,
    perception_distortion_points,
    spectrum,
)
from runtime.errors import UserError


def test_the_zoom_goes_where_the_detail_is():
    image = np.full((96, 128, 3), 128, np.uint8)
    rng = np.random.default_rng(0)
    image[48:80, 80:112] = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    x, y, size = choose_crop(image, 32)
    assert size == 32 and abs(x - 80) <= 4 and abs(y - 48) <= 4


def test_checkerboard_energy_tells_a_grid_from_a_photo(photo_folder):
    grid = np.indices((64, 64)).sum(axis=0) % 2 * 40.0 + 100
    assert checkerboard_energy(grid) > 0.99
    photo = read_rgb(sorted(photo_folder.iterdir())[0])
    assert checkerboard_energy(photo) < 0.05
    assert spectrum(photo).shape == photo.shape[:2]


def scored(methods, datasets, perceptual=("lpips",)):
    """An Evaluation with one made-up image per dataset: PSNR 20 + i, LPIPS 0.5 - i / 10."""
    rows = [
        {"dataset": d, "method": m, "psnr_y": 20.0 + i + j, "ssim_y": 0.5, "lpips": 0.5 - i / 10}
        for j, d in enumerate(datasets)
        for i, m in enumerate(methods)
    ]
    return Evaluation(methods, [Dataset(d, []) for d in datasets], rows, perceptual=perceptual)


def test_the_perception_distortion_plot_has_a_labelled_point_per_method_and_dataset(tmp_path):
    methods = ["Bicubic", "srresnet", "gan-step1000", "gan-step2000"]
    evaluation = scored(methods, ["Set5", "Set14"])
    points = perception_distortion_points(evaluation)
    assert list(points) == ["Set5", "Set14"]
    assert points["Set14"][2] == ("gan-step1000", 23.0, pytest.approx(0.3))
    figure = perception_distortion_figure(evaluation, tmp_path / "pd.png")
    assert len(figure.axes) == 2
    for axis, dataset in zip(figure.axes, ["Set5", "Set14"], strict=True):
        offsets = axis.collections[0].get_offsets()
        assert len(offsets) == 4  # Ledig et al. add none: they publish no LPIPS
        np.testing.assert_allclose(offsets, [(p, lp) for _, p, lp in points[dataset]])
        assert [text.get_text() for text in axis.texts] == methods
        assert dataset in axis.get_title()
    assert Image.open(tmp_path / "pd.png").size[0] > 600
    assert [p.name for p in tmp_path.iterdir()] == ["pd.png"]  # written atomically
    with pytest.raises(UserError, match="needs LPIPS"):
        perception_distortion_points(scored(methods, ["Set5"], perceptual=()))


def test_each_crop_of_the_comparison_says_its_psnr_and_lpips():
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    data = FigureData("Set5", "bird", hr)
    data.panels.append(("Bicubic", hr, {"psnr_y": 28.4321, "ssim_y": 0.81, "lpips": 0.34567}))
    data.panels.append(("old", hr, {"psnr_y": 30.0, "ssim_y": 0.8765}))  # no LPIPS scored
    figure = comparison_figure(data, crop=(8, 8, 16))
    captions = [axis.get_xlabel() for axis in figure.axes[3:]]
    assert captions == [
        "PSNR-Y 28.43 dB\nLPIPS 0.3457",
        "PSNR-Y 30.00 dB\nSSIM-Y 0.8765",
        "reference",
    ]


def test_close_points_get_labels_on_different_sides():
    # Three checkpoints almost on top of each other, and one far away.
    xs, ys = [27.00, 27.01, 27.02, 30.9], [0.160, 0.161, 0.159, 0.19]
    places = label_placements(xs, ys)
    assert len(places) == 4 and all(place in LABEL_PLACES for place in places)
    assert len(set(places[:3])) == 3  # the cluster's labels go three different ways
    assert places[3] == LABEL_PLACES[0]  # nothing near: the usual place, right above
    assert label_placements([], []) == []


def test_figures_name_the_scale_of_what_they_show():
    rng = np.random.default_rng(1)
    hr = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    data = FigureData("Set5", "bird", hr, scale=2)
    data.panels.append(("Bicubic", hr, {"psnr_y": 28.0, "ssim_y": 0.8}))
    assert comparison_figure(data, crop=(8, 8, 16)).get_suptitle() == "Set5 / bird (x2)"
    evaluation = scored(["Bicubic", "x8 model"], ["Set5"])
    evaluation.scale = 8
    assert perception_distortion_figure(evaluation).axes[0].get_title() == "Set5 (x8)"


@pytest.mark.parametrize("period", [2, 8])
def test_checkerboard_energy_looks_at_the_grid_of_the_period_given(period):
    pattern = np.random.default_rng(period).normal(0, 20, (period, period))
    grid = np.tile(pattern - pattern.mean(), (64 // period, 64 // period)) + 128
    assert checkerboard_energy(grid, period) > 0.99
    # An x8 grid has power off the x4 grid's frequencies; an x2 grid has none.
    assert (checkerboard_energy(grid) > 0.99) == (period == 2)
