"""Upscaling in tiles: exact seams, every image mode, the tile plans."""

import itertools

import keras
import numpy as np
import pytest
from PIL import Image

from data.images import decode_image
from data.matlab_functions import imresize
from inference import tiling
from inference.split import split_generator
from models.generator import build_generator
from models.subpixel import PhasePReLU


@pytest.fixture(scope="module")
def full():
    keras.utils.set_random_seed(2)
    return build_generator()


def noise(shape, dtype=np.uint8, seed=0):
    """Noise: the hardest content for tiling, since every pixel is an edge."""
    top = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, top, shape, endpoint=True, dtype=dtype)


def max_diff(a, b):
    return int(np.abs(a.astype(np.int64) - b.astype(np.int64)).max())


# Receptive field of build_generator(blocks=1) in LR pixels: head 4, body 2 + 1, tail 3.
TINY_FIELD = 10


@pytest.mark.parametrize("shape", [(37, 53), (1, 1), (1, 3), (2, 1)])
def test_output_is_exactly_four_times_any_input_size(tiny, shape):
    out = tiling.upscale(noise((*shape, 3)), tiny)
    assert out.shape == (4 * shape[0], 4 * shape[1], 3)
    assert out.dtype == np.uint8


def test_tiled_odd_size_keeps_the_exact_output_size(tiny):
    out = tiling.upscale(noise((37, 53, 3)), tiny, tile=16)
    assert out.shape == (148, 212, 3)


@pytest.mark.parametrize("tile", [8, 13, 36])
def test_tiles_equal_the_untiled_result(tiny, tile):
    image = noise((37, 53, 3), seed=3)
    untiled = tiling.upscale(image, tiny, tile=0)
    for pad in (TINY_FIELD, tiling.DEFAULT_TILE_PAD):
        assert max_diff(tiling.upscale(image, tiny, tile=tile, tile_pad=pad), untiled) <= 1


def test_untiled_result_is_the_generators_own(tiny):
    """upscale runs the faster tail of models.subpixel: it must give the generator's output."""
    from models.subpixel import PhaseGroups

    assert isinstance(split_generator(tiny, 4).whole.chain[-1], PhaseGroups)
    image = noise((37, 53, 3), seed=6)
    direct = tiny.predict_on_batch(image[None].astype("float32") / 255.0)[0]
    expected = np.clip(np.rint((np.asarray(direct) + 1.0) * 127.5), 0, 255)
    assert max_diff(tiling.upscale(image, tiny, tile=0), expected) <= 1


def test_an_upsampling_generator_runs_in_phases_tiled_and_untiled_as_its_own():
    """The nearest-neighbour tail runs as models.subpixel's PhaseGroups: same output, no seams."""
    from models.subpixel import PhaseGroups

    keras.utils.set_random_seed(3)
    generator = build_generator(blocks=1, upsample="upsampling")
    assert isinstance(split_generator(generator, 4).whole.chain[-1], PhaseGroups)
    image = noise((29, 41, 3), seed=7)
    direct = generator.predict_on_batch(image[None].astype("float32") / 255.0)[0]
    expected = np.clip(np.rint((np.asarray(direct) + 1.0) * 127.5), 0, 255)
    untiled = tiling.upscale(image, generator, tile=0)
    assert max_diff(untiled, expected) <= 1
    assert max_diff(tiling.upscale(image, generator, tile=11), untiled) <= 1


def test_too_little_context_shows_seams(tiny):
    """The control for the test above: it would see a seam if there were one."""
    image = noise((37, 53, 3), seed=3)
    untiled = tiling.upscale(image, tiny, tile=0)
    assert max_diff(tiling.upscale(image, tiny, tile=8, tile_pad=0), untiled) > 1


def test_body_windows_and_one_stage_tiling_equal_the_untiled_result(tiny, monkeypatch):
    image = noise((30, 61, 3), seed=4)
    untiled = tiling.upscale(image, tiny, tile=0)
    # A small body budget: two body windows, each feeding several tail tiles.
    monkeypatch.setattr(tiling, "BODY_BATCH_PIXELS", 1800)
    plan = tiling._two_stage_plan(30, 61, 12, TINY_FIELD, 3)
    assert len(plan) == 2 and all(len(tiles) > 1 for _, _, tiles in plan)
    assert max_diff(tiling.upscale(image, tiny, tile=12, tile_pad=TINY_FIELD), untiled) <= 1
    # A generator that cannot be split is tiled whole.
    monkeypatch.setattr(tiling, "split_generator", lambda generator, scale: None)
    assert max_diff(tiling.upscale(image, tiny, tile=12, tile_pad=TINY_FIELD), untiled) <= 1


