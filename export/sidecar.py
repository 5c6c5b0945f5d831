"""The sidecar ``<file>.json`` beside each export: how to call the file, and how well it does.

It names the input and output, their dtypes, shapes and ranges, the scale, the Keras weights'
sha256, the quantization, the converter's versions, the check against Keras on a probe image
run by the format's own runtime, and, given a benchmark dataset, the PSNR-Y there against
Keras's. Its own module because it is the one place that decides what a sidecar says; the
export only writes it.
"""

import hashlib
from pathlib import Path

from data import conventions
from export.serving import INPUT_NAME, OUTPUT_NAME, SIGNATURE

QUANTIZATION_NOTES = {
    "float32": "none: float32 weights and arithmetic",
    "float16": "float16 weights (half the size), dequantized to float32 when the model loads",
    "int8": "int8 dynamic range: int8 weights; activations quantized on the fly in each conv, "
    "float32 in and out",
}


def sidecar_path(path):
    path = Path(path)
    return path.with_name(path.name + ".json")


def sidecar_info(fmt, precision, path, common, converter, check, scores):
    """Everything a sidecar says about one file, in the order it says it."""
    info = {
        "format": fmt,
        "file": path.name,
        "precision": precision,
        "quantization": QUANTIZATION_NOTES[precision],
        **io_info(fmt, common),
        "converter": converter,
        "check": check,
    }
    if scores is not None:
        info["psnr"] = scores
    return info


def common_info(weights, generator, input_dtype, input_size):
    """What every file of one export shares: the scale is the generator's own."""
    from models.description import describe

    return {
        "scale": describe(generator).scale,
        "input_dtype": input_dtype,
        "input_size": list(input_size) if input_size else None,
        "weights": {
            "file": str(weights),
            "sha256": sha256_of(weights),
            "model": generator.name,
            "parameters": int(generator.count_params()),
        },
    }


def io_info(fmt, common):
    size = common["input_size"]
    height, width = size or (None, None)
    scale = common["scale"]
    out_h, out_w = (scale * height, scale * width) if size else (None, None)
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
                "meaning": "upscale.py's levels before rounding, (tanh output + 1) * "
                f"{conventions.LEVELS / 2}; clip(rint(x), 0, 255) as uint8 is its image",
            }
        ],
        "shape": shape_note,
        "scale": scale,
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


def summary(path, info):
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
