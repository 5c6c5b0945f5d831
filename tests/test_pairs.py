import numpy as np
import pytest

from data import conventions
from data.images import list_images, read_rgb, write_image
from data.pairs import (
    PairSource,
    Prefetcher,
    _cache_key,
    validation_pairs,
)
from runtime.errors import UserError


def test_crop_batches_are_aligned_and_deterministic(photo_folder, tmp_path):
    source = PairSource(
        list_images(photo_folder),
        mode="crop",
        hr_size=32,
        cache_dir=tmp_path / "cache",
        augment=True,
        progress=False,
    )
    lr, hr = source.batch(seed=0, epoch=0, index=1, batch_size=3)
    assert lr.shape == (3, 8, 8, 3) and hr.shape == (3, 32, 32, 3)
    assert lr.dtype == hr.dtype == np.float32
    assert lr.min() >= 0 and lr.max() <= 1 and hr.min() >= -1 and hr.max() <= 1
    # The LR crop is the bicubic downscale of the HR crop's region: their means agree closely.
    lr_mean = lr.mean(axis=(1, 2))
    hr_mean = (hr.mean(axis=(1, 2)) + 1) / 2
    np.testing.assert_allclose(lr_mean, hr_mean, atol=0.02)
    again, _ = source.batch(seed=0, epoch=0, index=1, batch_size=3)
    np.testing.assert_array_equal(lr, again)
    other, _ = source.batch(seed=0, epoch=1, index=1, batch_size=3)
    assert not np.array_equal(lr, other)


def test_cache_is_reused(photo_folder, tmp_path):
    paths = list_images(photo_folder)
    PairSource(paths, mode="crop", hr_size=32, cache_dir=tmp_path, progress=False)
    files = sorted(tmp_path.glob("*.npy"))
    assert len(files) == 2 * len(paths)
    stamps = [f.stat().st_mtime_ns for f in files]
    PairSource(paths, mode="crop", hr_size=32, cache_dir=tmp_path, progress=False)
    assert [f.stat().st_mtime_ns for f in sorted(tmp_path.glob("*.npy"))] == stamps


def test_resize_mode_uses_whole_images(photo_folder, tmp_path):
    source = PairSource(
        list_images(photo_folder), mode="resize", hr_size=64, cache_dir=tmp_path, progress=False
    )
    lr, hr = source.batch(seed=0, epoch=0, index=0, batch_size=2)
    assert lr.shape == (2, 16, 16, 3) and hr.shape == (2, 64, 64, 3)


