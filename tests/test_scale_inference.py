"""Every tool at the generator's own scale (issue 32): x2 and x8 files as well as x4.

The scale is read from the file (``models.description``), never assumed: tiling, the output
names of upscale.py and the web page, the benchmark's LR, shave and tables, and the exports'
sidecars follow it. Tiny untrained generators and small images keep every test quick.
"""

import json

import keras
import numpy as np
import pytest
from PIL import Image

import evaluate
import upscale
from data.conventions import SCALES
from data.images import decode_image, write_image
from data.matlab_functions import bicubic_downscale, bicubic_upscale, modcrop
from evaluation.metrics import psnr
from inference import tiling
from inference.split import split_generator
from models.generator import UPSAMPLE_MODES, build_generator
from models.subpixel import PhaseGroups
from runtime.errors import UserError

BLOCKS = 2
# Receptive field of build_generator(blocks=2) in LR pixels, at any scale: head 4, body
# 2 * 2 + 1, tail at most 3 (tiling.DEFAULT_TILE_PAD's comment counts it).
FIELD = 4 + 2 * BLOCKS + 1 + 3
# The 16-block generator's head and body: the tail's reach must fit in the rest of the pad.
HEAD_AND_BODY_16 = 4 + 2 * 16 + 1


def generator(scale, upsample="pixelshuffle", seed=1):
    keras.utils.set_random_seed(seed)
    return build_generator(scale=scale, blocks=BLOCKS, upsample=upsample)


@pytest.fixture(scope="module")
def x2_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("x2") / "tiny_x2.keras"
    generator(2).save(path)
    return path


