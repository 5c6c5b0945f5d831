"""Reading, writing and listing image files: the one module that touches image files.

Decoding goes through Pillow, which reads the header lazily (so a decompression bomb is refused
before any pixel is decoded) and knows about palettes, CMYK and EXIF orientation. Pillow reduces
16-bit colour to 8 bits, so those files alone are decoded by OpenCV, whose ``IMREAD_UNCHANGED``
keeps 16 bits but ignores EXIF: the orientation is then taken from Pillow and applied here.

The MATLAB-compatible resize and luma that SR scores depend on work on arrays, not files: they
are in ``data/matlab_functions.py``.
"""

from __future__ import annotations

import io
import os
import stat
import sys
import threading
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from runtime import atomic
from runtime.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# What a folder listing takes: the formats written above, and GIF, read (its first frame) but
# not written (a palette of 256 colours cannot hold a network's output).
READ_SUFFIXES = (*IMAGE_SUFFIXES, ".gif")
DEFAULT_MAX_PIXELS = 100_000_000

# Pillow's exceptions for data it cannot decode: truncated streams, broken chunks, bad headers.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, zlib.error)
# Serialises the rare moment when Pillow's process-wide bomb limit is lifted (see _open).
_PILLOW_LIMIT_LOCK = threading.Lock()
_EXIF_ORIENTATION = 0x0112


class ImageError(UserError):
    """An image file that cannot be read or written; the message names the file."""


