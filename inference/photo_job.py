"""One uploaded photo upscaled for the web page (``app.py``): checks, the result, a before/after.

The page must answer every upload with either a result or one line a person can act on, so
everything that can go wrong with a photo (not an image, truncated, empty, too large) becomes a
``UserError`` here, with the name the person uploaded and not the server's temporary path. The
upscaling itself is ``upscale.py``'s (``inference.tiling.upscale`` on ``decode_image``'s pixels,
saved in the format ``output_suffix`` picks), so the file a person downloads equals, byte for
pixel, what ``upscale.py`` writes with the same weights and precision.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from data.images import ImageError, decode_image, eight_bit, output_suffix, write_image
from inference.tiling import output_name_suffix, upscale
from runtime.errors import UserError

# The slider shows both sides at most this large (output pixels); larger results are shown
# shrunk, and the download is always the full result. 16 MP keeps the two PNGs the browser
# decodes to about 130 MB.
PREVIEW_PIXELS = 16_000_000


@dataclass(frozen=True)
class PhotoResult:
    """What the page shows: the slider's two sides, the file to download, and how it went."""

    before: Path  # the input upscaled by bicubic to the output's size (8-bit PNG)
    after: Path  # the network's output (8-bit PNG, shrunk like ``before`` when large)
    download: Path  # the full result, as upscale.py would write it
    seconds: float  # the network's time, decoding and saving excluded
    input_size: tuple[int, int]  # width, height
    output_size: tuple[int, int]
    preview_scale: float  # 1.0 when the slider shows the full resolution


def upscale_photo(
    source,
    generator,
    folder,
    *,
    name=None,
    max_megapixels=4.0,
    self_ensemble=False,
    progress=None,
):
    """Upscale the image file ``source`` into ``folder``; a ``UserError`` says what is wrong.

    ``name`` is the file name the person gave it (messages and the download use it);
    ``max_megapixels`` bounds the input, checked from the header before any pixel is decoded;
    ``progress(done, total)`` is called as tiles finish.
    """
    source, folder = Path(source), Path(folder)
    name = Path(name or source.name).name
    limit = int(max_megapixels * 1_000_000)
    try:
        # The decoder checks the limit from the header, before any pixel is decoded.
        pixels = decode_image(source, max_pixels=max(limit, 1))
    except ImageError as error:
        raise UserError(_renamed(str(error), source, name)) from None
    height, width = pixels.shape[:2]
    started = time.perf_counter()
    result = upscale(pixels, generator, self_ensemble=self_ensemble, progress=progress)
    seconds = time.perf_counter() - started

    stem = Path(name).stem or "photo"
    times = output_name_suffix(generator)  # _x4, as upscale.py names its outputs
    download = folder / f"{stem}{times}{output_suffix(name, result)}"
    write_image(download, result)
    shown = _preview_scale(result.shape[0] * result.shape[1])
    before = folder / f"{stem}_bicubic_preview.png"
    after = folder / f"{stem}{times}_preview.png"
    preview_shape = (round(result.shape[0] * shown), round(result.shape[1] * shown))
    write_image(before, _bicubic(pixels, preview_shape))
    write_image(after, _shrunk(eight_bit(result), preview_shape))
    return PhotoResult(
        before=before,
        after=after,
        download=download,
        seconds=seconds,
        input_size=(width, height),
        output_size=(result.shape[1], result.shape[0]),
        preview_scale=shown,
    )


def describe(result: PhotoResult, model_name: str) -> str:
    """One line for the page: sizes, time, and whether the slider shows a shrunk view."""
    (w, h), (ow, oh) = result.input_size, result.output_size
    line = (
        f"{w}x{h} -> {ow}x{oh} ({ow * oh / 1e6:.1f} MP) with {model_name} in {result.seconds:.1f} s"
    )
    if result.preview_scale < 1:
        line += f"; the slider shows it at {result.preview_scale:.0%}, the download is full size"
    return line


def _renamed(message, source, name):
    """The decoder's message about the server's temporary file, about the person's file."""
    return message.replace(str(source), name, 1)


def _preview_scale(output_pixels):
    return min(1.0, (PREVIEW_PIXELS / output_pixels) ** 0.5)


def _bicubic(pixels, shape):
    """The input enlarged by bicubic interpolation to ``shape``, 8-bit: the slider's 'before'.

    OpenCV's, not the MATLAB-exact ``data.matlab_functions.imresize`` the scores use: the
    slider is a view, and OpenCV's is about 50 times as fast on a large photo.
    """
    height, width = shape
    return cv2.resize(eight_bit(pixels), (width, height), interpolation=cv2.INTER_CUBIC)


def _shrunk(pixels, shape):
    if pixels.shape[:2] == tuple(shape):
        return pixels
    height, width = shape
    return np.ascontiguousarray(cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA))
