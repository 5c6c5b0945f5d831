"""benchmarks/grid_penalty.py: the trained grid term against its coherent part."""

import numpy as np
import pytest

from benchmarks.grid_penalty import grid_terms


def _photo_like(rng, size=96):
    """Smooth random structure: no power of its own at the 4-pixel grid's phases."""
    import cv2

    noise = rng.normal(128, 60, (size, size, 3)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(noise, (0, 0), 3), 0, 255).astype(np.uint8)


def test_an_identical_image_costs_nothing():
    hr = _photo_like(np.random.default_rng(0))
    terms = grid_terms(hr, hr)
    assert terms["penalty"] == terms["coherent"] == 0
    assert terms["sr_power"] == terms["hr_power"] > 0


def test_a_grid_the_same_everywhere_is_in_both_the_penalty_and_the_coherent_part():
    hr = _photo_like(np.random.default_rng(0)).astype(np.int16)
    offsets = np.array([[6, -2, 0, -4], [2, 0, -6, 4], [0, 2, -2, 0], [-4, 6, 0, -2]])
    sr = np.clip(hr + np.tile(offsets, (24, 24))[:, :, None], 0, 255).astype(np.uint8)
    terms = grid_terms(hr.astype(np.uint8), sr)
    # Each phase's offset (zero mean over the 16 phases) on the [-1, 1] scale, squared.
    expected = np.mean((offsets / 127.5) ** 2)
    assert terms["penalty"] == pytest.approx(expected, rel=0.05)  # a few values clipped
    assert terms["coherent"] == pytest.approx(expected, rel=0.05)  # a few values clipped


def test_texture_that_differs_from_hr_costs_the_penalty_but_not_the_coherent_part():
    rng = np.random.default_rng(1)
    hr = _photo_like(rng)
    invented = rng.normal(0, 12, hr.shape)  # a GAN's texture: other detail than HR's
    sr = np.clip(hr + invented, 0, 255).astype(np.uint8)
    terms = grid_terms(hr, sr)
    assert terms["coherent"] < terms["penalty"] / 20


def test_the_table_has_hr_first_then_each_generator(photo_folder, tmp_path, capsys):
    from benchmarks.grid_penalty import main
    from models.generator import build_generator

    path = tmp_path / "tiny.keras"
    build_generator(blocks=1).save(path)
    assert main([str(path), "--datasets", str(photo_folder)]) == 0
    rows = [line.split("|")[1:-1] for line in capsys.readouterr().out.splitlines()]
    rows = [[cell.strip() for cell in row] for row in rows if len(row) == 9]
    assert rows[0][-2:] == ["amplitude", "notched"]
    hr, tiny = rows[2], rows[3]
    assert hr[:2] == ["HR", photo_folder.name] and hr[2:6] == ["-"] * 4
    assert tiny[0] == "tiny" and all(float(cell) == float(cell) for cell in tiny[2:])
    assert float(tiny[7]) >= 0 and float(hr[7]) >= 0  # amplitudes, in grey levels
