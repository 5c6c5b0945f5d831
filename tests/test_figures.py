"""The figures' helpers: where the zoom goes, and what counts as a checkerboard."""

import numpy as np

from data.images import read_rgb
from evaluation.figures import checkerboard_energy, choose_crop, spectrum


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
