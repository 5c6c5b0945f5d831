"""data/resolve.py: layouts, splits and the errors a user sees."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from PIL import Image

from data import resolve
from data.catalog import SAMPLE_TRAIN, SAMPLE_VALIDATION
from data.resolve import resolve_benchmark, resolve_training_set
from runtime.errors import UserError


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (6, 4), (10, 120, 230)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png_bytes()


def _fill(folder: Path, names) -> list[Path]:
    """Real PNG files; all but the first are hard links to it, which costs a twentieth of
    writing thousands of files on a busy disk."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / name for name in names]
    for path in paths:
        if path is paths[0]:
            path.write_bytes(PNG)
            continue
        try:
            os.link(paths[0], path)
        except OSError:
            path.write_bytes(PNG)
    return sorted(paths)


def _div2k(root: Path, *, train=800, valid=100, lr=True) -> None:
    _fill(root / "DIV2K" / "DIV2K_train_HR", [f"{i:04d}.png" for i in range(1, train + 1)])
    _fill(root / "DIV2K" / "DIV2K_valid_HR", [f"{i:04d}.png" for i in range(801, 801 + valid)])
    if lr:
        folder = root / "DIV2K" / "DIV2K_valid_LR_bicubic" / "X4"
        _fill(folder, [f"{i:04d}x4.png" for i in range(801, 801 + valid)])


def _flickr2k(root: Path, count=2650) -> None:
    _fill(root / "Flickr2K" / "Flickr2K_HR", [f"{i:06d}.png" for i in range(1, count + 1)])


# --- training sets -------------------------------------------------------------------------


def test_sample_is_scikit_image_photos_with_the_documented_split():
    sample = resolve_training_set("sample")
    assert [p.name for p in sample.train] == list(SAMPLE_TRAIN)
    assert [p.name for p in sample.validation] == list(SAMPLE_VALIDATION)
    assert all(p.is_file() for p in sample.train + sample.validation)
    with Image.open(sample.train[0]) as image:
        assert image.mode == "RGB" and min(image.size) >= 256
    assert resolve_training_set("SAMPLE", validation_count=1).validation == sample.validation[:1]
    with pytest.raises(UserError, match="whole number >= 1, not 0"):
        resolve_training_set("sample", validation_count=0)


def test_sample_missing_from_the_install_is_a_clear_error(monkeypatch, tmp_path):
    _fill(tmp_path, ["astronaut.png"])
    monkeypatch.setattr(resolve, "sample_folder", lambda: tmp_path)
    with pytest.raises(UserError, match=r"lacks hubble_deep_field.jpg, .*coffee.png.*reinstall"):
        resolve_training_set("sample")


def test_folder_holds_out_every_tenth_image(tmp_path):
    images = _fill(tmp_path / "photos", [f"p{i:02d}.png" for i in range(25)])
    (tmp_path / "photos" / "notes.txt").write_text("not an image")
    (tmp_path / "photos" / ".hidden.png").write_bytes(PNG)
    split = resolve_training_set(str(tmp_path / "photos"))
    assert split.name == "photos"
    assert split.validation == [images[9], images[19]]
    assert split.train == [p for p in images if p not in split.validation]
    assert resolve_training_set(tmp_path / "photos") == split  # a Path works, same split
    spread = resolve_training_set(str(tmp_path / "photos"), validation_count=5)
    assert len(spread.validation) == 5 and len(spread.train) == 20
    assert spread.validation[-1] == images[-1] and spread.validation[0] == images[4]


def test_small_folders_still_validate(tmp_path, monkeypatch):
    three = _fill(tmp_path / "three", ["a.png", "b.png", "c.png"])
    split = resolve_training_set(str(tmp_path / "three"))
    assert split.train == three[:2] and split.validation == three[2:]
    one = _fill(tmp_path / "one", ["only.png"])
    monkeypatch.chdir(tmp_path)
    single = resolve_training_set("one")  # relative, no separator: exists as a folder
    assert single.train == single.validation
    assert [p.resolve() for p in single.train] == [p.resolve() for p in one]
    assert single.train[0].is_absolute()  # still right if the caller changes directory


def test_train_and_valid_subfolders_are_used_as_given(tmp_path):
    train = _fill(tmp_path / "set" / "train", ["a.png", "b.png"])
    valid = _fill(tmp_path / "set" / "val", ["c.png"])
    split = resolve_training_set(str(tmp_path / "set"))
    assert split.train == train and split.validation == valid