def test_small_and_broken_images_are_skipped_and_counted(photo_folder, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.jpg").write_text("not an image")
    write_image(folder / "tiny.png", np.zeros((20, 20, 3), np.uint8))
    extra = [folder / "empty.png", folder / "text.jpg", folder / "tiny.png"]
    source = PairSource(
        [*list_images(photo_folder), *extra],
        mode="crop",
        hr_size=64,
        cache_dir=tmp_path / "c",
        progress=False,
    )
    assert len(source) == 6
    assert [item.path for item in source.skipped] == extra
    assert "smaller than the 64x64" in source.skipped[2].reason


def test_no_usable_image_is_one_clear_error(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(UserError, match="no usable training images"):
        PairSource(
            [tmp_path / "bad.png"],
            mode="crop",
            hr_size=32,
            cache_dir=tmp_path / "c",
            progress=False,
        )


def test_validation_pairs_are_centre_crops(photo_folder):
    triples, skipped = validation_pairs(
        list_images(photo_folder)[:2], mode="crop", hr_size=32, crop=48
    )
    assert not skipped and len(triples) == 2
    name, lr, hr = triples[0]
    assert lr.shape == (12, 12, 3) and hr.shape == (48, 48, 3)
    assert lr.dtype == np.uint8 and name == "photo0"
    assert read_rgb(list_images(photo_folder)[0]).shape == (80, 96, 3)


def test_validation_images_too_small_to_score_are_skipped_with_their_size(photo_folder, tmp_path):
    tiny = tmp_path / "tiny.png"
    write_image(tiny, np.full((3, 5, 3), 128, np.uint8))
    triples, skipped = validation_pairs(
        [tiny, list_images(photo_folder)[0]], mode="crop", hr_size=32, crop=48
    )
    assert [name for name, _, _ in triples] == ["photo0"]
    assert skipped[0].path == tiny and "5x3 is too small to validate on" in skipped[0].reason


def test_prefetcher_yields_the_same_batches_in_order(photo_folder, tmp_path):
    source = PairSource(
        list_images(photo_folder), mode="crop", hr_size=32, cache_dir=tmp_path, progress=False
    )
    prefetch = Prefetcher(source, seed=3, batch_size=2, steps_per_epoch=4, start=2, stop=7)
    seen = list(prefetch)
    prefetch.close()
    assert [step for step, _, _ in seen] == [2, 3, 4, 5, 6]
    epoch, index = divmod(5, 4)
    np.testing.assert_array_equal(seen[3][1], source.batch(3, epoch, index, 2)[0])


@pytest.mark.parametrize("scale", [2, 8])
def test_crops_at_other_scales_are_aligned_bicubic_pairs(photo_folder, tmp_path, scale):
    """Each LR crop is a window of the whole image's MATLAB-bicubic downscale by ``scale``, and
    its HR crop the image's pixels at ``scale`` times that window's place."""
    from data.matlab_functions import bicubic_downscale

    paths = list_images(photo_folder)[:2]
    source = PairSource(
        paths, mode="crop", hr_size=32, scale=scale, cache_dir=tmp_path, progress=False
    )
    assert (source.scale, source.lr_size) == (scale, 32 // scale)
    lr, hr = source.batch(seed=0, epoch=0, index=0, batch_size=2)
    assert lr.shape == (2, 32 // scale, 32 // scale, 3) and hr.shape == (2, 32, 32, 3)
    side = 32 // scale
    images = [read_rgb(path) for path in paths]  # 80x96: every scale divides both sides
    for lr_crop, hr_crop in zip(lr, hr, strict=True):
        lr_levels = np.rint(lr_crop * 255).astype(np.uint8)
        hr_levels = np.rint((hr_crop + 1) * 127.5).astype(np.uint8)
        aligned = [
            np.array_equal(image[y * scale : y * scale + 32, x * scale : x * scale + 32], hr_levels)
            for image in images
            for whole in [bicubic_downscale(image, scale)]
            for y in range(whole.shape[0] - side + 1)
            for x in range(whole.shape[1] - side + 1)
            if np.array_equal(whole[y : y + side, x : x + side], lr_levels)
        ]
        assert any(aligned)


def test_an_hr_size_the_scale_does_not_divide_is_refused(photo_folder, tmp_path):
    with pytest.raises(UserError, match="HR size 36 is not a multiple of the scale 8"):
        PairSource(list_images(photo_folder), mode="crop", hr_size=36, scale=8, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="scale must be one of 2, 4, 8"):
        PairSource(list_images(photo_folder), mode="crop", hr_size=36, scale=3, cache_dir=tmp_path)


def test_resized_pairs_of_each_scale_are_cached_apart_and_x4_keeps_its_old_key(photo_folder):
    path = list_images(photo_folder)[0]
    keys = {scale: _cache_key(path, "resize", 64, scale) for scale in (2, 4, 8)}
    assert len(set(keys.values())) == 3
    # The key x4 resized pairs had before there were scales: existing caches stay valid.
    import hashlib
    import os

    stat = os.stat(path)
    text = f"1|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|resize|64"
    assert keys[4] == hashlib.sha1(text.encode()).hexdigest()[:20]
    crops = {scale: _cache_key(path, "crop", 64, scale) for scale in (2, 4, 8)}
    assert len(set(crops.values())) == 3


def test_validation_pairs_at_x8_are_aligned_centre_crops_and_need_room_for_the_shave(
    photo_folder, tmp_path
):
    assert [conventions.min_scored_side(scale) for scale in (2, 4, 8)] == [15, 19, 27]
    triples, skipped = validation_pairs(
        list_images(photo_folder)[:1], mode="crop", hr_size=32, scale=8, crop=48
    )
    assert not skipped
    _, lr, hr = triples[0]
    assert lr.shape == (6, 6, 3) and hr.shape == (48, 48, 3)
    small = tmp_path / "small.png"
    write_image(small, np.full((24, 30, 3), 128, np.uint8))  # enough at x4, not at x8
    assert validation_pairs([small], mode="crop", hr_size=32, scale=4)[0]
    triples, skipped = validation_pairs([small], mode="crop", hr_size=32, scale=8)
    assert not triples and "30x24 is too small to validate on (27 px a side)" in skipped[0].reason
