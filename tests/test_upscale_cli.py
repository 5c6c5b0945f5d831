import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

import inference.weights
import upscale
from data.images import decode_image
from models.generator import build_generator

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    keras.utils.set_random_seed(3)
    path = tmp_path_factory.mktemp("weights") / "g.keras"
    build_generator(blocks=1).save(path)
    return path


@pytest.fixture(autouse=True)
def no_shipped_weights(tmp_path, monkeypatch):
    """Whatever weights/ holds in this checkout, these tests see none."""
    missing = {
        name: tmp_path / "none" / f"{name}.keras" for name in inference.weights.DEFAULT_WEIGHTS
    }
    monkeypatch.setattr(inference.weights, "DEFAULT_WEIGHTS", missing)


def picture(shape, seed=0, dtype=np.uint8):
    top = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, top, shape, endpoint=True, dtype=dtype)


def png_claiming(width, height):
    """A PNG whose header (with a correct CRC) claims ``width`` x ``height``: a bomb's shape."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


def run(capsys, *argv):
    code = upscale.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def error_lines(err):
    return [line for line in err.splitlines() if line.startswith("error:")]


@pytest.fixture
def mixed_folder(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(picture((8, 10, 3))).save(folder / "photo.jpg", quality=95)
    Image.fromarray(picture((7, 9, 4), seed=1)).save(folder / "logo.png")
    Image.fromarray(picture((6, 5), seed=2)).save(folder / "grey.png")
    Image.fromarray(picture((5, 6, 3), seed=3)).save(folder / "small.bmp")
    (folder / "notes.png").write_text("not an image\n")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "bomb.png").write_bytes(png_claiming(100_000, 100_000))
    return folder


def test_folder_with_good_and_bad_files(mixed_folder, tmp_path, weights, capsys):
    out = tmp_path / "out"
    code, _, err = run(capsys, mixed_folder, "-o", out, "--weights", weights)
    assert code == 1
    written = sorted(p.name for p in out.iterdir())
    # JPEG becomes PNG (no second lossy step); the others keep their format.
    assert written == ["grey_x4.png", "logo_x4.png", "photo_x4.png", "small_x4.bmp"]
    assert decode_image(out / "photo_x4.png").shape == (32, 40, 3)
    assert decode_image(out / "logo_x4.png").shape == (28, 36, 4)
    assert decode_image(out / "grey_x4.png").shape == (24, 20)
    errors = error_lines(err)
    assert len(errors) == 3
    for name, reason in [
        ("notes.png", "not an image"),
        ("empty.jpg", "empty"),
        ("bomb.png", "100000x100000"),
    ]:
        (line,) = [e for e in errors if name in e]
        assert line.startswith(f"error: {mixed_folder / name}: ") and reason in line
    assert "4 written" in err and "3 failed" in err


def test_single_file_to_a_file(tmp_path, weights, capsys):
    source = tmp_path / "a.png"
    Image.fromarray(picture((8, 6, 3))).save(source)
    target = tmp_path / "sub" / "big.webp"
    code, _, err = run(capsys, source, "-o", target, "--weights", weights)
    assert code == 0, err
    assert decode_image(target).shape == (32, 24, 3)
    assert not error_lines(err)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_stays_sixteen_bit_in_the_same_format(tmp_path, weights, capsys, suffix):
    import cv2

    source = tmp_path / f"deep{suffix}"
    cv2.imwrite(str(source), picture((6, 7, 3), dtype=np.uint16))
    code, _, err = run(capsys, source, "-o", tmp_path / "o", "--weights", weights)
    assert code == 0, err
    result = decode_image(tmp_path / "o" / f"deep_x4{suffix}")
    assert result.dtype == np.uint16 and result.shape == (24, 28, 3)
    assert (result % 257 != 0).any()


def test_missing_weights_is_one_line_and_exit_2(tmp_path, capsys):
    source = tmp_path / "a.png"
    Image.fromarray(picture((4, 4, 3))).save(source)
    # Before anything else: the missing input would otherwise be reported first.
    argv = [str(source), str(tmp_path / "missing.png"), "-o", str(tmp_path / "out")]
    code = upscale.cli.run(upscale.main, argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err == "error: no trained weights ship yet; pass --weights PATH\n"
    assert not (tmp_path / "out").exists()


def test_refuses_to_overwrite_unless_asked(tmp_path, weights, capsys):
    source = tmp_path / "a.png"
    Image.fromarray(picture((4, 5, 3))).save(source)
    out = tmp_path / "out"
    out.mkdir()
    existing = out / "a_x4.png"
    existing.write_bytes(b"keep me")
    code, _, err = run(capsys, source, "-o", out, "--weights", weights)
    assert code == 0
    assert existing.read_bytes() == b"keep me"
    assert f"skipped: {existing} exists (pass --overwrite to replace it)" in err
    code, _, err = run(capsys, source, "-o", out, "--weights", weights, "--overwrite")
    assert code == 0
    assert decode_image(existing).shape == (16, 20, 3)


def test_never_overwrites_an_input(tmp_path, weights, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(picture((4, 5, 3))).save(folder / "a.png")
    before = (folder / "a.png").read_bytes()
    args = (folder, "-o", folder, "--weights", weights, "--suffix", "", "--overwrite")
    code, _, err = run(capsys, *args)
    assert code == 1
    assert (folder / "a.png").read_bytes() == before
    (line,) = error_lines(err)
    assert "is an input" in line


def test_unwritable_output_folder_is_one_clear_line(tmp_path, weights, capsys):
    source = tmp_path / "a.png"
    Image.fromarray(picture((4, 5, 3))).save(source)
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    code = upscale.cli.run(
        upscale.main, [str(source), "-o", str(blocker / "out"), "--weights", str(weights)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"error: {blocker / 'out'}: cannot create")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_read_only_output_folder(tmp_path, weights, capsys):
    source = tmp_path / "a.png"
    Image.fromarray(picture((4, 5, 3))).save(source)
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        code = upscale.cli.run(
            upscale.main, [str(source), "-o", str(out), "--weights", str(weights)]
        )
    finally:
        out.chmod(0o755)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: {out}: cannot write")


def test_recursive_folders_keep_their_layout(tmp_path, weights, capsys):
    folder = tmp_path / "in"
    (folder / "deeper").mkdir(parents=True)
    Image.fromarray(picture((4, 4, 3))).save(folder / "a.png")
    Image.fromarray(picture((4, 4, 3), seed=1)).save(folder / "deeper" / "a.png")
    out = tmp_path / "out"
    code, _, err = run(capsys, folder, "-o", out, "--weights", weights)
    assert code == 0 and sorted(p.name for p in out.iterdir()) == ["a_x4.png"]
    code, _, err = run(capsys, folder, "-o", out, "--weights", weights, "--recursive")
    assert code == 0, err
    assert (out / "deeper" / "a_x4.png").is_file()


def test_format_option_and_tiling_flags(tmp_path, weights, capsys):
    source = tmp_path / "a.png"
    Image.fromarray(picture((20, 23, 3))).save(source)
    out = tmp_path / "out"
    args = ("-o", out, "--weights", weights, "--format", "jpg", "--tile", "8", "--tile-pad", "10")
    code, _, err = run(capsys, source, *args)
    assert code == 0, err
    assert decode_image(out / "a_x4.jpg").shape == (80, 92, 3)


def test_self_ensemble_flag_averages_the_eight_orientations(tmp_path, weights, capsys):
    from inference.tiling import upscale as upscale_pixels
    from inference.weights import load_generator

    source = tmp_path / "a.png"
    Image.fromarray(picture((9, 14, 3))).save(source)
    for flag in ((), ("--self-ensemble",)):
        argv = (source, "-o", tmp_path / f"out{len(flag)}.png", "--weights", weights, *flag)
        code, _, err = run(capsys, *argv)
        assert code == 0, err
    plain, ensembled = (decode_image(tmp_path / f"out{n}.png") for n in (0, 1))
    generator = load_generator(weights, "auto")  # upscale.py's default precision
    expected = upscale_pixels(decode_image(source), generator, self_ensemble=True)
    np.testing.assert_array_equal(ensembled, expected)
    assert np.abs(ensembled.astype(int) - plain).max() > 1  # an untrained G is not equivariant


def test_precision_flag(tmp_path, weights, capsys):
    from models.precision import choose_precision

    source = tmp_path / "a.png"
    Image.fromarray(picture((12, 10, 3))).save(source)
    outputs = {}
    for precision in ("float32", "bfloat16", "auto"):
        out = tmp_path / f"{precision}.png"
        argv = (source, "-o", out, "--weights", weights, "--precision", precision)
        code, _, err = run(capsys, *argv)
        assert code == 0, err
        assert ("(auto" in err) == (precision == "auto")
        outputs[precision] = decode_image(out).astype(int)
    assert outputs["bfloat16"].shape == (48, 40, 3)
    assert 0 < np.abs(outputs["bfloat16"] - outputs["float32"]).max() <= 2  # rounding only
    np.testing.assert_array_equal(outputs["auto"], outputs[choose_precision("auto")])
    code, _, err = run(capsys, source, "-o", tmp_path / "default.png", "--weights", weights)
    assert "(auto" in err  # the default
    np.testing.assert_array_equal(decode_image(tmp_path / "default.png"), outputs["auto"])
    with pytest.raises(SystemExit) as refused:
        upscale.main([str(source), "-o", str(tmp_path / "x.png"), "--precision", "half"])
    assert refused.value.code == 2
    assert "invalid choice: 'half'" in capsys.readouterr().err


def test_exit_code_and_stderr_of_the_real_command(tmp_path, weights):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(picture((5, 5, 3))).save(folder / "good.png")
    (folder / "bad.png").write_text("nope")
    done = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "upscale.py"),
            str(folder),
            "-o",
            str(tmp_path / "out"),
            "--weights",
            str(weights),
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("precision: ") and "(auto" in lines[0]  # the default, said once
    assert lines[1:] == [
        f"error: {folder / 'bad.png'}: not an image file in a format Pillow can read",
        f"1 written to {tmp_path / 'out'}{os.sep}, 1 failed",
    ]
    assert (tmp_path / "out" / "good_x4.png").is_file()


def test_a_named_pipe_in_the_input_folder_is_skipped_not_waited_on(tmp_path, weights):
    """A real FIFO named like an image, in a real process: it must end, the FIFO named."""
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(picture((5, 5, 3))).save(folder / "a.png")
    os.mkfifo(folder / "b.png")
    Image.fromarray(picture((5, 5, 3), seed=1)).save(folder / "c.png")
    command = [sys.executable, str(REPO_ROOT / "upscale.py"), str(folder)]
    command += ["-o", str(tmp_path / "out"), "--weights", str(weights)]
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=REPO_ROOT, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert f"skipped {folder / 'b.png'}: a named pipe, not an image file" in done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_x4.png", "c_x4.png"]


def test_a_named_pipe_given_by_name_is_one_error_line(tmp_path, weights, capsys):
    os.mkfifo(tmp_path / "pipe.png")
    code, _, err = run(
        capsys, tmp_path / "pipe.png", "-o", tmp_path / "x.png", "--weights", weights
    )
    assert code == 1
    assert error_lines(err) == [f"error: {tmp_path / 'pipe.png'}: a named pipe, not an image file"]


def test_a_gif_in_a_folder_is_upscaled_from_its_first_frame_saying_so(tmp_path, weights, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    frames = [Image.fromarray(picture((6, 7, 3), seed=seed)) for seed in (1, 2, 3)]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:])
    code, _, err = run(capsys, folder, "-o", tmp_path / "out", "--weights", weights)
    assert code == 0, err
    assert f"{folder / 'anim.gif'}: 3 frames or pages; only the first is used" in err
    assert decode_image(tmp_path / "out" / "anim_x4.png").shape == (24, 28, 3)