def test_folder_errors_name_the_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=re.escape(f"{tmp_path / 'empty'} holds no images")):
        resolve_training_set(str(tmp_path / "empty"))
    with pytest.raises(UserError, match=re.escape(f"{tmp_path / 'missing'} does not exist")):
        resolve_training_set(str(tmp_path / "missing"))
    with pytest.raises(UserError) as caught:
        resolve_training_set("imagenet")
    message = str(caught.value)
    assert "'imagenet'" in message and "folder" in message
    for name in ("sample", "DIV2K", "Flickr2K", "DF2K"):
        assert name in message
    with pytest.raises(UserError, match="Set5 is a benchmark, not a training set"):
        resolve_training_set("set5")


def test_missing_div2k_says_how_to_download_it(tmp_path):
    with pytest.raises(UserError) as caught:
        resolve_training_set("div2k", tmp_path)
    message = str(caught.value)
    assert f"run: python -m data.download DIV2K --data-dir {tmp_path}" in message
    assert "4.3 GB" in message and "\n" not in message
    with pytest.raises(UserError, match=r"python -m data\.download DF2K"):
        resolve_training_set("DF2K", tmp_path)


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Path:
    """DIV2K and Flickr2K at their real image counts, written once for the module (3,550
    files); tests link to its folders rather than writing their own."""
    root = tmp_path_factory.mktemp("full")
    _div2k(root)
    _flickr2k(root)
    return root


def _link(root: Path, full: Path, *relatives: str) -> Path:
    for relative in relatives:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).symlink_to(full / relative, target_is_directory=True)
    return root


def test_div2k_flickr2k_df2k_from_their_folders(tmp_path, full):
    root = _link(tmp_path, full, "DIV2K")
    div2k = resolve_training_set("DIV2K", root)
    assert len(div2k.train) == 800 and len(div2k.validation) == 100
    assert div2k.validation[0].name == "0801.png"
    assert len(resolve_training_set("DIV2K", root, validation_count=10).validation) == 10
    with pytest.raises(UserError, match=r"python -m data\.download DF2K"):
        resolve_training_set("DF2K", root)  # Flickr2K is missing
    _link(root, full, "Flickr2K")
    df2k = resolve_training_set("df2k", root)
    assert len(df2k.train) == 3450 and df2k.validation == div2k.validation
    flickr = resolve_training_set("Flickr2K", root)
    assert len(flickr.train) == 2650 and flickr.validation == div2k.validation


def test_flickr2k_alone_holds_out_its_last_fifty(tmp_path, full):
    flickr = resolve_training_set("Flickr2K", _link(tmp_path, full, "Flickr2K"))
    assert len(flickr.train) == 2600 and len(flickr.validation) == 50
    assert flickr.validation[-1].name == "002650.png"
    assert flickr.train[-1].name == "002600.png"


def test_partial_copy_is_refused(tmp_path, full):
    root = _link(tmp_path, full, "DIV2K/DIV2K_train_HR")
    _fill(root / "DIV2K" / "DIV2K_valid_HR", [f"{i:04d}.png" for i in range(801, 900)])
    with pytest.raises(UserError, match="holds 99 images, DIV2K has 100"):
        resolve_training_set("DIV2K", root)


def test_div2k_unpacked_by_hand_without_its_wrapper_folder(tmp_path, full):
    for folder in ("DIV2K_train_HR", "DIV2K_valid_HR"):
        (tmp_path / folder).symlink_to(full / "DIV2K" / folder, target_is_directory=True)
    assert len(resolve_training_set("DIV2K", tmp_path).train) == 800


# --- benchmarks ----------------------------------------------------------------------------


