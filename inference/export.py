"""The generator as files that run without this project: SavedModel, TFLite (LiteRT) and ONNX.

Every exported graph is what ``upscale.py`` computes before it rounds: LR RGB in, NHWC,
uint8 0-255 by default (``input_dtype="float32"``: float32 in [0, 1], what the generator
itself takes), and the 4x RGB image out as float32 levels in [0, 255], ``(sr + 1) * 127.5`` of
the generator's tanh output. ``to_uint8`` (round half to even, clip) then gives upscale.py's
image. The conversions on both ends are Keras's own ``Rescaling`` layers, inside the graph,
so a user of the file never has to know the generator's [-1, 1] convention.

Height and width stay dynamic in all three formats (TFLite's converter keeps ``-1`` in the
shape signature; the interpreter resizes per input), unless ``input_size`` fixes them, as
some TFLite delegates need. The batch dimension is always dynamic.

The converters are the maintained ones, all through Keras's ``Model.export``: ``"tf_saved_model"``
(TensorFlow's SavedModel), ``"litert"`` (TensorFlow's ``TFLiteConverter``, which also makes the
float16 and int8 dynamic-range variants) and ``"onnx"`` (tf2onnx). Each file is written to a
temporary sibling and renamed into place, and gets a sidecar ``<file>.json``: input and output
names, dtypes, shapes and ranges, the scale, the Keras weights' sha256, the converter versions,
a check against Keras on a probe image run by the format's own runtime, and, given a benchmark
dataset, the PSNR-Y there against Keras's.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runtime import stop
from runtime.atomic import temporary_sibling, write_text
from runtime.errors import UserError

SCALE = 4
FORMATS = ("savedmodel", "tflite", "onnx")
QUANTIZATIONS = ("float16", "int8")
INPUT_DTYPES = ("uint8", "float32")
INPUT_NAME = "lr"
OUTPUT_NAME = "sr"
# The signature SavedModel and TFLite files are called through (Keras's export names it so).
SIGNATURE = "serving_default"
SUFFIXES = {"savedmodel": ".savedmodel", "tflite": ".tflite", "onnx": ".onnx"}
KERAS_FORMATS = {"savedmodel": "tf_saved_model", "tflite": "litert", "onnx": "onnx"}
# The probe each export is checked on: odd sides, so a shape bug cannot hide behind evenness.
PROBE_SIZE = (37, 53)
# BT.601 luma, as inference.tiling brings a grey image's colour output back to grey.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

QUANTIZATION_NOTES = {
    "float32": "none: float32 weights and arithmetic",
    "float16": "float16 weights (half the size), dequantized to float32 when the model loads",
    "int8": "int8 dynamic range: int8 weights; activations quantized on the fly in each conv, "
    "float32 in and out",
}
INSTALL_HINT = "pip install -r requirements.txt"


@dataclass
class Export:
    """One exported file (a folder for SavedModel) and what its sidecar says about it."""

    format: str
    precision: str  # float32, or the TFLite quantization: float16, int8
    path: Path
    sidecar: Path
    info: dict


def serving_model(generator, *, input_dtype="uint8", input_size=None):
    """The generator between upscale.py's conversions, as the one Keras model that is exported.

    uint8 -> ``x / 255`` -> generator -> ``(sr + 1) * 127.5`` as Keras ``Rescaling`` layers,
    which every converter knows. Its output is a dict, ``{"sr": levels}``, so the output is
    called ``sr`` in every format (a plain output would be ``output_0`` in SavedModel and
    TFLite, ``Identity:0`` in ONNX).
    """
    import keras
    from keras import layers

    if input_dtype not in INPUT_DTYPES:
        raise ValueError(f"input_dtype must be one of {INPUT_DTYPES}, not {input_dtype!r}")
    height, width = input_size or (None, None)
    lr = keras.Input((height, width, 3), dtype=input_dtype, name=INPUT_NAME)
    x = layers.Rescaling(1 / 255, name="to_unit")(lr) if input_dtype == "uint8" else lr
    levels = layers.Rescaling(127.5, offset=127.5, name="to_levels")(generator(x))
    return keras.Model(lr, {OUTPUT_NAME: levels}, name=f"{generator.name}_serving")


def to_model_input(pixels, input_dtype="uint8"):
    """uint8 RGB (NHWC) as an export with ``input_dtype`` takes it."""
    pixels = np.asarray(pixels, np.uint8)
    return pixels if input_dtype == "uint8" else pixels.astype(np.float32) / np.float32(255)


def to_uint8(levels, *, grey=False):
    """An export's output levels as upscale.py's uint8 image; ``grey``: BT.601 luma first."""
    levels = np.asarray(levels, np.float32)
    if grey:
        levels = levels @ _LUMA
    return np.clip(np.rint(levels), 0, 255).astype(np.uint8)


def parse_size(text):
    """``"HxW"`` -> (H, W), both positive."""
    height, sep, width = str(text).lower().partition("x")
    try:
        size = (int(height), int(width)) if sep else None
    except ValueError:
        size = None
    if size is None or min(size) < 1:
        raise ValueError(f"expected HEIGHTxWIDTH such as 256x256, not {text!r}")
    return size


def planned_paths(output_dir, stem, formats=FORMATS, quantize=()):
    """(format, precision, path) for every file an export writes, in the order it writes them."""
    output_dir = Path(output_dir)
    plan = []
    for fmt in formats:
        plan.append((fmt, "float32", output_dir / f"{stem}{SUFFIXES[fmt]}"))
        if fmt == "tflite":
            plan += [(fmt, q, output_dir / f"{stem}_{q}.tflite") for q in quantize]
    return plan


def sidecar_path(path):
    path = Path(path)
    return path.with_name(path.name + ".json")


def export_generator(
    weights,
    output_dir,
    *,
    formats=FORMATS,
    quantize=(),
    input_dtype="uint8",
    input_size=None,
    name=None,
    overwrite=False,
    psnr_dataset=None,
    psnr_required=True,
    data_dir=None,
    say=None,
):
    """Export the generator in ``weights`` (a ``.keras`` file) to ``output_dir``; a list of Export.

    ``formats``: any of ``FORMATS``. ``quantize``: TFLite variants beside the float32 one, any
    of ``QUANTIZATIONS``. ``input_size``: (H, W) to fix, None keeps them dynamic. ``name``: the
    files' stem (default: the weights' name, as evaluate.py names a method). Existing outputs
    are refused unless ``overwrite``. ``psnr_dataset``: a benchmark name or folder (``"Set5"``)
    whose PSNR-Y each export gets beside Keras's; it needs dynamic sizes. When it is not on disk
    and not ``psnr_required``, the sidecars go without. ``say`` gets a line per file written,
    and notes.

    A weights file that is not a loadable x4 generator raises ``UserError`` before anything is
    written; so does a missing dataset or converter.
    """
    from evaluation.benchmark import default_name
    from inference.weights import load_generator

    formats = list(dict.fromkeys(formats))
    quantize = list(dict.fromkeys(quantize))
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; choose from {FORMATS}")
    for q in quantize:
        if q not in QUANTIZATIONS:
            raise ValueError(f"unknown quantization {q!r}; choose from {QUANTIZATIONS}")
    if quantize and "tflite" not in formats:
        raise ValueError("quantized variants are TFLite files: add tflite to the formats")
    if input_dtype not in INPUT_DTYPES:
        raise ValueError(f"input_dtype must be one of {INPUT_DTYPES}, not {input_dtype!r}")
    say = say or (lambda line: None)

    weights = Path(weights)
    generator = load_generator(weights)
    stem = name or default_name(weights)
    plan = planned_paths(output_dir, stem, formats, quantize)
    _check_destinations(plan, overwrite)
    pairs = _benchmark_pairs(psnr_dataset, data_dir, input_size, psnr_required, say)
    _make_folder(Path(output_dir))

    model = serving_model(generator, input_dtype=input_dtype, input_size=input_size)
    probe = to_model_input(_probe_pixels(input_size or PROBE_SIZE), input_dtype)
    keras_run = _keras_runner(model)
    reference = Reference(probe, keras_run(probe), pairs, input_dtype)
    common = _common_info(weights, generator, input_dtype, input_size)

    exports = []
    for fmt, precision, path in plan:
        stop.check()  # Ctrl-C between files: every file written so far is whole
        exports.append(_export_one(model, fmt, precision, path, common, reference, say))
    return exports


@dataclass
class Reference:
    """What every export is compared with: Keras on the probe and on the benchmark images."""

    probe: np.ndarray
    probe_levels: np.ndarray
    pairs: list
    input_dtype: str
    _keras_psnr: float | None = None

    def keras_psnr(self, keras_run):
        if self._keras_psnr is None:
            self._keras_psnr = dataset_psnr(keras_run, self.pairs, self.input_dtype)
        return self._keras_psnr


def _export_one(model, fmt, precision, path, common, reference, say):
    temporary = temporary_sibling(path)
    temporary = temporary.with_name(temporary.name + path.suffix)  # litert wants .tflite
    try:
        with _quiet_stderr():
            converter = _convert(model, fmt, precision, temporary)
            try:
                run = load_exported(temporary, fmt)
            except ImportError:  # onnxruntime is for development only: the file is still right
                run = None
            check = _check(run, reference)
            scores = _scores(run, model, reference)
            del run
        _place(temporary, path)
    except BaseException:
        _remove(temporary)
        raise
    info = {
        "format": fmt,
        "file": path.name,
        "precision": precision,
        "quantization": QUANTIZATION_NOTES[precision],
        **_io_info(fmt, common),
        "converter": converter,
        "check": check,
    }
    if scores is not None:
        info["psnr"] = scores
    sidecar = sidecar_path(path)
    write_text(sidecar, json.dumps(info, indent=2, allow_nan=False) + "\n")
    say(_summary(path, info))
    return Export(fmt, precision, path, sidecar, info)


# -- conversion -----------------------------------------------------------------------------
def _convert(model, fmt, precision, destination):
    """Write ``model`` to ``destination`` in ``fmt``; the converter's versions and settings."""
    import keras
    import tensorflow as tf

    options = {}
    converter = {"keras": keras.__version__, "tensorflow": tf.__version__}
    if fmt == "tflite":
        converter["tool"] = "keras Model.export(format='litert'): tf.lite.TFLiteConverter"
        if precision != "float32":
            options["optimizations"] = [tf.lite.Optimize.DEFAULT]
            converter["optimizations"] = ["DEFAULT"]
        if precision == "float16":
            options["target_spec"] = {"supported_types": [tf.float16]}
            converter["supported_types"] = ["float16"]
    elif fmt == "onnx":
        converter["tool"] = "keras Model.export(format='onnx'): tf2onnx"
        converter["tf2onnx"] = _version("tf2onnx")
        converter["onnx"] = _version("onnx")
        if converter["tf2onnx"] is None or converter["onnx"] is None:
            raise UserError(f"ONNX export needs tf2onnx and onnx: {INSTALL_HINT}")
    else:
        converter["tool"] = "keras Model.export(format='tf_saved_model')"
    with warnings.catch_warnings():
        # Keras patches tf2onnx for numpy 2 with ``hasattr(np, "object")``: a FutureWarning.
        warnings.simplefilter("ignore", FutureWarning)
        model.export(str(destination), format=KERAS_FORMATS[fmt], verbose=False, **options)
    if fmt == "onnx":
        converter["opset"] = _name_onnx_dims(destination)
    return converter


