"""Registered custom layers.

Everything a saved generator or GAN needs beyond Keras's own layers lives here, registered
with Keras's serialisation, so a ``.keras`` file loads with a plain ``keras.models.load_model``
once this module is imported, on any backend. ``Lambda`` layers would not: they pickle Python
bytecode that breaks across Python and Keras versions.
"""

import keras
from keras import ops

PACKAGE = "srgan"

# keras.applications.vgg19.preprocess_input ("caffe" mode): BGR order, per-channel ImageNet means.
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package=PACKAGE)
class PixelShuffle(keras.layers.Layer):
    """Sub-pixel convolution's rearrangement (Shi et al. 2016): C*r*r maps -> C maps, r x larger.

    Wraps ``keras.ops.depth_to_space`` so the model stays backend-agnostic and serialisable.
    """

    def __init__(self, scale=2, **kwargs):
        super().__init__(**kwargs)
        self.scale = int(scale)

    def call(self, inputs):
        return ops.depth_to_space(inputs, self.scale)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        r = self.scale
        return (
            batch,
            None if height is None else height * r,
            None if width is None else width * r,
            None if channels is None else channels // (r * r),
        )

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package=PACKAGE)
class VGGPreprocess(keras.layers.Layer):
    """Turns the generator's RGB [-1, 1] images into what ImageNet VGG19 was trained on.

    VGG19's Keras weights expect BGR, 0-255, minus the ImageNet channel means. Doing this inside
    the feature extractor means callers pass images in the generator's own range and never have
    to remember the convention.
    """

    def call(self, inputs):
        rgb_255 = (inputs + 1.0) * 127.5
        bgr = ops.flip(rgb_255, axis=-1)
        mean = ops.convert_to_tensor(IMAGENET_BGR_MEAN, dtype=bgr.dtype)
        return bgr - mean

    def compute_output_shape(self, input_shape):
        return input_shape
