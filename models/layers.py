"""Registered custom layers.

Everything a saved generator or GAN needs beyond Keras's own layers lives here, registered
with Keras's serialisation, so a ``.keras`` file loads with a plain ``keras.models.load_model``
once this module is imported, on any backend. ``Lambda`` layers would not: they pickle Python
bytecode that breaks across Python and Keras versions.
"""

import keras
from keras import ops

from data import conventions

PACKAGE = "srgan"

# keras.applications.vgg19.preprocess_input ("caffe" mode): BGR order, per-channel ImageNet means.
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)


def _scaled(input_shape, scale, channels):
    """An NHWC shape ``scale`` times larger in space, with ``channels`` maps."""
    batch, height, width, _ = input_shape
    height, width = (None if side is None else side * scale for side in (height, width))
    return (batch, height, width, channels)


@keras.saving.register_keras_serializable(package=PACKAGE)
class PixelShuffle(keras.layers.Layer):
    """Sub-pixel convolution's rearrangement (Shi et al. 2016): C*r*r maps -> C maps, r x larger.

    Wraps ``keras.ops.depth_to_space`` so the model stays backend-agnostic and serialisable.
    """

    def __init__(self, scale=conventions.UPSAMPLING_FACTOR, **kwargs):
        super().__init__(**kwargs)
        self.scale = int(scale)

    def call(self, inputs):
        return ops.depth_to_space(inputs, self.scale)

    def compute_output_shape(self, input_shape):
        channels = input_shape[3]
        fewer = None if channels is None else channels // self.scale**2
        return _scaled(input_shape, self.scale, fewer)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package=PACKAGE)
class GeneratorSpec(keras.layers.Layer):
    """What the generator it sits in is, carried in its config: passes its input through.

    A saved ``.keras`` file stores each layer's config, so a generator built with this layer
    after its input says its own scale, upsampler, block count, activation and value ranges,
    and every tool reads them from the file (``models.description.describe``) instead of
    assuming x4 or probing shapes. An identity costs nothing at run time, and the model stays
    a plain functional Keras model that loads wherever this module is imported.
    """

    def __init__(
        self,
        scale=conventions.DEFAULT_SCALE,
        upsample="pixelshuffle",
        blocks=16,
        upsample_activation="prelu",
        input_range=conventions.MODEL_INPUT_RANGE,
        output_range=conventions.MODEL_OUTPUT_RANGE,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.scale = conventions.check_scale(scale)
        self.upsample = str(upsample)
        self.blocks = int(blocks)
        self.upsample_activation = str(upsample_activation)
        self.input_range = tuple(float(value) for value in input_range)
        self.output_range = tuple(float(value) for value in output_range)

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "scale": self.scale,
            "upsample": self.upsample,
            "blocks": self.blocks,
            "upsample_activation": self.upsample_activation,
            "input_range": list(self.input_range),
            "output_range": list(self.output_range),
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class VGGPreprocess(keras.layers.Layer):
    """Turns the generator's RGB [-1, 1] images into what ImageNet VGG19 was trained on.

    VGG19's Keras weights expect BGR, 0-255, minus the ImageNet channel means. Doing this inside
    the feature extractor means callers pass images in the generator's own range and never have
    to remember the convention.
    """

    def call(self, inputs):
        rgb_255 = conventions.to_levels(inputs)
        bgr = ops.flip(rgb_255, axis=-1)
        mean = ops.convert_to_tensor(IMAGENET_BGR_MEAN, dtype=bgr.dtype)
        return bgr - mean

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package=PACKAGE)
class StackBatches(keras.layers.Layer):
    """Its inputs one after another along the batch axis: the combined model's relativistic
    adversarial output, D on the real images then D on the generated ones, in one tensor so
    one loss sees both halves (``models.gan.relativistic_bce``)."""

    def call(self, inputs):
        return ops.concatenate(list(inputs), axis=0)

    def compute_output_shape(self, input_shapes):
        first = input_shapes[0]
        batches = [shape[0] for shape in input_shapes]
        batch = None if any(b is None for b in batches) else sum(batches)
        return (batch, *first[1:])


