import os
import shutil
import struct
import time
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from data.images import (
    DEFAULT_MAX_PIXELS,
    IMAGE_SUFFIXES,
    ImageError,
    decode_image,
    list_images,
    read_rgb,
    write_image,
)
from runtime.errors import UserError

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (10, 12, 3), dtype=np.uint8)
RGBA = RNG.integers(0, 256, (10, 12, 4), dtype=np.uint8)
GREY = RNG.integers(0, 256, (10, 12), dtype=np.uint8)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(width, height, bit_depth, colour_type, rows=b"", extra_chunks=()) -> bytes:
    """A PNG built by hand, for what neither Pillow nor OpenCV will write (or write honestly)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + b"".join(png_chunk(kind, data) for kind, data in extra_chunks)
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


def png_rows(pixels: np.ndarray) -> bytes:
    """Big-endian scanlines, each with filter type 0."""
    big_endian = pixels.astype(pixels.dtype.newbyteorder(">"))
    return b"".join(b"\x00" + row.tobytes() for row in big_endian)


def exif_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    data = exif.tobytes()
    return data[6:] if data.startswith(b"Exif\x00\x00") else data


def decode_quietly(path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return decode_image(path, **kwargs)


# --- decoding --------------------------------------------------------------------------------


@pytest.mark.parametrize("pixels", [GREY, RGB, RGBA], ids=["grey", "rgb", "rgba"])
def test_decode_png_keeps_pixels_as_stored(tmp_path, pixels):
    Image.fromarray(pixels).save(tmp_path / "x.png")
    decoded = decode_quietly(tmp_path / "x.png")
    assert decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, pixels)


def test_decode_palette_expands_to_rgb_or_rgba(tmp_path):
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (253 * 3)
    index = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
    image = Image.fromarray(index, mode="P")
    image.putpalette(palette)
    image.save(tmp_path / "opaque.png")
    image.save(tmp_path / "transparent.png", transparency=1)

    opaque = decode_quietly(tmp_path / "opaque.png")
    assert opaque.shape == (2, 3, 3)
    np.testing.assert_array_equal(opaque[0], [[255, 0, 0], [0, 255, 0], [0, 0, 255]])

    transparent = decode_quietly(tmp_path / "transparent.png")
    assert transparent.shape == (2, 3, 4)
    np.testing.assert_array_equal(transparent[..., 3], [[255, 0, 255], [255, 0, 255]])
    np.testing.assert_array_equal(transparent[..., :3], opaque)


def test_decode_grey_alpha_becomes_rgba(tmp_path):
    grey_alpha = np.stack([GREY, 255 - GREY], axis=-1)
    Image.fromarray(grey_alpha, mode="LA").save(tmp_path / "la.png")
    decoded = decode_quietly(tmp_path / "la.png")
    assert decoded.shape == (10, 12, 4)
    for channel in range(3):
        np.testing.assert_array_equal(decoded[..., channel], GREY)
    np.testing.assert_array_equal(decoded[..., 3], 255 - GREY)


def test_decode_16bit_grey_keeps_its_range(tmp_path):
    pixels = np.array([[0, 1, 256], [40000, 65534, 65535]], dtype=np.uint16)
    (tmp_path / "g16.png").write_bytes(png_bytes(3, 2, 16, 0, png_rows(pixels)))
    decoded = decode_quietly(tmp_path / "g16.png")
    assert decoded.dtype == np.uint16
    np.testing.assert_array_equal(decoded, pixels)


@pytest.mark.parametrize("channels, colour_type", [(3, 2), (4, 6)], ids=["rgb", "rgba"])
def test_decode_16bit_colour_png_is_not_reduced_to_8_bits(tmp_path, channels, colour_type):
    pixels = RNG.integers(0, 65536, (5, 7, channels), dtype=np.uint16)
    pixels[0, 0] = 65535
    pixels[0, 1] = 1  # would vanish in 8 bits
    path = tmp_path / "c16.png"
    path.write_bytes(png_bytes(7, 5, 16, colour_type, png_rows(pixels)))
    decoded = decode_quietly(path)
    assert decoded.dtype == np.uint16
    np.testing.assert_array_equal(decoded, pixels)  # RGB(A) order, not OpenCV's BGR(A)


def test_decode_16bit_grey_alpha_png_becomes_16bit_rgba(tmp_path):
    pixels = np.array([[[1000, 60000], [3000, 200]], [[65535, 0], [7, 9]]], dtype=np.uint16)
    (tmp_path / "la16.png").write_bytes(png_bytes(2, 2, 16, 4, png_rows(pixels)))
    decoded = decode_quietly(tmp_path / "la16.png")
    assert decoded.dtype == np.uint16 and decoded.shape == (2, 2, 4)
    np.testing.assert_array_equal(decoded[..., 0], pixels[..., 0])
    np.testing.assert_array_equal(decoded[..., 2], pixels[..., 0])
    np.testing.assert_array_equal(decoded[..., 3], pixels[..., 1])


def test_decode_16bit_colour_png_honours_exif_orientation(tmp_path):
    pixels = RNG.integers(0, 65536, (4, 6, 3), dtype=np.uint16)
    exif = [(b"eXIf", exif_orientation(6))]
    (tmp_path / "r16.png").write_bytes(png_bytes(6, 4, 16, 2, png_rows(pixels), exif))
    decoded = decode_quietly(tmp_path / "r16.png")
    np.testing.assert_array_equal(decoded, np.rot90(pixels, -1))


def test_decode_16bit_rgb_tiff(tmp_path):
    pixels = RNG.integers(0, 65536, (5, 7, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "c16.tif"), pixels[..., ::-1])
    decoded = decode_quietly(tmp_path / "c16.tif")
    assert decoded.dtype == np.uint16
    np.testing.assert_array_equal(decoded, pixels)


def test_decode_cmyk_jpeg_gives_rgb(tmp_path):
    # Cyan, magenta, yellow and black ink squares, 8x8 so JPEG blocks do not mix them.
    cmyk = np.zeros((8, 32, 4), dtype=np.uint8)
    for square in range(4):
        cmyk[:, square * 8 : square * 8 + 8, square] = 255
    Image.fromarray(cmyk, mode="CMYK").save(tmp_path / "cmyk.jpg", quality=100)
    decoded = decode_quietly(tmp_path / "cmyk.jpg")
    assert decoded.shape == (8, 32, 3) and decoded.dtype == np.uint8
    expected = [[0, 255, 255], [255, 0, 255], [255, 255, 0], [0, 0, 0]]
    centres = decoded[4, [4, 12, 20, 28]].astype(int)
    np.testing.assert_allclose(centres, expected, atol=6)
    # OpenCV's libjpeg conversion is an independent opinion on the same file.
    opencv = cv2.imread(str(tmp_path / "cmyk.jpg"), cv2.IMREAD_COLOR)[..., ::-1]
    assert np.abs(decoded.astype(int) - opencv).max() <= 2


def test_decode_jpeg_honours_exif_orientation_6(tmp_path):
    stored = np.zeros((16, 32, 3), dtype=np.uint8)
    stored[:, :16] = (255, 0, 0)  # left half red
    stored[:, 16:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    decoded = decode_quietly(tmp_path / "rotated.jpg")
    assert decoded.shape == (32, 16, 3)
    # Orientation 6 is shown turned 90 degrees clockwise: the stored left is now the top.
    assert decoded[4, 8, 0] > 200 and decoded[4, 8, 2] < 50
    assert decoded[28, 8, 2] > 200 and decoded[28, 8, 0] < 50
    opencv = cv2.imread(str(tmp_path / "rotated.jpg"), cv2.IMREAD_COLOR)[..., ::-1]
    assert opencv.shape == decoded.shape
    assert np.abs(decoded.astype(int) - opencv).max() <= 2


@pytest.mark.parametrize("orientation", range(1, 9))
def test_decode_matches_pillow_for_every_exif_orientation(tmp_path, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(RGB).save(tmp_path / "o.png", exif=exif)
    with Image.open(tmp_path / "o.png") as image:
        expected = np.asarray(ImageOps.exif_transpose(image))
    np.testing.assert_array_equal(decode_quietly(tmp_path / "o.png"), expected)


@pytest.mark.parametrize("suffix", [".webp", ".bmp", ".tif"])
def test_decode_other_formats(tmp_path, suffix):
    options = {"lossless": True} if suffix == ".webp" else {}
    Image.fromarray(RGB).save(tmp_path / f"x{suffix}", **options)
    np.testing.assert_array_equal(decode_quietly(tmp_path / f"x{suffix}"), RGB)


def test_read_rgb_gives_uint8_rgb_from_anything(tmp_path):
    Image.fromarray(GREY).save(tmp_path / "grey.png")
    Image.fromarray(RGBA).save(tmp_path / "rgba.png")
    grey = read_rgb(tmp_path / "grey.png")
    assert grey.shape == (10, 12, 3)
    for channel in range(3):
        np.testing.assert_array_equal(grey[..., channel], GREY)
    np.testing.assert_array_equal(read_rgb(tmp_path / "rgba.png"), RGBA[..., :3])

    deep = np.array([[0, 128, 129, 257, 385, 386, 65535]], dtype=np.uint16)
    (tmp_path / "g16.png").write_bytes(png_bytes(7, 1, 16, 0, png_rows(deep)))
    rounded = read_rgb(tmp_path / "g16.png")
    assert rounded.dtype == np.uint8
    np.testing.assert_array_equal(rounded[0, :, 0], np.round(deep[0] / 257))
    np.testing.assert_array_equal(rounded[0, :, 0], [0, 0, 1, 1, 1, 2, 255])


# --- what a user can get wrong ---------------------------------------------------------------


def assert_one_line_image_error(path, *, match):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a Pillow warning leaking out fails the test
        with pytest.raises(ImageError, match=match) as caught:
            decode_image(path)
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    assert isinstance(caught.value, UserError)


def test_missing_empty_and_non_image_files_raise_image_error(tmp_path):
    assert_one_line_image_error(tmp_path / "missing.png", match="no such file")
    (tmp_path / "empty.png").write_bytes(b"")
    assert_one_line_image_error(tmp_path / "empty.png", match="empty")
    (tmp_path / "notes.png").write_text("not a picture\n")
    assert_one_line_image_error(tmp_path / "notes.png", match="not an image")
    assert_one_line_image_error(tmp_path, match="folder")


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_files_raise_image_error(tmp_path, suffix):
    Image.fromarray(RNG.integers(0, 256, (64, 80, 3), dtype=np.uint8)).save(tmp_path / f"a{suffix}")
    data = (tmp_path / f"a{suffix}").read_bytes()
    (tmp_path / f"cut{suffix}").write_bytes(data[: len(data) // 2])
    assert_one_line_image_error(tmp_path / f"cut{suffix}", match="truncated or corrupt")


def test_truncated_16bit_colour_png_raises_image_error(tmp_path):
    data = png_bytes(64, 64, 16, 2, png_rows(RNG.integers(0, 65536, (64, 64, 3), np.uint16)))
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    assert_one_line_image_error(tmp_path / "cut.png", match="truncated or corrupt")


@pytest.mark.parametrize("side", [12_000, 100_000])
def test_huge_header_is_refused_before_decoding(tmp_path, side):
    # 12000^2 is past Pillow's warning threshold, 100000^2 past its own error: either way the
    # user sees our limit, at once, although a full decode would need gigabytes.
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bytes(side, side, 8, 2, b"\x00" * 64))
    start = time.perf_counter()
    assert_one_line_image_error(path, match=f"{side}x{side} .* more than the limit of 100,000,000")
    assert time.perf_counter() - start < 1.0
    assert side * side > DEFAULT_MAX_PIXELS


def test_max_pixels_is_the_callers_choice(tmp_path):
    Image.fromarray(RGB).save(tmp_path / "x.png")  # 120 pixels
    with pytest.raises(ImageError, match="12x10 is 120 pixels"):
        decode_image(tmp_path / "x.png", max_pixels=119)
    with pytest.raises(ImageError):
        read_rgb(tmp_path / "x.png", max_pixels=119)
    assert decode_image(tmp_path / "x.png", max_pixels=120).shape == (10, 12, 3)


# --- writing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".tif", ".tiff", ".webp", ".bmp"])
@pytest.mark.parametrize("pixels", [GREY, RGB, RGBA], ids=["grey", "rgb", "rgba"])
def test_write_image_round_trips_8_bit(tmp_path, suffix, pixels):
    if suffix == ".bmp" and pixels.ndim == 3 and pixels.shape[2] == 4:
        with pytest.raises(ImageError, match="alpha"):
            write_image(tmp_path / f"x{suffix}", pixels)
        return
    write_image(tmp_path / f"x{suffix}", pixels)
    decoded = decode_quietly(tmp_path / f"x{suffix}")
    assert decoded.dtype == np.uint8
    if suffix == ".webp" and pixels.ndim == 2:
        decoded = decoded[..., 0]  # WebP has no grey mode
    np.testing.assert_array_equal(decoded, pixels)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("channels", [0, 3, 4], ids=["grey", "rgb", "rgba"])
def test_write_image_round_trips_16_bit(tmp_path, suffix, channels):
    shape = (9, 11, channels) if channels else (9, 11)
    pixels = RNG.integers(0, 65536, shape, dtype=np.uint16)
    write_image(tmp_path / f"x{suffix}", pixels)
    decoded = decode_quietly(tmp_path / f"x{suffix}")
    assert decoded.dtype == np.uint16
    np.testing.assert_array_equal(decoded, pixels)


def test_write_jpeg_is_close_and_16_bit_is_rounded_for_8_bit_formats(tmp_path):
    smooth = np.broadcast_to(np.linspace(0, 255, 32)[None, :, None], (24, 32, 3))
    write_image(tmp_path / "x.JPG", smooth.astype(np.uint8))
    assert np.abs(decode_quietly(tmp_path / "x.JPG").astype(int) - smooth).max() <= 3
    deep = np.full((4, 4, 3), 129, dtype=np.uint16)
    write_image(tmp_path / "x.webp", deep)
    np.testing.assert_array_equal(decode_quietly(tmp_path / "x.webp"), 1)
    with pytest.raises(ImageError, match="alpha"):
        write_image(tmp_path / "y.jpg", RGBA)


def test_write_image_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    write_image(target, RGB)
    assert os.listdir(tmp_path) == ["out.png"]  # no temporary file left behind
    before = target.read_bytes()

    def failing_replace(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(ImageError, match="No space left on device") as caught:
        write_image(target, GREY)
    assert "\n" not in str(caught.value)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["out.png"]


def test_write_image_refuses_what_it_cannot_do(tmp_path):
    with pytest.raises(ImageError, match="does not exist"):
        write_image(tmp_path / "missing" / "x.png", RGB)
    assert not (tmp_path / "missing").exists()
    with pytest.raises(ImageError, match=r"cannot write \.gif"):
        write_image(tmp_path / "x.gif", RGB)
    with pytest.raises(ImageError, match="without a suffix"):
        write_image(tmp_path / "x", RGB)
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(ImageError, match="cannot write"):
        write_image(tmp_path / "folder.png", RGB)
    with pytest.raises(ValueError, match="uint8 or uint16"):
        write_image(tmp_path / "x.png", RGB.astype(np.float32))
    assert sorted(os.listdir(tmp_path)) == ["folder.png"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_write_image_into_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ImageError, match="cannot write"):
            write_image(folder / "x.png", RGB)
    finally:
        folder.chmod(0o700)


# --- listing ---------------------------------------------------------------------------------


def test_list_images_finds_images_by_suffix_and_skips_hidden(tmp_path):
    root = tmp_path / ".cache" / "data"  # a hidden folder above the root does not matter
    for name in [
        "b.png",
        "A.JPG",
        "notes.txt",
        ".hidden.png",
        "sub/c.webp",
        "sub/d.TIFF",
        ".git/e.png",
        "sub/.ipynb_checkpoints/f.png",
    ]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    assert list_images(root) == [
        root / "A.JPG",
        root / "b.png",
        root / "sub/c.webp",
        root / "sub/d.TIFF",
    ]
    assert list_images(root, recursive=False) == [root / "A.JPG", root / "b.png"]
    assert {".png", ".jpg", ".webp", ".tiff"} <= set(IMAGE_SUFFIXES)
    with pytest.raises(ImageError, match="no such folder"):
        list_images(tmp_path / "nowhere")


def test_list_images_skips_pipes_sockets_and_broken_links_saying_so(tmp_path):
    import socket
    import tempfile

    root = Path(tempfile.mkdtemp(dir="/tmp"))  # a socket's path must be short
    try:
        (root / "good.png").write_bytes(b"")
        os.mkfifo(root / "pipe.png")
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(root / "sock.jpg"))
        (root / "gone.png").symlink_to(root / "nowhere.png")
        skipped = []
        assert list_images(root, on_skip=lambda p, what: skipped.append((p.name, what))) == [
            root / "good.png"
        ]
        assert skipped[1:] == [("pipe.png", "a named pipe"), ("sock.jpg", "a socket")]
        assert skipped[0][0] == "gone.png" and skipped[0][1].startswith("unreadable")
        server.close()
    finally:
        shutil.rmtree(root)
