"""export/files.py and export.py: each format, run by its own runtime, against Keras.

These run the whole export once per module (``exported``), so the steps it is made of
(``export.convert``, ``export.runtimes``, ``export.checks``, ``export.sidecar``) are
tested here through the files it writes.
"""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from data.conventions import to_model_input
from evaluation.metrics import psnr
from export import files
from export.convert import FORMATS, QUANTIZATIONS
from models.generator import build_generator
from runtime.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[1]
SIZES = [(37, 53), (24, 32)]  # an odd one, and a second one through the same file
TOLERANCE = 1e-4  # max |export - Keras| on the generator's own [-1, 1] output


@pytest.fixture(scope="module")
def generator():
    """A 1-block generator whose batch norms are not the identity, so folding them shows."""
    keras.utils.set_random_seed(5)
    model = build_generator(blocks=1)
    rng = np.random.default_rng(5)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.moving_mean.shape
            layer.moving_mean.assign(rng.normal(0, 0.2, shape).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, shape).astype("float32"))
            layer.gamma.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def weights(generator, tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "g1.keras"
    generator.save(path)
    return path


@pytest.fixture(scope="module")
def exported(weights, tmp_path_factory):
    """Every format and both quantized TFLite variants, once for the module."""
    folder = tmp_path_factory.mktemp("exported")
    results = files.export_generator(weights, folder, quantize=QUANTIZATIONS)
    return folder, {(item.format, item.precision): item for item in results}


def photo(size, seed=0):
    """A smooth, photo-like uint8 RGB batch of one (noise would be unfair to int8)."""
    height, width = size
    rows, cols = np.mgrid[0:height, 0:width] / max(height, width)
    rng = np.random.default_rng(seed)
    channels = [
        np.sin(6 * rows + phase) * np.cos(5 * cols - phase) for phase in rng.normal(0, 1, 3)
    ]
    image = 127.5 + 100 * np.stack(channels, axis=-1) + rng.normal(0, 4, (height, width, 3))
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)[None]


def keras_output(generator, pixels):
    """The generator's [-1, 1] output as Keras computes it from upscale.py's input."""
    return np.asarray(generator.predict_on_batch(to_model_input(pixels)))


def to_model_range(levels):
    return np.asarray(levels, np.float32) / 127.5 - 1.0


def run_savedmodel(path, pixels):
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    serve = loaded.signatures["serving_default"]
    return serve(lr=tf.constant(pixels))["sr"].numpy()