def phase_deviations(images, period=conventions.DEFAULT_SCALE, tile=16, xp=ops):
    """Per tile of ``tile`` x ``tile`` pixels, the mean of each of the period x period sub-pixel
    phases minus the tile's mean: (N, H/tile, period, W/tile, period, C).

    A pixel-shuffle grid is exactly this: an offset that depends on (row mod 4, column mod 4)
    at x4; its period is the generator's scale.
    By Parseval, its squared sum over a tile is the tile's power at the 15 grid frequencies
    (k/4, l/4), so an MSE against the HR image's own deviations penalises the grid the
    evaluation measures (``evaluation.grid``) and nothing else. ``xp`` is ``keras.ops`` inside
    a model and numpy for the targets.
    """
    n, height, width, channels = images.shape
    n = -1 if n is None else n
    cells = tile // period
    shape = (n, height // tile, cells, period, width // tile, cells, period, channels)
    means = xp.mean(xp.reshape(images, shape), axis=(2, 5))
    return means - xp.mean(means, axis=(2, 4), keepdims=True)


@keras.saving.register_keras_serializable(package=PACKAGE)
class PhaseDeviations(keras.layers.Layer):
    """``phase_deviations`` of its input, as a layer of the combined model (``--grid-weight``)."""

    def __init__(self, period=conventions.DEFAULT_SCALE, tile=16, **kwargs):
        super().__init__(**kwargs)
        self.period = int(period)
        self.tile = int(tile)

    def call(self, inputs):
        return phase_deviations(inputs, self.period, self.tile)

    def compute_output_shape(self, input_shape):
        n, height, width, channels = input_shape
        return (n, height // self.tile, self.period, width // self.tile, self.period, channels)

    def get_config(self):
        return {**super().get_config(), "period": self.period, "tile": self.tile}


@keras.saving.register_keras_serializable(package=PACKAGE)
class NearestUpsample(keras.layers.Layer):
    """Nearest-neighbour upsampling by ``scale`` as depth_to_space of the channels tiled
    ``scale**2`` times: each output pixel (scale*i + a, scale*j + b) takes input channel
    (a*scale + b)*C + c, which tiling makes channel c of pixel (i, j) for every (a, b).

    The same values as ``UpSampling2D(interpolation="nearest")``, which Keras computes with two
    ``repeat``s whose dynamic shapes lose the tensor's rank in a TFLite conversion: the conv
    after it then needs TensorFlow's own kernel (``FlexConv2D``), which LiteRT does not have.
    TILE and DEPTH_TO_SPACE are TFLite builtins. ``nearest_upsampling_as_shuffles`` puts it
    in place of a saved generator's ``UpSampling2D`` layers for export.
    """

    def __init__(self, scale=conventions.UPSAMPLING_FACTOR, **kwargs):
        super().__init__(**kwargs)
        self.scale = int(scale)

    def call(self, inputs):
        return ops.depth_to_space(ops.tile(inputs, [1, 1, 1, self.scale**2]), self.scale)

    def compute_output_shape(self, input_shape):
        return _scaled(input_shape, self.scale, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def nearest_upsampling_as_shuffles(model):
    """``model`` with each square nearest ``UpSampling2D`` replaced by ``NearestUpsample`` (the
    other layers shared, not copied); ``model`` itself when it has none."""

    def is_nearest(layer):
        size = getattr(layer, "size", None)
        return (
            isinstance(layer, keras.layers.UpSampling2D)
            and layer.interpolation == "nearest"
            and size[0] == size[1]
        )

    if not any(is_nearest(layer) for layer in _all_layers(model)):
        return model

    def replace(layer):
        if is_nearest(layer):
            return NearestUpsample(layer.size[0], name=layer.name, dtype=layer.dtype_policy)
        if isinstance(layer, keras.Model):
            return keras.models.clone_model(layer, clone_function=replace)
        return layer

    clone = keras.models.clone_model(model, clone_function=replace)
    clone.set_weights(model.get_weights())
    return clone


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
