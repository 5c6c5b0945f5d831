import numpy as np
import pytest
from PIL import Image

import inference.photo_job as photo_job
import upscale
from data.images import decode_image
from inference.photo_job import describe, upscale_photo
from inference.weights import load_generator
from runtime.errors import UserError


@pytest.fixture(scope="module")
def saved(tiny, tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "tiny.keras"
    tiny.save(path)
    return path


@pytest.fixture(scope="module")
def generator(saved):
    return load_generator(saved, "float32")


def picture(shape, seed=0, dtype=np.uint8):
    top = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, top, shape, endpoint=True, dtype=dtype)


def test_the_download_is_what_upscale_py_writes(tmp_path, saved, generator):
    source = tmp_path / "upload.jpg"
    Image.fromarray(picture((12, 10, 3))).save(source, quality=90)
    out = tmp_path / "job"
    out.mkdir()
    result = upscale_photo(source, generator, out, name="holiday.jpg")
    assert result.download.name == "holiday_x4.png"  # JPEG in, PNG out, as upscale.py does
    assert (
        upscale.main(
            [
                str(source),
                "-o",
                str(tmp_path / "cli.png"),
                "--weights",
                str(saved),
                "--precision",
                "float32",
                "--no-progress",
            ]
        )
        == 0
    )
    np.testing.assert_array_equal(decode_image(result.download), decode_image(tmp_path / "cli.png"))
    assert result.input_size == (10, 12) and result.output_size == (40, 48)
    assert result.preview_scale == 1.0
    before, after = decode_image(result.before), decode_image(result.after)
    assert before.shape == after.shape == (48, 40, 3)
    np.testing.assert_array_equal(after, decode_image(result.download))
    assert "10x12 -> 40x48" in describe(result, "tiny")


@pytest.mark.parametrize(
    ("shape", "dtype", "suffix"),
    [((6, 7), np.uint8, ".png"), ((6, 7, 4), np.uint8, ".webp"), ((6, 7, 3), np.uint16, ".png")],
)
def test_grey_alpha_and_16_bit_keep_their_mode(tmp_path, generator, shape, dtype, suffix):
    pixels = picture(shape, dtype=dtype)
    source = tmp_path / f"in{suffix}"
    if dtype == np.uint16:
        import cv2

        cv2.imwrite(str(source), pixels[:, :, ::-1])
    else:
        Image.fromarray(pixels).save(source, lossless=True)
    result = upscale_photo(source, generator, tmp_path)
    out = decode_image(result.download)
    assert out.dtype == dtype and out.shape[:2] == (24, 28)
    assert out.shape[2:] == pixels.shape[2:]
    assert result.download.suffix == suffix
    assert decode_image(result.after).dtype == np.uint8  # the slider shows 8 bits


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not an image\n", "notes.png: not an image file"),
        (b"", "notes.png: file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "notes.png: "),
    ],
)
def test_bad_uploads_are_one_line_naming_the_given_file(tmp_path, generator, content, expected):
    source = tmp_path / "0123abcd"  # a server's temporary name
    source.write_bytes(content)
    with pytest.raises(UserError) as caught:
        upscale_photo(source, generator, tmp_path, name="notes.png")
    message = str(caught.value)
    assert message.startswith(expected) and "\n" not in message
    assert str(source) not in message
    assert not list(tmp_path.glob("notes*"))


def test_too_many_megapixels_is_refused_before_decoding(tmp_path, generator):
    source = tmp_path / "big.png"
    Image.fromarray(picture((40, 50, 3))).save(source)  # 2,000 pixels
    with pytest.raises(UserError, match=r"big\.png: 50x40 is 2,000 pixels, more than the limit"):
        upscale_photo(source, generator, tmp_path, max_megapixels=0.0015)
    result = upscale_photo(source, generator, tmp_path, max_megapixels=0.002)
    assert result.output_size == (200, 160)


def test_large_results_are_shown_shrunk_and_downloaded_whole(tmp_path, generator, monkeypatch):
    monkeypatch.setattr(photo_job, "PREVIEW_PIXELS", 40 * 48 // 4)
    source = tmp_path / "in.png"
    Image.fromarray(picture((12, 10, 3))).save(source)
    result = upscale_photo(source, generator, tmp_path)
    assert result.preview_scale == pytest.approx(0.5)
    assert decode_image(result.before).shape == decode_image(result.after).shape == (24, 20, 3)
    assert decode_image(result.download).shape == (48, 40, 3)
    assert "shows it at 50%" in describe(result, "tiny")


def test_progress_reaches_the_last_tile(tmp_path, generator, monkeypatch):
    import inference.tiling

    monkeypatch.setattr(inference.tiling, "auto_tile", lambda height, width: 8)
    source = tmp_path / "in.png"
    Image.fromarray(picture((20, 18, 3))).save(source)
    seen = []
    upscale_photo(
        source, generator, tmp_path, progress=lambda done, total: seen.append((done, total))
    )
    assert len(seen) > 1
    assert seen[-1][0] == seen[-1][1]
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
