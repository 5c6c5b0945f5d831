"""What every exported graph computes and how it is called: the contract of an exported file.

An export is what ``upscale.py`` computes before it rounds: LR RGB in, NHWC, uint8 0-255 by
default (``input_dtype="float32"``: float32 in [0, 1], what the generator itself takes), and the
RGB image out, larger by the generator's own scale (``models.description``; x4 for the shipped
ones), as float32 levels in [0, 255], ``(sr + 1) * 127.5`` of the generator's tanh
output. ``to_uint8`` (round half to even, clip) then gives upscale.py's image. The conversions
on both ends are Keras's own ``Rescaling`` layers, inside the graph, so a user of the file never
has to know the generator's [-1, 1] convention.

Its own module because every other part of the export reads it: the converters name the input
and output by it, the runtimes call the files by it, the checks feed and read them by it, and
the sidecar describes it.
"""

import numpy as np

from data import conventions

INPUT_DTYPES = ("uint8", "float32")
INPUT_NAME = "lr"
OUTPUT_NAME = "sr"
# The signature SavedModel and TFLite files are called through (Keras's export names it so).
SIGNATURE = "serving_default"


def serving_model(generator, *, input_dtype="uint8", input_size=None):
    """The generator between upscale.py's conversions, as the one Keras model that is exported.

    uint8 -> ``x / 255`` -> generator -> ``(sr + 1) * 127.5`` as Keras ``Rescaling`` layers,
    which every converter knows. Its output is a dict, ``{"sr": levels}``, so the output is
    called ``sr`` in every format (a plain output would be ``output_0`` in SavedModel and
    TFLite, ``Identity:0`` in ONNX). An UpSampling2D generator's nearest upsampling runs as
    tile + depth_to_space, the same values in ops every runtime has
    (``models.layers.nearest_upsampling_as_shuffles``).
    """
    import keras
    from keras import layers

    from models.layers import nearest_upsampling_as_shuffles

    generator = nearest_upsampling_as_shuffles(generator)

    if input_dtype not in INPUT_DTYPES:
        raise ValueError(f"input_dtype must be one of {INPUT_DTYPES}, not {input_dtype!r}")
    height, width = input_size or (None, None)
    lr = keras.Input((height, width, 3), dtype=input_dtype, name=INPUT_NAME)
    unit = 1 / conventions.LEVELS
    x = layers.Rescaling(unit, name="to_unit")(lr) if input_dtype == "uint8" else lr
    scale, offset = conventions.levels_rescaling()
    levels = layers.Rescaling(scale, offset=offset, name="to_levels")(generator(x))
    return keras.Model(lr, {OUTPUT_NAME: levels}, name=f"{generator.name}_serving")


def to_model_input(pixels, input_dtype="uint8"):
    """uint8 RGB (NHWC) as an export with ``input_dtype`` takes it."""
    pixels = np.asarray(pixels, np.uint8)
    return pixels if input_dtype == "uint8" else conventions.to_model_input(pixels)


def to_uint8(levels, *, grey=False):
    """An export's output levels as upscale.py's uint8 image; ``grey``: BT.601 luma first, as
    ``inference.tiling`` brings a grey image's colour output back to grey."""
    levels = np.asarray(levels, np.float32)
    if grey:
        levels = conventions.luma(levels)
    return conventions.to_uint8(levels)