def noise(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def save(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, pixels)


def max_diff(a, b):
    return int(np.abs(a.astype(np.int64) - b.astype(np.int64)).max())


# -- tiling ----------------------------------------------------------------------------------
@pytest.mark.parametrize("upsample", UPSAMPLE_MODES)
@pytest.mark.parametrize("scale", SCALES)
def test_tiles_equal_the_untiled_result_at_every_scale(scale, upsample, monkeypatch):
    """One, two and three upsampling stages: split, exact polyphase tail, exact seams."""
    model = generator(scale, upsample)
    split = split_generator(model, scale)
    assert split is not None and split.radius <= 3
    assert HEAD_AND_BODY_16 + split.radius <= tiling.DEFAULT_TILE_PAD
    if upsample == "pixelshuffle":
        assert isinstance(split.whole.chain[-1], PhaseGroups)
    image = noise((13, 18, 3), seed=scale)
    untiled = tiling.upscale(image, model, tile=0)
    assert untiled.shape == (scale * 13, scale * 18, 3)
    direct = np.asarray(model.predict_on_batch(image[None].astype("float32") / 255.0))[0]
    assert max_diff(untiled, np.clip(np.rint((direct + 1.0) * 127.5), 0, 255)) <= 1
    assert max_diff(tiling.upscale(image, model, tile=5, tile_pad=FIELD), untiled) <= 1
    monkeypatch.setattr(tiling, "BODY_BATCH_PIXELS", 13 * 12)  # body windows as well
    assert len(tiling._two_stage_plan(13, 18, 5, FIELD, split.radius)) > 1
    assert max_diff(tiling.upscale(image, model, tile=5, tile_pad=FIELD), untiled) <= 1


def test_too_little_context_shows_seams_at_x8():
    """The control for the test above: its comparison would see a seam if there were one."""
    model = generator(8)
    image = noise((13, 18, 3), seed=8)
    untiled = tiling.upscale(image, model, tile=0)
    assert max_diff(tiling.upscale(image, model, tile=5, tile_pad=0), untiled) > 1


# -- upscale.py and the web page ------------------------------------------------------------
def test_upscale_py_on_an_x2_file_writes_a_2x_image_named_x2(x2_file, tmp_path, capsys):
    save(tmp_path / "in" / "photo.png", noise((9, 11, 3)))
    out = tmp_path / "out"
    code = upscale.main([str(tmp_path / "in"), "-o", str(out), "--weights", str(x2_file)])
    capsys.readouterr()
    assert code == 0
    assert [p.name for p in out.iterdir()] == ["photo_x2.png"]
    assert decode_image(out / "photo_x2.png").shape == (18, 22, 3)


def test_the_web_pages_download_is_named_by_the_scale(x2_file, tmp_path):
    from inference.photo_job import upscale_photo
    from inference.weights import load_generator

    Image.fromarray(noise((10, 12, 3))).save(tmp_path / "holiday.jpg")
    folder = tmp_path / "job"
    folder.mkdir()
    result = upscale_photo(tmp_path / "holiday.jpg", load_generator(x2_file), folder)
    assert result.download.name == "holiday_x2.png"
    assert result.output_size == (24, 20)
    assert decode_image(result.download).shape == (20, 24, 3)


# -- evaluate.py ----------------------------------------------------------------------------
def smooth_photo(shape, seed):
    """Smooth shapes plus a little texture, so bicubic and networks score in a normal range."""
    y, x = np.mgrid[: shape[0], : shape[1]]
    base = 128 + 70 * np.sin(x / (4.0 + seed))[..., None] * np.cos(y / 6.0)[..., None]
    base = base + np.array([0, 20, -20])
    texture = np.random.default_rng(seed).normal(0, 8, (*shape, 3))
    return np.clip(base + texture, 0, 255).astype(np.uint8)


@pytest.fixture
def bench(tmp_path):
    """An EDSR-layout benchmark: ``a`` has an official x2 LR file, ``b`` only an x4 one.

    ``a``'s x2 file is not the bicubic of its HR (it is shifted by 9 levels), so a score tells
    which LR it was made from.
    """
    folder = tmp_path / "bench"
    hr = {"a": smooth_photo((42, 50), 0), "b": smooth_photo((46, 38), 1)}
    for name, pixels in hr.items():
        save(folder / "HR" / f"{name}.png", pixels)
    official = np.clip(bicubic_downscale(modcrop(hr["a"], 2), 2).astype(int) + 9, 0, 255)
    save(folder / "LR_bicubic" / "X2" / "ax2.png", official.astype(np.uint8))
    save(folder / "LR_bicubic" / "X4" / "bx4.png", bicubic_downscale(modcrop(hr["b"], 4), 4))
    return folder, hr, official.astype(np.uint8)


def scores_of(document, method, image):
    (row,) = [r for r in document["per_image"] if r["method"] == method and r["image"] == image]
    return row


def test_an_x2_model_is_scored_at_x2_with_the_official_x2_lr_where_it_ships(
    x2_file, bench, tmp_path, capsys
):
    from inference.weights import load_generator

    folder, hr, official = bench
    argv = [f"tiny={x2_file}", "--datasets", str(folder), "--perceptual", "none"]
    argv += ["--no-progress", "--json", str(tmp_path / "e.json")]
    assert evaluate.main(argv) == 0
    out = capsys.readouterr().out
    assert "x2 super-resolution: PSNR (dB) / SSIM on the Y channel (BT.601), 2-pixel border" in out
    assert "bench: 2 images, 1 official LR, the rest made by bicubic" in out
    document = json.loads((tmp_path / "e.json").read_text())
    model = load_generator(x2_file)
    lrs = {"a": official, "b": bicubic_downscale(modcrop(hr["b"], 2), 2)}
    for name, lr in lrs.items():
        reference = modcrop(hr[name], 2)
        sr = tiling.upscale(lr, model)
        row = scores_of(document, "tiny", name)
        assert row["scale"] == 2 and row["official_lr"] == (name == "a")
        assert row["psnr_y"] == pytest.approx(psnr(reference, sr, crop_border=2), abs=1e-4)
        assert abs(row["psnr_y"] - psnr(reference, sr, crop_border=4)) > 1e-3  # the shave counts
        bicubic = psnr(reference, bicubic_upscale(lr, 2), crop_border=2)
        assert scores_of(document, "Bicubic", name)["psnr_y"] == pytest.approx(bicubic, abs=1e-4)
    # The official file, not our own bicubic, made ``a``'s LR: bicubic scores them apart.
    reference = modcrop(hr["a"], 2)
    own = bicubic_upscale(bicubic_downscale(reference, 2), 2)
    own_psnr = psnr(reference, own, crop_border=2)
    assert abs(scores_of(document, "Bicubic", "a")["psnr_y"] - own_psnr) > 1


def test_models_of_two_scales_get_a_table_each_with_its_own_bicubic(
    x2_file, bench, tmp_path, capsys
):
    folder, hr, _ = bench
    x4_file = tmp_path / "tiny_x4.keras"
    generator(4).save(x4_file)
    argv = [f"four={x4_file}", f"two={x2_file}", "--datasets", str(folder)]
    argv += ["--perceptual", "none", "--paper", "--no-progress", "--json", str(tmp_path / "e.json")]
    assert evaluate.main(argv) == 0
    out = capsys.readouterr().out
    x2_part, x4_part = out.split("x4 super-resolution")
    assert "x2 super-resolution" in x2_part and "2-pixel border shaved" in x2_part
    assert "4-pixel border shaved" in x4_part
    rows = [[line.split("|")[1].strip() for line in part.splitlines() if line.startswith("| ")]
            for part in (x2_part, x4_part)]  # fmt: skip
    assert rows[0][1:] == ["Bicubic", "two"]  # [0] is the header; Ledig et al.'s rows are x4
    assert rows[1][1:3] == ["Bicubic", "four"] and "SRGAN (Ledig et al.)" in rows[1]
    document = json.loads((tmp_path / "e.json").read_text())
    scales = {(row["method"], row["scale"]) for row in document["summary"]}
    assert scales == {("Bicubic", 2), ("two", 2), ("Bicubic", 4), ("four", 4)}
    # Bicubic's x4 row: both images at x4 (``b``'s official X4 file is MATLAB's bicubic too).
    expected = []
    for pixels in hr.values():
        reference = modcrop(pixels, 4)
        sr = bicubic_upscale(bicubic_downscale(reference, 4), 4)
        expected.append(psnr(reference, sr, crop_border=4))
    (x4_bicubic,) = [
        row["psnr_y"]
        for row in document["summary"]
        if row["method"] == "Bicubic" and row["scale"] == 4
    ]
    assert x4_bicubic == pytest.approx(np.mean(expected), abs=1e-4)


def test_scale_chooses_the_bicubic_baseline_and_goes_without_models(x2_file, bench, capsys):
    folder, hr, _ = bench
    argv = ["--datasets", str(folder), "--perceptual", "none", "--no-progress"]
    assert evaluate.main([*argv, "--scale", "8"]) == 0
    out = capsys.readouterr().out
    assert "x8 super-resolution" in out and "8-pixel border shaved" in out
    assert "bench: 2 images, LR made by MATLAB-exact bicubic" in out  # no X8 files anywhere
    reference = modcrop(hr["a"], 8)
    expected = psnr(reference, bicubic_upscale(bicubic_downscale(reference, 8), 8), crop_border=8)
    reference = modcrop(hr["b"], 8)
    second = psnr(reference, bicubic_upscale(bicubic_downscale(reference, 8), 8), crop_border=8)
    cells = next(line for line in out.splitlines() if line.startswith("| Bicubic")).split("|")
    assert float(cells[2].split("/")[0]) == pytest.approx((expected + second) / 2, abs=0.005)
    with pytest.raises(UserError, match="--scale goes without MODEL"):
        evaluate.main([str(x2_file), *argv, "--scale", "2"])


# -- export ---------------------------------------------------------------------------------
def test_an_x2_export_says_scale_2_and_returns_a_2x_image(x2_file, bench, tmp_path):
    from export.files import export_generator
    from export.runtimes import load_exported
    from export.sidecar import common_info, io_info
    from inference.weights import load_generator

    folder, _, _ = bench
    (done,) = export_generator(
        x2_file, tmp_path / "out", formats=["savedmodel"], psnr_dataset=str(folder)
    )
    sidecar = json.loads(done.sidecar.read_text())
    assert sidecar["scale"] == 2
    assert (
        sidecar["psnr"]["protocol"].startswith("x2, ")
        and "2-pixel border" in sidecar["psnr"]["protocol"]
    )
    assert sidecar["check"]["max_abs_diff_vs_keras"] < 0.01
    levels = load_exported(done.path, "savedmodel")(noise((1, 7, 9, 3)))
    assert levels.shape == (1, 14, 18, 3)
    fixed = io_info("savedmodel", common_info(x2_file, load_generator(x2_file), "uint8", (5, 7)))
    assert fixed["outputs"][0]["shape"] == [None, 10, 14, 3]
