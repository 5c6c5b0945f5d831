"""The generator as files that run without this project: SavedModel, TFLite (LiteRT) and ONNX.

``export_generator`` loads a ``.keras`` generator, wraps it in the serving model
(``export.serving``: uint8 LR in, float32 levels in [0, 255] out, both conversions inside the
graph) and writes each requested file. Height and width stay dynamic in all three formats
unless ``input_size`` fixes them, as some TFLite delegates need; the batch dimension is always
dynamic. Each file is written to a temporary sibling and renamed into place, and gets a sidecar
``<file>.json`` that says how to call it and how close it is to Keras.

This module plans and places the files; each step has its own module: ``export.convert``
(writing each format), ``export.runtimes`` (running a file with its format's own runtime),
``export.checks`` (the comparison with Keras on a probe image and on a benchmark dataset) and
``export.sidecar`` (what the sidecar says).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from export.checks import (
    PROBE_SIZE,
    Reference,
    benchmark_pairs,
    benchmark_scores,
    check_probe,
    probe_pixels,
)
from export.convert import FORMATS, QUANTIZATIONS, SUFFIXES, convert, quiet_stderr
from export.runtimes import keras_runner, load_exported
from export.serving import INPUT_DTYPES, serving_model, to_model_input
from export.sidecar import common_info, sidecar_info, sidecar_path, summary
from runtime import stop
from runtime.atomic import temporary_sibling, write_text
from runtime.errors import UserError


@dataclass
class Export:
    """One exported file (a folder for SavedModel) and what its sidecar says about it."""

    format: str
    precision: str  # float32, or the TFLite quantization: float16, int8
    path: Path
    sidecar: Path
    info: dict


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

    A weights file that is not a loadable generator raises ``UserError`` before anything is
    written; so does a missing dataset or converter. The scale, in the sidecars and the PSNR,
    is the generator's own (``models.description``).
    """
    from evaluation.benchmark import default_name
    from inference.weights import load_generator
    from models.description import describe

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
    scale = describe(generator).scale
    pairs = benchmark_pairs(psnr_dataset, data_dir, input_size, psnr_required, say, scale)
    _make_folder(Path(output_dir))

    model = serving_model(generator, input_dtype=input_dtype, input_size=input_size)
    probe = to_model_input(probe_pixels(input_size or PROBE_SIZE), input_dtype)
    keras_run = keras_runner(model)
    reference = Reference(probe, keras_run(probe), pairs, input_dtype)
    common = common_info(weights, generator, input_dtype, input_size)

    exports = []
    for fmt, precision, path in plan:
        stop.check()  # Ctrl-C between files: every file written so far is whole
        exports.append(_export_one(model, fmt, precision, path, common, reference, say))
    return exports


def _export_one(model, fmt, precision, path, common, reference, say):
    temporary = temporary_sibling(path)
    temporary = temporary.with_name(temporary.name + path.suffix)  # litert wants .tflite
    try:
        with quiet_stderr():
            converter = convert(model, fmt, precision, temporary)
            try:
                run = load_exported(temporary, fmt)
            except ImportError:  # onnxruntime is for development only: the file is still right
                run = None
            check = check_probe(run, reference)
            scores = benchmark_scores(run, model, reference)
            del run
        _place(temporary, path)
    except BaseException:
        _remove(temporary)
        raise
    info = sidecar_info(fmt, precision, path, common, converter, check, scores)
    sidecar = sidecar_path(path)
    write_text(sidecar, json.dumps(info, indent=2, allow_nan=False) + "\n")
    say(summary(path, info))
    return Export(fmt, precision, path, sidecar, info)


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
