"""Writing the serving model as each format: SavedModel, TFLite (LiteRT) and ONNX.

The converters are the maintained ones, all through Keras's ``Model.export``:
``"tf_saved_model"`` (TensorFlow's SavedModel), ``"litert"`` (TensorFlow's ``TFLiteConverter``,
which also makes the float16 and int8 dynamic-range variants) and ``"onnx"`` (tf2onnx, whose
anonymous dimensions are then named). Height and width stay dynamic in all three formats
(TFLite's converter keeps ``-1`` in the shape signature) unless the serving model fixes them.

One module for the three formats because they share one call and differ only in its options;
what the converter reports (its versions and settings) goes into the sidecar.
"""

import contextlib
import importlib.metadata
import os
import sys
import tempfile
import warnings

from export.serving import INPUT_NAME, OUTPUT_NAME
from runtime.errors import UserError

FORMATS = ("savedmodel", "tflite", "onnx")
QUANTIZATIONS = ("float16", "int8")
SUFFIXES = {"savedmodel": ".savedmodel", "tflite": ".tflite", "onnx": ".onnx"}
KERAS_FORMATS = {"savedmodel": "tf_saved_model", "tflite": "litert", "onnx": "onnx"}
INSTALL_HINT = "pip install -r requirements.txt"


def convert(model, fmt, precision, destination):
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
        converter["tf2onnx"] = version_of("tf2onnx")
        converter["onnx"] = version_of("onnx")
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
def quiet_stderr():
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


def version_of(distribution):
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
