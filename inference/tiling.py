"""Super-resolve whole images of any size, mode and bit depth with a trained generator.

The generator sees LR RGB float32 in [0, 1] and answers RGB in [-1, 1] as many times larger as
its own description says (``models.description``: x2, x4 or x8; ``data.conventions`` converts
both ways, 16-bit levels included). Users have grey, RGBA, palette and 16-bit files,
and images far larger than memory allows in one pass, so this module converts every mode to
what the network knows and back, and cuts large images into overlapping tiles whose seams
cannot be told from an untiled run.

Tiling runs in two stages when the generator allows it (SRResNet does). Per LR pixel, the x4
upsampling tail, whose tensors have 256 maps at LR or 64 at 2x, needs about 4.4 KB of memory,
the residual body 1.3 KB (measured with oneDNN, one op at a time as ``runtime.cli`` runs the
tools), yet the body holds nearly all of the receptive field (37 of 40 pixels). So the body
runs on large windows, where 37 pixels of context are cheap, and the tail on smaller tiles
that need only 3. For a 1000x1000 image, one-stage tiling with 40 pixels of context around
200-pixel tiles would compute 1.96 times the image; two stages compute 1.08 times it in the
body and 1.07 times in the tail, and the result is still exact.

Both stages, and untiled runs, use the fast exact forms of ``inference.split``. Where the
generator cannot be split, tiles go through the whole generator (one stage).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from data.conventions import luma, to_levels, to_model_input
from inference.split import split_generator

# LR pixels of real context around each tile, as the whole generator sees it.
#
# The 16-block generator's receptive field has a radius of 40 LR pixels at x2, x4 and x8
# alike: its 9x9 head conv (4), the 33 3x3 convs of the body (33), then 3 for the tail.
# Counted back from the output, a x2 step turns r pixels of reach after it into ceil(r / 2)
# before it: the 9x9 output conv's 4 become 2, the 3x3 conv before that step adds 1, and
# every further stage (3x3 conv, x2 step) maps 3 to 2 + 1 = 3 again, so the tail needs 3 LR
# pixels whatever its number of stages (UpSampling2D tails, whose conv follows the step:
# 3 at x2, 2 at x4 and x8; ``inference.split`` counts the generator at hand). With 40
# pixels a tile's centre sees exactly what the untiled network sees, for any weights, so
# tiled == untiled up to float rounding (never more than 1 grey level). Measured with random
# weights (benchmarks/upscale_benchmark.py --pad-sweep: 128x128 photo, 32-pixel tiles, two
# seeds) the far part of the field fades fast: seams of 32-37 grey levels at 8 pixels, 7-8
# at 12, 1-2 at 16, within 1 from 20 on, none at 40. Trained weights need not fade as fast,
# and in two-stage tiling the full 40 costs little (only the cheap body pays it), so the
# default is the exact one rather than the measured 20.
DEFAULT_TILE_PAD = 40

# ``tile=None``: images up to AUTO_WHOLE_PIXELS LR pixels go through whole (the fastest way,
# at about 1.2-1.3 GB peak for 256x256), larger ones in tail tiles of at most AUTO_TILE pixels.
# The peak of a large image is the body's windows (below) plus TensorFlow's own 0.7 GB; tail
# tiles add to it as far as the allocator cannot reuse what a body window freed. Measured on
# 1000x1000 with oneDNN, one op at a time as upscale.py runs, over 6 images in a row: tiles of
# 200 peak at 1.77 GB and compute 1.07 times the image in the tail; of 250, 1.90-1.95 GB and
# 1.05 times (300 gives the same tiles in the 500-row body windows). 250 would be about 1%
# faster, less than this machine's noise, so 200 keeps the margin under 2 GB. In a process
# that lets TensorFlow run ops side by side (its default, say in a notebook), add 0.1-0.15 GB.
AUTO_WHOLE_PIXELS = 256 * 256
AUTO_TILE = 200
# LR pixels (context included) per predict call of the upsampling tail, or of the whole
# generator when it cannot be split: at most what an untiled AUTO_WHOLE_PIXELS image costs.
BATCH_PIXELS = 256 * 256
# The same for the body: 0.88 GB at 1.34 KB per pixel, and large windows keep its 37 pixels
# of context a small part of what it computes (1.08 times a 1000x1000 image in two windows).
# Smaller windows (400,000 or 300,000 pixels) lower the 1000x1000 peak to 1.6 or 1.3 GB but
# compute 16-26% more in the body, and 10% more in the tail, whose tiles must fit in them.
BODY_BATCH_PIXELS = 10 * BATCH_PIXELS


def output_name_suffix(generator):
    """``_x4``: what upscale.py and the web page add to an output's name, the generator's scale."""
    from models.description import describe  # Keras: imported once the tools have set it up

    return f"_x{describe(generator).scale}"


def auto_tile(height, width):
    """The tile size ``tile=None`` stands for: 0 (whole image) when it is small enough."""
    if height * width <= AUTO_WHOLE_PIXELS:
        return 0
    return AUTO_TILE


def _check_image(image):
    pixels = np.asarray(image)
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"image must be uint8 or uint16, not {pixels.dtype}")
    if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] in (1, 3, 4))):
        raise ValueError(f"image must be HxW, HxWx3 or HxWx4, not {pixels.shape}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ValueError(f"image must not be empty, got {pixels.shape}")
    return pixels


def upscale(
    image,
    generator,
    *,
    tile=None,
    tile_pad=DEFAULT_TILE_PAD,
    progress=False,
    self_ensemble=False,
):
    """The image upscaled by the generator's own scale (``models.description``: x4 for the
    shipped ones), in the mode and dtype it came in (what ``decode_image`` returns).

    Grey is super-resolved as RGB (the network only knows colour) and brought back to grey as
    BT.601 luma: the Y channel the SR papers score on, and what any viewer's RGB-to-grey
    conversion gives, so a faint colour cast the network invents does not move the brightness.
    Alpha is not a picture the network was trained on: it is resized with bicubic
    (``data.matlab_functions.imresize``) and kept. 16-bit images go through float without a
    detour via 8 bits, so their extra precision reaches the network and its output.

    ``tile``: None chooses from the image size (``auto_tile``), 0 never tiles, N cuts tiles
    of at most N LR pixels (the memory-hungry upsampling tail's; the body's windows are larger,
    see the module's docstring). Every output pixel gets at least ``tile_pad`` LR pixels of
    real context on each side that is not the image border. With the default pad the result
    equals the untiled one within one grey level (float rounding only; see
    ``DEFAULT_TILE_PAD``), and so does a mixed-precision generator's
    (``inference.weights.load_generator(path, "bfloat16")``) with its own untiled result:
    measured equal to the bit on AVX-512 and AMX, within one level on a few values in 10^5
    where oneDNN has only AVX2. ``progress``: True shows a bar over the tiles
    when there are several; a function is called with (tiles done, tiles in all) after each
    batch of tiles (the web page's progress bar).

    ``self_ensemble``: the mean of the network's answers to the 8 flips and rotations of the
    image (``inference.self_ensemble``), at 8 times the compute; each is tiled as above.
    """
    from data.matlab_functions import imresize
    from models.description import describe

    pixels = _check_image(image)
    scale = describe(generator).scale
    if tile_pad < 0:
        raise ValueError(f"tile_pad must be at least 0, not {tile_pad}")
    squeeze = pixels.ndim == 3 and pixels.shape[2] == 1
    if squeeze:
        pixels = pixels[:, :, 0]
    height, width = pixels.shape[:2]
    maximum = float(np.iinfo(pixels.dtype).max)

    grey = pixels.ndim == 2
    colour = np.repeat(pixels[:, :, None], 3, axis=2) if grey else pixels[:, :, :3]
    lr = to_model_input(colour, maximum)

    has_alpha = pixels.ndim == 3 and pixels.shape[2] == 4
    out_shape = (scale * height, scale * width) + (() if grey else (pixels.shape[2],))
    out = np.empty(out_shape, dtype=pixels.dtype)
    colour_out = out if grey else out[:, :, :3]

    def paste(top, left, sr):
        region = colour_out[top : top + sr.shape[0], left : left + sr.shape[1]]
        region[...] = _quantise(sr, maximum, grey)

    if tile is None:
        tile = auto_tile(height, width)
    run = dict(tile=tile, pad=tile_pad, scale=scale, progress=progress)
    if self_ensemble:
        from inference.self_ensemble import self_ensemble as average_of_transforms

        views_done = []
        if callable(progress):
            # One count over the 8 views (each view has about the same number of tiles).
            def on_view(done, total):
                progress(len(views_done) * total + done, 8 * total)

            run["progress"] = on_view

        def whole(view):
            sr = np.empty((scale * view.shape[0], scale * view.shape[1], 3), np.float32)

            def into(top, left, core):
                sr[top : top + core.shape[0], left : left + core.shape[1]] = core

            _super_resolve(view, generator, **run, sink=into)
            views_done.append(view.shape)
            return sr

        paste(0, 0, average_of_transforms(lr, whole))
    else:
        _super_resolve(lr, generator, **run, sink=paste)
    if has_alpha:
        out[:, :, 3] = imresize(pixels[:, :, 3], output_shape=out_shape[:2])
    return out[:, :, None] if squeeze else out


def _quantise(sr, maximum, grey):
    """Network output in [-1, 1] to integer levels; grey as luma of the unrounded colour."""
    levels = to_levels(sr, maximum)
    if grey:
        levels = luma(levels)
    np.rint(levels, out=levels)
    np.clip(levels, 0.0, maximum, out=levels)
    return levels


def _even(length, tile):
    """The core side that splits ``length`` evenly into tiles of at most ``tile``.

    An even split means no sliver of a last tile costs a whole tile's context.
    """
    return math.ceil(length / math.ceil(length / tile))


def _cores(start, end, size):
    return [(first, min(first + size, end)) for first in range(start, end, size)]


def _slide(core, pad, low, high, size):
    """(core start, core end, window start, window end): a window of ``size`` in [low, high).

    The window holds the core and ``pad`` pixels of context each side, except where the image
    border cuts it: there the conv's own 'same' padding acts, exactly as in an untiled run.
    Every window has the same size (a new input shape costs a new trace of the predict
    function, seconds for the full generator), so windows at the border slide inwards and
    carry more real context on their inner side instead of being cut short.
    """
    first, last = core
    start = min(max(first - pad, low), high - size)
    return first, last, start, start + size


def _one_stage_axis(length, tile, pad):
    core = _even(length, tile)
    size = min(length, core + 2 * pad)
    return [_slide(span, pad, 0, length, size) for span in _cores(0, length, core)]


def _spread(length, count, pad):
    """``count`` windows of one size over [0, length), each core with ``pad`` of context.

    Windows are spread evenly from border to border and cores meet in the middle of each
    overlap, so border cores are longer than inner ones: the least context computed for one
    window shape (even cores with sliding windows would compute ``2 * pad`` more per axis).
    """
    if count <= 1:
        return [(0, length, 0, length)]
    size = _spread_size(length, count, pad)
    starts = [round(i * (length - size) / (count - 1)) for i in range(count)]
    bounds = [0] + [(a + size + b) // 2 for a, b in itertools.pairwise(starts)] + [length]
    return [(bounds[i], bounds[i + 1], start, start + size) for i, start in enumerate(starts)]


def _spread_size(length, count, pad):
    if count <= 1:
        return length
    # The +1 keeps every overlap at least 2 * pad + 1 after the starts are rounded.
    return min(length, math.ceil((length + 2 * pad * (count - 1)) / count) + 1)


def _two_stage_axis(length, count, tile, pad, tail_pad):
    """Along one axis: [(features span, body window, tail tiles)] for ``count`` body windows.

    The features kept from a body window are those it computes exactly: all but ``pad -
    tail_pad`` pixels at each side that is not the image border. Every body core is cut into
    tail cores of one size, so that tail windows, which slide within the features, have one
    shape over the whole image.
    """
    body_pad = pad - tail_pad
    bodies = _spread(length, count, pad)
    zones = [
        (start + body_pad if start > 0 else 0, end - body_pad if end < length else length)
        for _, _, start, end in bodies
    ]
    # Tail windows of one shape must fit the smallest zone. Only body cores of a few pixels
    # (tiny images, huge pads) leave no room for that; their windows are cut to their zone.
    widest = min(tile, min(high - low for low, high in zones) - 2 * tail_pad)
    tail_core = _even(max(last - first for first, last, _, _ in bodies), max(1, widest))
    plan = []
    for body, (low, high) in zip(bodies, zones, strict=True):
        size = min(tail_core + 2 * tail_pad, high - low)
        tails = [_slide(c, tail_pad, low, high, size) for c in _cores(*body[:2], tail_core)]
        plan.append(((low, high), body, tails))
    return plan


def _body_counts(height, width, pad):
    """Body windows along each axis: the fewest pixels computed, each window within
    BODY_BATCH_PIXELS (full-width strips when the image is narrow enough)."""
    # When no window fits (a huge pad), cores as wide as the pad: windows of about 3 pads.
    best = (math.inf, math.ceil(height / max(pad, 1)), math.ceil(width / max(pad, 1)))
    for rows in range(1, height + 1):
        window_height = _spread_size(height, rows, pad)
        room = BODY_BATCH_PIXELS // window_height
        if room >= width:
            columns = 1
        elif room - 2 * pad >= 1:
            columns = math.ceil(width / (room - 2 * pad))
        else:
            continue
        window_width = _spread_size(width, columns, pad)
        cost = rows * window_height * columns * window_width
        if cost < best[0]:
            best = (cost, rows, columns)
        if columns == 1:
            break  # more rows would only add context
    return best[1], best[2]


def _super_resolve(lr, generator, *, tile, pad, scale, progress, sink):
    """Run ``generator`` over ``lr``; ``sink(top, left, sr)`` gets each HR core when done."""
    height, width = lr.shape[:2]
    split = split_generator(generator, scale)
    # Stages are (features region, body window, tiles); no body window: whole-generator tiles.
    if tile <= 0 or (height <= tile and width <= tile):
        if split is not None:
            generator = split.whole
        stages = [(None, None, [((0, height, 0, height), (0, width, 0, width))])]
    elif split is None:
        rows, columns = _one_stage_axis(height, tile, pad), _one_stage_axis(width, tile, pad)
        stages = [(None, None, [(r, c) for r in rows for c in columns])]
    else:
        stages = _two_stage_plan(height, width, tile, pad, min(pad, split.radius))
    count = sum(len(tiles) + (body is not None) for _, body, tiles in stages)

    bar = None
    if callable(progress):
        bar = _Reporter(progress, count)
    elif progress and count > 1:
        from tqdm import tqdm

        bar = tqdm(total=count, unit="tile", leave=False, disable=None)
    try:
        for _, body, tiles in stages:
            if body is None:
                _run(generator, lr, (0, 0), tiles, scale=scale, sink=sink, bar=bar)
                continue
            # The tail tiles read only the features this window computes exactly.
            (_, _, top, bottom), (_, _, left, right) = body
            out = np.asarray(split.body.predict_on_batch(lr[None, top:bottom, left:right]))[0]
            if bar is not None:
                bar.update(1)
            _run(split.tail, out, (top, left), tiles, scale=scale, sink=sink, bar=bar)
            del out
    finally:
        if bar is not None:
            bar.close()


class _Reporter:
    """A progress bar's ``update``/``close`` that calls ``report(done, total)`` instead."""

    def __init__(self, report, total):
        self.report, self.total, self.done = report, total, 0

    def update(self, count):
        self.done += count
        self.report(self.done, self.total)

    def close(self):
        pass


def _two_stage_plan(height, width, tile, pad, tail_pad):
    """[(features region, body window, tail tiles)]: what to run, in order.

    Of the ``pad`` pixels of context, the tail takes what it needs (3 for SRResNet) and the
    body the rest, so every output pixel sees at least the context one-stage tiling would
    give it. Each body window's features are read by its tail tiles and then freed.
    """
    rows, columns = _body_counts(height, width, pad)
    rows = _two_stage_axis(height, rows, tile, pad, tail_pad)
    columns = _two_stage_axis(width, columns, tile, pad, tail_pad)
    return [
        ((row_span, column_span), (row_body, column_body), [(r, c) for r in rows_ for c in cols_])
        for row_span, row_body, rows_ in rows
        for column_span, column_body, cols_ in columns
    ]


def _run(model, image, origin, tiles, *, scale, sink, bar):
    """Predict ``tiles`` of ``image`` (whose pixel 0, 0 is at ``origin``), batched by shape.

    Windows of one shape are stacked up to BATCH_PIXELS per call: fewer calls, and the
    traced predict function is reused.
    """
    groups = {}
    for tile in tiles:
        (_, _, top, bottom), (_, _, left, right) = tile
        groups.setdefault((bottom - top, right - left), []).append(tile)
    oy, ox = origin
    for (window_height, window_width), members in groups.items():
        batch = max(1, BATCH_PIXELS // (window_height * window_width))
        # Equal batches: a smaller last one would be one more input shape to trace.
        batch = math.ceil(len(members) / math.ceil(len(members) / batch))
        for first in range(0, len(members), batch):
            group = members[first : first + batch]
            windows = np.stack(
                [image[r[2] - oy : r[3] - oy, c[2] - ox : c[3] - ox] for r, c in group]
            )
            sr = np.asarray(model.predict_on_batch(windows))
            expected = (len(group), scale * window_height, scale * window_width, 3)
            if sr.shape != expected:
                raise ValueError(
                    f"the generator turned {windows.shape} into {sr.shape}, not {expected}: "
                    f"it is not a 3-channel x{scale} generator"
                )
            for index, ((top, bottom, wy, _), (left, right, wx, _)) in enumerate(group):
                core = sr[
                    index,
                    scale * (top - wy) : scale * (bottom - wy),
                    scale * (left - wx) : scale * (right - wx),
                ]
                sink(scale * top, scale * left, core)
            if bar is not None:
                bar.update(len(group))
