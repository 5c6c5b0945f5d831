"""Running an exported file with its format's own runtime, and the Keras model beside it.

``tf.saved_model.load``, LiteRT's ``Interpreter`` (a signature runner, which resizes to each
input) and ``onnxruntime.InferenceSession``: each is wrapped in a ``Runner`` that takes an NHWC
batch and returns the levels, so the checks, the benchmarks and a user's script call every
format the same way. Its own module because loading a file is all a user of an export needs,
without the converters.
"""

import os
from pathlib import Path

import numpy as np

from export.convert import SUFFIXES, version_of
from export.serving import INPUT_NAME, OUTPUT_NAME, SIGNATURE


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
            f"ai-edge-litert {version_of('ai-edge-litert')}",
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


def keras_runner(model):
    return lambda batch: np.asarray(model.predict_on_batch(batch)[OUTPUT_NAME])


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