def _one_line(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return " ".join(str(text).split())


def _open(stream, path: Path) -> Image.Image:
    """Open lazily: only the header is parsed, so the size is known before decoding.

    Pillow refuses headers above twice ``Image.MAX_IMAGE_PIXELS`` with its own error. Our limit
    (``max_pixels``) is the one the user sees, so the header is parsed again without Pillow's.
    """
    try:
        return Image.open(stream)
    except Image.DecompressionBombError:
        stream.seek(0)
        with _PILLOW_LIMIT_LOCK:
            saved = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
            try:
                return Image.open(stream)
            finally:
                Image.MAX_IMAGE_PIXELS = saved


def _rawmode(image: Image.Image) -> str:
    """How the file stores its samples, e.g. ``RGB;16B``; Pillow's ``mode`` hides 16-bit colour."""
    if not image.tile:
        return ""
    args = image.tile[0].args
    if isinstance(args, tuple):
        args = args[0] if args else ""
    return args if isinstance(args, str) else ""


def _is_16bit_colour(image: Image.Image) -> bool:
    return image.mode in ("RGB", "RGBA", "LA") and ";16" in _rawmode(image)


def _orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation, so the array is the picture as a viewer would show it."""
    transforms = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a, 2).swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    transform = transforms.get(orientation)
    return pixels if transform is None else np.ascontiguousarray(transform(pixels))


def _pillow_pixels(image: Image.Image, path: Path) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(image).astype(np.uint16)
    if mode == "I":
        pixels = np.asarray(image)
        if pixels.size and (pixels.min() < 0 or pixels.max() > 65535):
            raise ImageError(f"{path}: 32-bit integer pixels outside 0..65535 are not supported")
        return pixels.astype(np.uint16)
    if mode == "F":
        raise ImageError(f"{path}: floating-point pixels are not supported")
    if mode in ("L", "RGB", "RGBA"):
        return np.asarray(image)
    if mode == "1":
        return np.asarray(image.convert("L"))
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or image.has_transparency_data
        return np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
    if mode == "La":
        return np.asarray(image.convert("LA").convert("RGBA"))
    if mode in ("LA", "RGBa"):
        return np.asarray(image.convert("RGBA"))
    return np.asarray(image.convert("RGB"))  # CMYK, YCbCr, HSV, LAB, RGBX


def _opencv_pixels(stream, path: Path) -> np.ndarray:
    stream.seek(0)
    pixels = cv2.imdecode(np.frombuffer(stream.read(), dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise ImageError(f"{path}: OpenCV could not decode this 16-bit image")
    if pixels.ndim == 3 and pixels.shape[2] == 3:
        return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        return cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGBA)
    return pixels


def decode_image(path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Pixels as stored (uint8 or uint16; HxW, HxWx3 RGB or HxWx4 RGBA), upright per EXIF.

    Keeping 16-bit and alpha lets a caller (the upscaler) give them back on output; training
    and evaluation want ``read_rgb`` instead.
    """
    path = Path(path)
    what = _not_regular(path) if path.exists() else None
    if what is not None and what != "a folder":  # a pipe would block open() for good
        raise ImageError(f"{path}: {what}, not an image file")
    try:
        stream = open(path, "rb")  # noqa: SIM115 -- closed by the with block below
    except FileNotFoundError as error:
        raise ImageError(f"{path}: no such file") from error
    except IsADirectoryError as error:
        raise ImageError(f"{path}: is a folder, not an image file") from error
    except OSError as error:
        raise ImageError(f"{path}: cannot read ({_one_line(error)})") from error

    # Pillow warns about odd EXIF, big images and so on; only our one-line errors count.
    with stream, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if os.fstat(stream.fileno()).st_size == 0:
            raise ImageError(f"{path}: file is empty (0 bytes)")
        try:
            image = _open(stream, path)
        except Image.UnidentifiedImageError as error:
            raise ImageError(f"{path}: not an image file in a format Pillow can read") from error
        except _DECODE_ERRORS as error:
            raise ImageError(f"{path}: corrupt image header ({_one_line(error)})") from error
        with image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageError(
                    f"{path}: {width}x{height} is {width * height:,} pixels, more than the "
                    f"limit of {max_pixels:,}"
                )
            frames = getattr(image, "n_frames", 1)  # an animation or a multi-page TIFF
            deep_colour = _is_16bit_colour(image)  # before load(), which forgets the tiles
            try:
                image.load()
                orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
                if deep_colour:
                    pixels = _opencv_pixels(stream, path)
                else:
                    pixels = _pillow_pixels(image, path)
            except ImageError:
                raise
            except _DECODE_ERRORS as error:
                raise ImageError(
                    f"{path}: image data is truncated or corrupt ({_one_line(error)})"
                ) from error
    if frames > 1:
        print(f"{path}: {frames} frames or pages; only the first is used", file=sys.stderr)
    return _orient(pixels, orientation)


def read_rgb(path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The image as uint8 RGB, the one form the networks and metrics are trained and scored on."""
    pixels = eight_bit(decode_image(path, max_pixels=max_pixels))
    if pixels.ndim == 2:
        return np.repeat(pixels[:, :, None], 3, axis=2)
    return np.ascontiguousarray(pixels[:, :, :3])


def eight_bit(pixels: np.ndarray) -> np.ndarray:
    """uint16 pixels rounded to uint8 (others as they are): what 8-bit formats and screens hold."""
    if pixels.dtype != np.uint16:
        return pixels
    # round(x / 257): 257 is odd, so x / 257 never lands exactly on a half.
    return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)


def output_suffix(source, pixels, forced=None) -> str:
    """The suffix to save ``pixels`` made from the file ``source`` under: ``forced``, else the
    input's own when it can hold them.

    JPEG would add a second lossy step on top of a network's output, so it becomes PNG;
    16-bit and alpha go to a format that keeps them (PNG unless the input's already does).
    """
    if forced:
        return f".{forced}"
    suffix = Path(source).suffix.lower()
    sixteen_bit = pixels.dtype == "uint16"
    alpha = pixels.ndim == 3 and pixels.shape[2] == 4
    if suffix in (".png", ".tif", ".tiff"):
        return suffix
    if suffix == ".webp" and not sixteen_bit:
        return suffix
    if suffix == ".bmp" and not (sixteen_bit or alpha):
        return suffix
    return ".png"


def _check_pixels(pixels) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"pixels must be uint8 or uint16, not {pixels.dtype}")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] in (3, 4))):
        raise ValueError(f"pixels must be HxW, HxWx3 or HxWx4, not {pixels.shape}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ValueError(f"pixels must not be empty, got {pixels.shape}")
    return np.ascontiguousarray(pixels)


def _encode(pixels: np.ndarray, suffix: str, path: Path) -> bytes:
    if pixels.dtype == np.uint16 and suffix in (".png", ".tif", ".tiff"):
        # Pillow cannot write 16-bit colour; OpenCV can, in BGR(A) order.
        if pixels.ndim == 3:
            code = cv2.COLOR_RGB2BGR if pixels.shape[2] == 3 else cv2.COLOR_RGBA2BGRA
            pixels = cv2.cvtColor(pixels, code)
        ok, buffer = cv2.imencode(suffix, pixels)
        if not ok:
            raise ImageError(f"{path}: OpenCV could not encode this image")
        return buffer.tobytes()
    pixels = eight_bit(pixels)  # JPEG, BMP and WebP hold 8 bits per sample.
    if suffix in (".jpg", ".jpeg", ".bmp") and pixels.ndim == 3 and pixels.shape[2] == 4:
        kind = "BMP" if suffix == ".bmp" else "JPEG"
        raise ImageError(f"{path}: {kind} cannot store an alpha channel; use .png or .webp")
    image = Image.fromarray(pixels)
    options = {
        ".png": {"format": "PNG"},
        # 4:4:4 chroma: super-resolved detail is exactly what 4:2:0 would blur away.
        ".jpg": {"format": "JPEG", "quality": 95, "subsampling": 0},
        ".jpeg": {"format": "JPEG", "quality": 95, "subsampling": 0},
        ".bmp": {"format": "BMP"},
        ".tif": {"format": "TIFF", "compression": "tiff_lzw"},
        ".tiff": {"format": "TIFF", "compression": "tiff_lzw"},
        # exact: keep the colour under fully transparent pixels, so a round trip is lossless.
        ".webp": {"format": "WEBP", "lossless": True, "exact": True},
    }[suffix]
    stream = io.BytesIO()
    image.save(stream, **options)
    return stream.getvalue()


def write_image(path, pixels) -> None:
    """Write atomically, so a crash or a full disk never leaves a half-written image behind.

    The format follows the suffix. 16-bit pixels stay 16-bit in PNG and TIFF and are rounded
    to 8 bits for JPEG, BMP and WebP. JPEG is written at quality 95, WebP losslessly; JPEG and
    BMP refuse an alpha channel rather than drop it.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ImageError(
            f"{path}: cannot write {suffix or 'files without a suffix'}; "
            f"use one of {', '.join(IMAGE_SUFFIXES)}"
        )
    pixels = _check_pixels(pixels)
    folder = path.parent
    if not folder.is_dir():
        raise ImageError(f"{path}: folder {folder} does not exist")
    data = _encode(pixels, suffix, path)
    try:
        atomic.write_bytes(path, data)
    except OSError as error:
        raise ImageError(f"{path}: cannot write ({_one_line(error)})") from error


def _not_regular(path: Path) -> str | None:
    """What ``path`` is when it is no regular file (after links), else None. Opening a named
    pipe blocks until something writes to it, in a system call no signal ends: a folder of
    inputs must never hand one to a reader."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        return f"unreadable ({error.strerror or type(error).__name__})"
    if stat.S_ISREG(mode):
        return None
    kinds = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"))
    kinds += ((stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISDIR, "a folder"))
    return next((kind for test, kind in kinds if test(mode)), "not a regular file")


def _say_skipped(path: Path, what: str) -> None:
    print(f"skipped {path}: {what}, not an image file", file=sys.stderr, flush=True)


def list_images(folder, *, recursive: bool = True, on_skip=_say_skipped) -> list[Path]:
    """Image files by suffix, sorted so that every run sees them in the same order.

    Hidden files and folders (``.ipynb_checkpoints``, editors' backups) are skipped: they are
    never part of a dataset. So is anything with an image's name that is no regular file (a
    named pipe, a socket, a device, a broken link): ``on_skip(path, what)`` is told, by default
    one line on stderr.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f"{folder}: no such folder")
    found = []
    seen = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        # A symlinked folder may point back up the tree; visit each real folder once.
        info = os.stat(root)
        if (info.st_dev, info.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        dirs[:] = [d for d in dirs if not d.startswith(".")] if recursive else []
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in READ_SUFFIXES:
                path = Path(root) / name
                what = _not_regular(path)
                if what is None:
                    found.append(path)
                elif on_skip is not None:
                    on_skip(path, what)
    return sorted(found)
