import numpy as np
import pytest

from data.images import list_images, read_rgb, write_image
from data.pairs import (
    PairSource,
    Prefetcher,
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