def _name_onnx_dims(path):
    """Name tf2onnx's anonymous dimensions (``unk__185``) batch/height/width; the opset."""
    import onnx

    model = onnx.load(str(path))
    labels = {
        INPUT_NAME: ("batch", "height", "width"),
        OUTPUT_NAME: ("batch", "sr_height", "sr_width"),
    }
    renamed = {}
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim[:3]
        for dim, label in zip(dims, labels.get(value.name, ()), strict=False):
            if dim.HasField("dim_param"):
                renamed.setdefault(dim.dim_param, label)
    for value in [*model.graph.input, *model.graph.output, *model.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField("dim_param") and dim.dim_param in renamed:
                dim.dim_param = renamed[dim.dim_param]
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


@contextlib.contextmanager
def _quiet_stderr():
    """Hold what converters and runtimes print on file descriptor 2 (MLIR, absl and XNNPACK
    notices), and show it only if something fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _check_destinations(plan, overwrite):
    for _fmt, _precision, path in plan:
        for target in (path, sidecar_path(path)):
            if not (target.exists() or target.is_symlink()):
                continue
            if not overwrite:
                raise UserError(f"{target} exists (pass --overwrite to replace it)")
            want_dir = target == path and path.suffix == SUFFIXES["savedmodel"]
            if target.is_dir() != want_dir or target.is_symlink():
                kind = "a folder" if target.is_dir() else "not a folder"
                raise UserError(f"{target} is {kind}; will not replace it with an export")


def _make_folder(folder):
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(f"{folder}: exists and is not a folder") from None
    except OSError as error:
        raise UserError(f"{folder}: cannot create it ({error.strerror or error})") from None


def _place(temporary, destination):
    """Rename ``temporary`` over ``destination``; a SavedModel folder replaces the old one whole."""
    if destination.is_dir():
        old = temporary_sibling(destination)
        os.replace(destination, old)
        os.replace(temporary, destination)
        shutil.rmtree(old)
    else:
        os.replace(temporary, destination)


def _remove(path):
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


# -- runtimes -------------------------------------------------------------------------------
class Runner:
    """Runs an exported file with its format's own runtime: NHWC batch in, levels out."""

    def __init__(self, call, runtime, keep=None):
        self._call = call
        self.runtime = runtime  # "name version"
        self._keep = keep  # what must stay alive while ``call`` runs

    def __call__(self, batch):
        return np.asarray(self._call(np.ascontiguousarray(batch)))


def format_of(path):
    path = Path(path)
    for fmt, suffix in SUFFIXES.items():
        if path.name.endswith(suffix):
            return fmt
    raise ValueError(f"{path}: not a {', '.join(SUFFIXES.values())} export")


def load_exported(path, fmt=None):
    """A Runner for an exported file: ``tf.saved_model.load``, LiteRT's ``Interpreter`` or
    ``onnxruntime.InferenceSession``, each called by the names the sidecar gives."""
    path = Path(path)
    fmt = fmt or format_of(path)
    if fmt == "savedmodel":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))
        serve = loaded.signatures[SIGNATURE]
        return Runner(
            lambda batch: serve(**{INPUT_NAME: tf.constant(batch)})[OUTPUT_NAME].numpy(),
            f"tensorflow {tf.__version__}",
            keep=loaded,
        )
    if fmt == "tflite":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path), num_threads=_cores())
        runner = interpreter.get_signature_runner(SIGNATURE)  # resizes to each input
        return Runner(
            lambda batch: runner(**{INPUT_NAME: batch})[OUTPUT_NAME],
            f"ai-edge-litert {_version('ai-edge-litert')}",
            keep=interpreter,
        )
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return Runner(
            lambda batch: session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0],
            f"onnxruntime {onnxruntime.__version__}",
            keep=session,
        )
    raise ValueError(f"unknown format {fmt!r}")