# bfloat16 tiles equal the untiled bfloat16 run exactly on AVX-512 and AMX. Measured on the
# shipped 16-block generator (a Set14 photo, 96x96 and 128x180, tiles of 24-100, body windows
# of 4 and 20, with oneDNN on AMX and on AVX-512 without native bf16): not one pixel differs,
# each output pixel being the same sums in the same order whatever its window. Only one-stage
# tiles, which run the unfused generator, differ from the fused untiled run: by 1 level on
# 11% of the pixels there (0.004% in float32), the same function rounded differently.
# Where oneDNN emulates bf16 and fp16 on AVX2 alone (an AMD EPYC, AVX2), a few values in
# 100,000 differ by one level.
def assert_nearly_equal(tiled, untiled):
    assert max_diff(tiled, untiled) <= 1
    assert np.mean(tiled != untiled) < 1e-3


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_mixed_precision_tiles_equal_the_untiled_result_of_that_precision(
    tiny, monkeypatch, precision
):
    from models.precision import in_precision

    mixed = in_precision(tiny, precision)
    # The first upsampling stage's PReLU runs as a select (models.subpixel.as_select).
    assert any(isinstance(layer, PhasePReLU) for layer in split_generator(mixed, 4).whole.chain)
    image = noise((30, 61, 3), seed=3)
    untiled = tiling.upscale(image, mixed, tile=0)
    for tile, pad in ((8, TINY_FIELD), (13, tiling.DEFAULT_TILE_PAD)):
        tiled = tiling.upscale(image, mixed, tile=tile, tile_pad=pad)
        assert_nearly_equal(tiled, untiled)
    monkeypatch.setattr(tiling, "BODY_BATCH_PIXELS", 1800)  # two body windows, as above
    assert_nearly_equal(tiling.upscale(image, mixed, tile=12, tile_pad=TINY_FIELD), untiled)
    monkeypatch.setattr(tiling, "split_generator", lambda generator, scale: None)
    assert max_diff(tiling.upscale(image, mixed, tile=12, tile_pad=TINY_FIELD), untiled) <= 1


def check_plan(height, width, tile, pad, tail_pad, one_shape=True):
    plan = tiling._two_stage_plan(height, width, tile, pad, tail_pad)
    covered = np.zeros((height, width), dtype=int)
    body_shapes, tail_shapes = set(), set()
    for features, body, tiles in plan:
        body_shapes.add(tuple(b - a for _, _, a, b in body))
        for (low, high), (first, last, start, end), length in zip(
            features, body, (height, width), strict=True
        ):
            # The body core has its context, and the features kept are computed exactly.
            assert start <= max(first - pad, 0) and end >= min(last + pad, length)
            assert low >= (start + pad - tail_pad if start > 0 else 0)
            assert high <= (end - pad + tail_pad if end < length else length)
        for tile_spans in tiles:
            tail_shapes.add(tuple(b - a for _, _, a, b in tile_spans))
            for (first, last, start, end), (low, high), length in zip(
                tile_spans, features, (height, width), strict=True
            ):
                assert low <= start and end <= high
                assert start <= max(first - tail_pad, 0) and end >= min(last + tail_pad, length)
            (top, bottom, _, _), (left, right, _, _) = tile_spans
            covered[top:bottom, left:right] += 1
    assert (covered == 1).all()
    # One window shape per stage: each new shape would cost a trace.
    assert len(body_shapes) == 1
    assert len(tail_shapes) == 1 or not one_shape
    return plan


@pytest.mark.parametrize(
    ("height", "width", "tile", "budget"),
    [(37, 53, 8, 900), (300, 41, 24, 4000), (1000, 1000, 200, None), (2000, 3000, 200, None)],
)
def test_two_stage_plan_gives_every_tile_its_context(monkeypatch, height, width, tile, budget):
    if budget:
        monkeypatch.setattr(tiling, "BODY_BATCH_PIXELS", budget)
    check_plan(height, width, tile, 10 if budget else 40, 3)


def test_two_stage_plan_on_random_shapes(monkeypatch):
    rng = np.random.default_rng(0)
    for _ in range(300):
        pad = int(rng.integers(0, 20))
        monkeypatch.setattr(tiling, "BODY_BATCH_PIXELS", int(rng.integers(1, 60) ** 2))
        height, width = (int(n) for n in rng.integers(1, 120, 2))
        check_plan(height, width, int(rng.integers(1, 40)), pad, min(pad, 3), one_shape=False)