def run_tflite(path, pixels):
    """LiteRT's interpreter, resized to this input as a dynamic-shape model needs."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    (source,) = interpreter.get_input_details()
    interpreter.resize_tensor_input(source["index"], pixels.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(source["index"], pixels)
    interpreter.invoke()
    (result,) = interpreter.get_output_details()
    return interpreter.get_tensor(result["index"])


def run_onnx(path, pixels):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["sr"], {"lr": pixels})[0]


RUNTIMES = {"savedmodel": run_savedmodel, "tflite": run_tflite, "onnx": run_onnx}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_float32_export_matches_keras(exported, generator, fmt, size):
    _, items = exported
    pixels = photo(size, seed=size[0])
    levels = RUNTIMES[fmt](items[fmt, "float32"].path, pixels)
    assert levels.shape == (1, 4 * size[0], 4 * size[1], 3)
    assert levels.dtype == np.float32
    difference = np.abs(to_model_range(levels) - keras_output(generator, pixels))
    assert difference.max() < TOLERANCE


@pytest.mark.parametrize(("precision", "floor_db"), [("float16", 70.0), ("int8", 45.0)])
def test_quantized_tflite_close_to_float(exported, precision, floor_db):
    _, items = exported
    pixels = photo((37, 53), seed=1)
    reference = run_tflite(items["tflite", "float32"].path, pixels)
    levels = run_tflite(items["tflite", precision].path, pixels)
    assert psnr(reference[0], levels[0], y_channel=False) > floor_db
    sizes = {p: items["tflite", p].path.stat().st_size for p in ("float32", precision)}
    assert sizes[precision] < 0.6 * sizes["float32"]  # float16 halves it, int8 quarters it


def test_sidecars_describe_the_files(exported, weights, generator):
    folder, items = exported
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert set(items) == {
        ("savedmodel", "float32"),
        ("tflite", "float32"),
        ("tflite", "float16"),
        ("tflite", "int8"),
        ("onnx", "float32"),
    }
    for (fmt, precision), item in items.items():
        assert item.path.exists() and item.sidecar == item.path.with_name(item.path.name + ".json")
        info = json.loads(item.sidecar.read_text())
        assert info == item.info
        assert (info["format"], info["precision"], info["file"]) == (fmt, precision, item.path.name)
        assert info["inputs"] == [
            {
                "name": "lr",
                "dtype": "uint8",
                "shape": [None, None, None, 3],
                "layout": "NHWC, RGB",
                "range": [0, 255],
            }
        ]
        (output,) = info["outputs"]
        assert (output["name"], output["dtype"], output["range"]) == ("sr", "float32", [0.0, 255.0])
        assert info["scale"] == 4
        assert info["weights"]["sha256"] == digest
        assert info["weights"]["parameters"] == generator.count_params()
        assert info["converter"]["keras"] == keras.__version__
        assert info["check"]["max_abs_diff_vs_keras"] < (0.01 if precision == "float32" else 5)
        assert "psnr" not in info  # no dataset was given
    assert items["onnx", "float32"].info["converter"]["opset"] >= 13
    assert items["onnx", "float32"].info["converter"]["tf2onnx"]
    # Nothing is left of the temporary files the exports were written to.
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_onnx_dimensions_are_named(exported):
    import onnxruntime

    _, items = exported
    session = onnxruntime.InferenceSession(
        str(items["onnx", "float32"].path), providers=["CPUExecutionProvider"]
    )
    (source,), (result,) = session.get_inputs(), session.get_outputs()
    assert (source.name, source.shape, source.type) == (
        "lr",
        ["batch", "height", "width", 3],
        "tensor(uint8)",
    )
    assert (result.name, result.shape) == ("sr", ["batch", "sr_height", "sr_width", 3])


def test_tflite_keeps_dynamic_shape(exported):
    from ai_edge_litert.interpreter import Interpreter

    _, items = exported
    interpreter = Interpreter(model_path=str(items["tflite", "float32"].path))
    assert list(interpreter.get_input_details()[0]["shape_signature"]) == [-1, -1, -1, 3]
    signatures = interpreter.get_signature_list()
    assert signatures == {"serving_default": {"inputs": ["lr"], "outputs": ["sr"]}}


def test_float_input_and_fixed_size(weights, generator, tmp_path):
    """--input-dtype float32 takes [0, 1]; --input-size fixes height and width."""
    results = files.export_generator(
        weights, tmp_path, formats=["tflite", "onnx"], input_dtype="float32", input_size=(24, 32)
    )
    pixels = photo((24, 32), seed=2)
    expected = keras_output(generator, pixels)
    for item in results:
        assert item.info["inputs"][0]["dtype"] == "float32"
        assert item.info["inputs"][0]["shape"] == [None, 24, 32, 3]
        assert item.info["outputs"][0]["shape"] == [None, 96, 128, 3]
        levels = RUNTIMES[item.format](item.path, to_model_input(pixels))
        assert np.abs(to_model_range(levels) - expected).max() < TOLERANCE
    from ai_edge_litert.interpreter import Interpreter

    tflite = next(item.path for item in results if item.format == "tflite")
    signature = Interpreter(model_path=str(tflite)).get_input_details()[0]["shape_signature"]
    assert list(signature) == [-1, 24, 32, 3]


def test_psnr_on_a_benchmark_folder(weights, photo_folder, tmp_path):
    (item,) = files.export_generator(
        weights, tmp_path, formats=["savedmodel"], psnr_dataset=str(photo_folder)
    )
    scores = item.info["psnr"]
    assert scores["images"] == len(list(photo_folder.iterdir()))
    assert abs(scores["change_db"]) < 0.01
    assert scores["psnr_y_db"] == pytest.approx(scores["keras_psnr_y_db"], abs=0.01)


def test_missing_dataset_is_an_error_only_when_asked_for(weights, tmp_path):
    with pytest.raises(UserError, match="nowhere"):
        files.export_generator(
            weights, tmp_path / "a", formats=["savedmodel"], psnr_dataset=str(tmp_path / "nowhere")
        )
    assert not (tmp_path / "a").exists()
    notes = []
    files.export_generator(
        weights,
        tmp_path / "b",
        formats=["savedmodel"],
        psnr_dataset=str(tmp_path / "nowhere"),
        psnr_required=False,
        say=notes.append,
    )
    assert notes[0].startswith("note: the sidecars get no PSNR")


def test_existing_exports_are_kept_unless_overwrite(weights, tmp_path):
    (first,) = files.export_generator(weights, tmp_path, formats=["savedmodel"])
    marker = first.path / "marker"
    marker.write_text("old")
    with pytest.raises(UserError, match="exists"):
        files.export_generator(weights, tmp_path, formats=["savedmodel"])
    assert marker.exists()
    files.export_generator(weights, tmp_path, formats=["savedmodel"], overwrite=True)
    assert not marker.exists() and (first.path / "saved_model.pb").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g1.savedmodel", "g1.savedmodel.json"]


def test_corrupt_weights_are_one_clear_error(tmp_path):
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(UserError, match=r"broken\.keras: not a loadable Keras model"):
        files.export_generator(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_model_that_is_not_a_generator_is_refused(tmp_path):
    path = tmp_path / "dense.keras"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(path)
    with pytest.raises(UserError, match="not a 3->3 channel generator"):
        files.export_generator(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_parse_size():
    assert files.parse_size("256x192") == (256, 192)
    for text in ("256", "0x4", "ax4", "-1x3"):
        with pytest.raises(ValueError, match="HEIGHTxWIDTH"):
            files.parse_size(text)


def cli(*argv):
    return subprocess.run(
        [sys.executable, "export.py", *map(str, argv)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_cli_exports_and_reports_bad_weights_in_one_line(weights, tmp_path):
    done = cli(weights, "--format", "onnx", "tflite", "-o", tmp_path / "out", "--no-psnr")
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["g1.onnx", "g1.onnx.json", "g1.tflite", "g1.tflite.json"]
    assert [line for line in done.stderr.splitlines() if line.startswith("wrote ")]

    bad = tmp_path / "bad.keras"
    Image.new("RGB", (4, 4)).save(bad, format="PNG")  # a real file of the wrong kind
    done = cli(bad, "-o", tmp_path / "out2")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        next(line for line in done.stderr.splitlines() if line.startswith("error:"))
    ]
    assert "bad.keras: not a loadable Keras model" in done.stderr
    assert not (tmp_path / "out2").exists()

    done = cli(weights, "--format", "onnx", "--quantize", "int8", "-o", tmp_path / "out3")
    assert done.returncode == 2 and "add tflite to --format" in done.stderr


def test_an_upsampling2d_generator_exports_to_tflite_and_runs(tmp_path):
    """Keras computes nearest UpSampling2D with repeats whose shapes lose their rank in the
    TFLite conversion, leaving a FlexConv2D that LiteRT cannot run; the export rewrites them."""
    from models.layers import NearestUpsample, nearest_upsampling_as_shuffles

    keras.utils.set_random_seed(6)
    model = build_generator(blocks=1, upsample="upsampling")
    rewritten = nearest_upsampling_as_shuffles(model)
    inner = [layer for layer in rewritten.layers if isinstance(layer, NearestUpsample)]
    assert len(inner) == 2 and nearest_upsampling_as_shuffles(rewritten) is rewritten
    path = tmp_path / "up.keras"
    model.save(path)
    (item,) = files.export_generator(path, tmp_path / "out", formats=["tflite"])
    pixels = photo((19, 23), seed=1)
    levels = run_tflite(item.path, pixels)
    difference = np.abs(to_model_range(levels) - keras_output(model, pixels))
    assert levels.shape == (1, 76, 92, 3) and difference.max() < TOLERANCE


def test_an_output_folder_on_a_read_only_file_system_is_one_line(weights, mount, capsys):
    from runtime import cli
    from tests.tool_support import load_tool

    export_cli = load_tool("export")

    read_only = mount("ro,size=1m")
    argv = [str(weights), "--format", "onnx", "-o", str(read_only / "out"), "--no-psnr"]
    assert cli.run(export_cli.main, argv) in (1, 2)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Read-only file system" in err[0], err