def _keras_runner(model):
    return lambda batch: np.asarray(model.predict_on_batch(batch)[OUTPUT_NAME])


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# -- checks ---------------------------------------------------------------------------------
def _probe_pixels(size, seed=0):
    """A smooth colour ramp with noise on it: photo-like enough for the quantized variants."""
    height, width = size
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = np.stack([rows / height, cols / width, 1 - (rows + cols) / (height + width)], axis=-1)
    noise = np.random.default_rng(seed).normal(0, 0.1, ramp.shape)
    return np.clip(np.rint(255 * (ramp + noise)), 0, 255).astype(np.uint8)[None]


def _check(run, reference):
    """The export against Keras on the probe, as levels (0-255)."""
    from evaluation.metrics import psnr

    if run is None:
        return {"skipped": "its runtime is not installed (pip install -r requirements-dev.txt)"}
    levels = run(reference.probe)
    expected = reference.probe_levels
    if levels.shape != expected.shape:
        raise RuntimeError(f"the export returns {levels.shape} for {reference.probe.shape}")
    agreement = psnr(expected[0], levels[0], y_channel=False)
    return {
        "runtime": run.runtime,
        "input_shape": list(reference.probe.shape),
        "max_abs_diff_vs_keras": float(np.max(np.abs(levels - expected))),
        # RGB, on the levels; null when identical (JSON has no infinity)
        "psnr_vs_keras_db": round(agreement, 2) if np.isfinite(agreement) else None,
    }