def test_body_windows_cost_little_context_on_a_large_image():
    plan = check_plan(1000, 1000, tiling.AUTO_TILE, tiling.DEFAULT_TILE_PAD, 3)
    body = sum((r[3] - r[2]) * (c[3] - c[2]) for _, (r, c), _ in plan)
    tail = sum((r[3] - r[2]) * (c[3] - c[2]) for _, _, tiles in plan for r, c in tiles)
    assert body / 1e6 < 1.1 and tail / 1e6 < 1.1


@pytest.mark.slow
def test_full_generator_tiles_equal_the_untiled_result(full, monkeypatch):
    image = decode_image_like_photo((64, 64))
    untiled = tiling.upscale(image, full, tile=0)
    assert max_diff(tiling.upscale(image, full, tile=24), untiled) <= 1
    # The body tiled as well: an image wider than one body window with the default context.
    wide = decode_image_like_photo((40, 150))
    monkeypatch.setattr(tiling, "BODY_BATCH_PIXELS", 40 * 110)
    plan = tiling._two_stage_plan(40, 150, 24, tiling.DEFAULT_TILE_PAD, 3)
    assert len(plan) > 1
    untiled = tiling.upscale(wide, full, tile=0)
    assert max_diff(tiling.upscale(wide, full, tile=24), untiled) <= 1


@pytest.mark.slow
def test_the_shipped_generator_tiles_within_a_grey_level_in_bfloat16(monkeypatch):
    """Equal to the bit on CPUs with native bf16 (AVX512_BF16); where oneDNN emulates it
    (AVX2 only), a handful of values differ by one level (6 of 288,000 on an AMD EPYC, AVX2)."""
    from inference.weights import DEFAULT_WEIGHTS, load_generator

    generator = load_generator(DEFAULT_WEIGHTS["srresnet"], "bfloat16")
    image = decode_image_like_photo((40, 150))
    untiled = tiling.upscale(image, generator, tile=0)
    for body_pixels in (tiling.BODY_BATCH_PIXELS, 40 * 110):  # one, then two body windows
        monkeypatch.setattr(tiling, "BODY_BATCH_PIXELS", body_pixels)
        assert_nearly_equal(tiling.upscale(image, generator, tile=24), untiled)


@pytest.mark.slow
@pytest.mark.parametrize("weights", ["srresnet", "srgan"])
def test_the_shipped_generators_in_bfloat16_score_set5_within_a_hundredth_of_a_db(
    weights, shared_datasets
):
    """What ``--precision auto`` may cost on a CPU with bf16 (the faster bf16 tail included):
    Set5 PSNR-Y within 0.01 dB of float32 (measured on an AMX Xeon: -0.004 dB for srresnet_x4,
    -0.008 for srgan_x4)."""
    from evaluation.benchmark import evaluate, load_method, resolve_datasets
    from inference.weights import DEFAULT_WEIGHTS

    path = DEFAULT_WEIGHTS[weights]
    methods = [load_method(path, "f32", "float32"), load_method(path, "bf16", "bfloat16")]
    scored = evaluate(methods, resolve_datasets(["Set5"], shared_datasets), progress=False)
    exact, low = (scored.mean(method, "Set5", "psnr_y") for method in scored.methods)
    assert exact > 30 and low != exact
    assert abs(low - exact) < 0.01


def decode_image_like_photo(shape):
    """Smooth shapes plus texture: what photos look like, unlike pure noise."""
    y, x = np.mgrid[: shape[0], : shape[1]]
    base = 128 + 60 * np.sin(x / 5.0)[..., None] * np.cos(y / 7.0)[..., None]
    pixels = base + noise((*shape, 3)).astype(float) * 0.25 - 32
    return np.clip(pixels, 0, 255).astype(np.uint8)


def test_grey_stays_grey_as_the_luma_of_the_colour_result(tiny):
    grey = noise((9, 11), seed=5)
    out = tiling.upscale(grey, tiny)
    assert out.shape == (36, 44) and out.dtype == np.uint8
    colour = tiling.upscale(np.repeat(grey[:, :, None], 3, axis=2), tiny).astype(float)
    luma = colour @ np.array([0.299, 0.587, 0.114])
    assert np.abs(out - luma).max() <= 1


def test_rgba_keeps_a_bicubic_alpha_and_the_colour_result(tiny):
    rgba = noise((9, 11, 4), seed=6)
    out = tiling.upscale(rgba, tiny)
    assert out.shape == (36, 44, 4)
    np.testing.assert_array_equal(out[:, :, 3], imresize(rgba[:, :, 3], output_shape=(36, 44)))
    np.testing.assert_array_equal(out[:, :, :3], tiling.upscale(rgba[:, :, :3], tiny))