@pytest.mark.parametrize("name,count", [("Set5", 5), ("set14", 14)])
def test_shared_benchmarks_have_their_official_lr(shared_datasets, name, count):
    images = resolve_benchmark(name, shared_datasets)
    assert len(images) == count
    for image in images:
        assert image.hr.is_file() and image.lr is not None and image.lr.is_file()
        assert image.lr.name == f"{image.name}x4.png"
        with Image.open(image.hr) as hr, Image.open(image.lr) as lr:
            assert lr.size == (hr.size[0] // 4, hr.size[1] // 4)
    # The same folder given as a path resolves the same way.
    assert resolve_benchmark(str(shared_datasets / images[0].hr.parts[-3])) == images


def test_edsr_archive_layout_and_the_b100_name(tmp_path):
    hr = _fill(tmp_path / "benchmark" / "B100" / "HR", [f"{i}.png" for i in range(100)])
    _fill(tmp_path / "benchmark" / "B100" / "LR_bicubic" / "X4", ["0x4.png", "1x4.png"])
    images = resolve_benchmark("BSD100", tmp_path)
    assert [i.hr for i in images] == hr
    assert images[0].lr == tmp_path / "benchmark" / "B100" / "LR_bicubic" / "X4" / "0x4.png"
    assert sum(i.lr is None for i in images) == 98  # no official file: the caller makes one
    assert resolve_benchmark("b100", tmp_path) == images


def test_the_official_lr_is_the_one_of_the_scale_asked_for(tmp_path):
    """EDSR's archive has X2, X3 and X4 beside HR (``babyx2.png``); nobody ships X8."""
    names = ["baby", "bird", "butterfly", "head", "woman"]
    hr = _fill(tmp_path / "benchmark" / "Set5" / "HR", [f"{name}.png" for name in names])
    _fill(tmp_path / "benchmark" / "Set5" / "LR_bicubic" / "X2", ["babyx2.png"])
    _fill(tmp_path / "benchmark" / "Set5" / "LR_bicubic" / "X4", [f"{n}x4.png" for n in names])
    at = {scale: resolve_benchmark("Set5", tmp_path, scale=scale) for scale in (2, 4, 8)}
    assert all([i.hr for i in images] == hr for images in at.values())
    assert [i.lr.name if i.lr else None for i in at[2]] == ["babyx2.png"] + [None] * 4
    assert [i.lr.name for i in at[4]] == [f"{name}x4.png" for name in names]
    assert [i.lr for i in at[8]] == [None] * 5  # the caller makes MATLAB-bicubic LR
    assert resolve_benchmark("Set5", tmp_path) == at[4]  # x4 unless asked
    mine = resolve_benchmark(str(tmp_path / "benchmark" / "Set5"), scale=2)  # a folder too
    assert [i.lr for i in mine] == [i.lr for i in at[2]]
    with pytest.raises(ValueError, match="scale must be one of 2, 4, 8"):
        resolve_benchmark("Set5", tmp_path, scale=3)


def test_div2k_at_x2_reads_its_x2_folder(tmp_path, full):
    _link(tmp_path, full, "DIV2K/DIV2K_valid_HR")
    _fill(tmp_path / "DIV2K" / "DIV2K_valid_LR_bicubic" / "X2", ["0801x2.png"])
    images = resolve_benchmark("DIV2K", tmp_path, scale=2)
    assert images[0].lr.name == "0801x2.png" and images[1].lr is None


def test_div2k_benchmark_is_the_validation_set_with_official_lr(full):
    images = resolve_benchmark("DIV2K", full)
    assert len(images) == 100 and images[0].name == "0801"
    assert images[0].lr.name == "0801x4.png"


def test_benchmark_folders_and_errors(tmp_path):
    plain = _fill(tmp_path / "mine", ["x.png", "y.jpg"])
    assert [(i.hr, i.lr) for i in resolve_benchmark(str(tmp_path / "mine"))] == [
        (plain[0], None),
        (plain[1], None),
    ]
    with pytest.raises(UserError, match=r"Urban100 is not downloaded.*data.download Urban100"):
        resolve_benchmark("Urban100", tmp_path)
    with pytest.raises(UserError, match=r"unknown benchmark 'Set6'.*Set5, Set14.*folder"):
        resolve_benchmark("Set6", tmp_path)
    with pytest.raises(UserError, match="DF2K has no held-out test images"):
        resolve_benchmark("DF2K", tmp_path)
    (tmp_path / "none").mkdir()
    with pytest.raises(UserError, match="holds no images"):
        resolve_benchmark(str(tmp_path / "none"))
    with pytest.raises(UserError, match="does not exist"):
        resolve_benchmark(str(tmp_path / "gone"))


def test_several_folders_joined_by_commas_train_together(tmp_path):
    from data.resolve import resolve_training_set

    first, second = tmp_path / "a", tmp_path / "b"
    for folder, count in ((first, 10), (second, 3)):
        folder.mkdir()
        for index in range(count):
            (folder / f"{folder.name}{index}.png").write_bytes(b"x")
    single_a = resolve_training_set(str(first))
    single_b = resolve_training_set(str(second))
    both = resolve_training_set(f"{first},{second}")
    assert both.train == single_a.train + single_b.train
    assert both.validation == single_a.validation + single_b.validation
    assert both.name == f"{single_a.name}+{single_b.name}"