def _scores(run, model, reference):
    if run is None or not reference.pairs:
        return None
    keras_psnr = reference.keras_psnr(_keras_runner(model))
    value = dataset_psnr(run, reference.pairs, reference.input_dtype)
    return {
        "dataset": reference.pairs[0].dataset,
        "images": len(reference.pairs),
        "psnr_y_db": round(value, 4),
        "keras_psnr_y_db": round(keras_psnr, 4),
        "change_db": round(value - keras_psnr, 4) + 0.0,  # + 0.0: never -0.0
        "protocol": "x4, PSNR on the Y channel (BT.601), 4-pixel border shaved, HR modcropped "
        "to 4, official LR where the dataset ships it (evaluation.benchmark); uint8 outputs",
    }


def dataset_psnr(run, pairs, input_dtype="uint8"):
    """Mean PSNR-Y (dB) of ``run`` (batch -> levels) on benchmark pairs, by the papers' protocol."""
    from evaluation.metrics import psnr

    values = []
    for pair in pairs:
        stop.check()
        lr = pair.lr if pair.lr.ndim == 3 else np.repeat(pair.lr[:, :, None], 3, axis=2)
        levels = run(to_model_input(lr[None], input_dtype))[0]
        values.append(psnr(pair.hr, to_uint8(levels, grey=pair.grey), crop_border=SCALE))
    return float(np.mean(values))