def test_sixteen_bit_stays_sixteen_bit_with_its_precision(tiny):
    image = noise((9, 11, 3), dtype=np.uint16, seed=7)
    out = tiling.upscale(image, tiny)
    assert out.dtype == np.uint16 and out.shape == (36, 44, 3)
    assert (out % 257 != 0).mean() > 0.9  # not 8-bit levels scaled up
    # Less than one 8-bit step of difference in the input still reaches the output.
    nudged = np.clip(image.astype(int) + 100, 0, 65535).astype(np.uint16)
    assert max_diff(tiling.upscale(nudged, tiny), out) > 0
    # And it is the same picture as the 8-bit one, within a few 8-bit levels.
    eight = ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    assert np.abs(out / 257.0 - tiling.upscale(eight, tiny)).max() <= 3


def test_grey_sixteen_bit_stays_grey_sixteen_bit(tiny):
    out = tiling.upscale(noise((5, 6), dtype=np.uint16), tiny)
    assert out.shape == (20, 24) and out.dtype == np.uint16


def test_palette_png_comes_out_rgb(tiny, tmp_path):
    path = tmp_path / "palette.png"
    Image.fromarray(noise((10, 12, 3), seed=8)).convert("P", palette=Image.ADAPTIVE).save(path)
    pixels = decode_image(path)
    assert pixels.shape == (10, 12, 3)
    out = tiling.upscale(pixels, tiny)
    assert out.shape == (40, 48, 3) and out.dtype == np.uint8


def test_progress_bar_over_tiles(tiny, capsys):
    out = tiling.upscale(noise((20, 20, 3)), tiny, tile=8, progress=True)
    assert out.shape == (80, 80, 3)


def test_auto_tile_whole_when_small_tiled_when_large():
    assert tiling.auto_tile(256, 256) == 0
    assert tiling.auto_tile(37, 53) == 0
    assert tiling.auto_tile(1000, 1000) == tiling.AUTO_TILE


def test_rejects_what_decode_image_never_returns(tiny):
    with pytest.raises(ValueError, match="uint8 or uint16"):
        tiling.upscale(np.zeros((4, 4, 3), np.float32), tiny)
    with pytest.raises(ValueError, match="HxW"):
        tiling.upscale(np.zeros((4, 4, 2), np.uint8), tiny)


def test_shape_combinations_of_spans_cover_the_axis():
    for length, tile, pad in itertools.product((1, 7, 64, 101), (1, 5, 24, 200), (0, 3, 40)):
        spans = tiling._one_stage_axis(length, tile, pad)
        assert [first for first, *_ in spans] == sorted({first for first, *_ in spans})
        assert spans[0][0] == 0 and spans[-1][1] == length
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
        assert len({end - start for *_, start, end in spans}) == 1
        for first, last, start, end in spans:
            assert 0 <= start <= max(first - pad, 0) and min(last + pad, length) <= end <= length


def test_self_ensemble_is_the_mean_of_the_eight_orientations_answers(tiny):
    from inference.self_ensemble import TRANSFORMS, transform, untransform

    image = noise((13, 21, 3), seed=5)
    answers = [
        untransform(tiling.upscale(np.ascontiguousarray(transform(image, t, m)), tiny), t, m)
        for t, m in TRANSFORMS
    ]
    expected = np.mean(np.stack(answers).astype(np.float64), axis=0)
    ensembled = tiling.upscale(image, tiny, self_ensemble=True)
    assert ensembled.shape == (52, 84, 3) and ensembled.dtype == np.uint8
    # Each answer above was rounded to a level before averaging: within one level of the mean.
    assert np.abs(ensembled - expected).max() <= 1.0
    assert max_diff(ensembled, answers[0]) > 1  # an untrained network is far from equivariant


def test_self_ensemble_tiles_like_the_untiled_run_and_keeps_grey(tiny):
    image = noise((37, 29, 3), seed=6)
    untiled = tiling.upscale(image, tiny, tile=0, self_ensemble=True)
    assert max_diff(tiling.upscale(image, tiny, tile=12, self_ensemble=True), untiled) <= 1
    grey = tiling.upscale(image[:, :, 0], tiny, self_ensemble=True)
    assert grey.shape == (148, 116) and grey.dtype == np.uint8


def test_a_progress_function_counts_every_tile_once(tiny):
    def counts(**options):
        seen = []
        tiling.upscale(
            noise((20, 30, 3)), tiny, tile=12, progress=lambda *a: seen.append(a), **options
        )
        done, total = zip(*seen, strict=True)
        assert list(done) == sorted(done) and done[-1] == total[-1]
        assert len(set(total)) == 1
        return total[0]

    tiles = counts()
    assert tiles > 1
    # The self-ensemble's 8 views are one count, not 8 bars that each start again at 0.
    assert counts(self_ensemble=True) == 8 * tiles