def _benchmark_pairs(dataset, data_dir, input_size, required, say):
    if dataset is None:
        return []
    if input_size is not None:
        if not required:
            say("note: the sidecars get no PSNR (a fixed input size cannot take its images)")
            return []
        raise UserError("a fixed --input-size cannot score a benchmark's images of other sizes")
    from evaluation.benchmark import load_test_image, resolve_dataset

    try:
        found = resolve_dataset(dataset, data_dir)
    except UserError as error:
        if required:
            raise
        say(f"note: the sidecars get no PSNR ({error})")
        return []
    return [load_test_image(found.name, image) for image in found.images]


# -- sidecar --------------------------------------------------------------------------------
def _common_info(weights, generator, input_dtype, input_size):
    return {
        "scale": SCALE,
        "input_dtype": input_dtype,
        "input_size": list(input_size) if input_size else None,
        "weights": {
            "file": str(weights),
            "sha256": sha256_of(weights),
            "model": generator.name,
            "parameters": int(generator.count_params()),
        },
    }


def _io_info(fmt, common):
    size = common["input_size"]
    height, width = size or (None, None)
    out_h, out_w = (SCALE * height, SCALE * width) if size else (None, None)
    dtype = common["input_dtype"]
    shape_note = (
        "dynamic height and width"
        if size is None
        else f"fixed at {height}x{width} (--input-size); the batch stays dynamic"
    )
    if fmt == "tflite" and size is None:
        shape_note += (
            ": the interpreter resizes per input size (a signature runner does it itself; "
            "else resize_tensor_input and allocate_tensors). GPU and NNAPI delegates may need "
            "a fixed size: export with --input-size HxW"
        )
    info = {
        "inputs": [
            {
                "name": INPUT_NAME,
                "dtype": dtype,
                "shape": [None, height, width, 3],
                "layout": "NHWC, RGB",
                "range": [0, 255] if dtype == "uint8" else [0.0, 1.0],
            }
        ],
        "outputs": [
            {
                "name": OUTPUT_NAME,
                "dtype": "float32",
                "shape": [None, out_h, out_w, 3],
                "layout": "NHWC, RGB",
                "range": [0.0, 255.0],
                "meaning": "upscale.py's levels before rounding, (tanh output + 1) * 127.5; "
                "clip(rint(x), 0, 255) as uint8 is its image",
            }
        ],
        "shape": shape_note,
        "scale": SCALE,
        "weights": common["weights"],
    }
    if fmt in ("savedmodel", "tflite"):
        info["signature"] = SIGNATURE
    return info


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _version(distribution):
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _summary(path, info):
    check = info["check"]
    line = f"wrote {path} ({info['format']}, {info['precision']}"
    if "max_abs_diff_vs_keras" in check:
        line += f"; max |diff| vs Keras {check['max_abs_diff_vs_keras']:.2g} levels"
    scores = info.get("psnr")
    if scores:
        line += (
            f"; {scores['dataset']} PSNR-Y {scores['psnr_y_db']:.2f} dB, "
            f"{scores['change_db']:+.3f} vs Keras"
        )
    return line + ")"
