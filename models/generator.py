"""SRResNet, the SRGAN generator (Ledig et al. 2017, figure 4).

Input: a low-resolution RGB image in [0, 1], any size. Output: the image ``scale`` times larger
(x4 in the paper; x2 and x8 take one upsampling stage less or more) in [-1, 1] (tanh), the
ranges the paper trains with. A ``GeneratorSpec`` layer after the input records the scale,
the upsampler, the blocks and the ranges in the saved file (``models.description``).
``(None, None, 3)`` inputs let one model serve training crops, whole validation images and
tiled inference alike.
"""

import keras
from keras import layers

from data import conventions
from models.layers import GeneratorSpec, PixelShuffle

UPSAMPLE_MODES = ("pixelshuffle", "upsampling")
ACTIVATIONS = ("prelu", "leaky_relu")

# Keras's default momentum (0.99) needs thousands of steps before the moving statistics used at
# inference reflect the data; 0.9 matches PyTorch's default (0.1) used by most SRGAN references.
BN_MOMENTUM = 0.9


def _activation(kind, name):
    if kind == "prelu":
        # One slope per channel shared across positions: without shared_axes the layer would
        # need a fixed spatial size and could not take (None, None, 3) inputs.
        return layers.PReLU(shared_axes=[1, 2], alpha_initializer="zeros", name=name)
    if kind == "leaky_relu":
        return layers.LeakyReLU(negative_slope=0.2, name=name)
    raise ValueError(f"unknown activation {kind!r}; choose from {ACTIVATIONS}")


def _residual_block(x, index):
    prefix = f"res{index}"
    skip = x
    x = layers.Conv2D(64, 3, padding="same", name=f"{prefix}_conv1")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{prefix}_bn1")(x)
    x = _activation("prelu", f"{prefix}_prelu")(x)
    x = layers.Conv2D(64, 3, padding="same", name=f"{prefix}_conv2")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{prefix}_bn2")(x)
    return layers.Add(name=f"{prefix}_add")([skip, x])


def _upsample_block(x, index, mode, activation):
    """One x2 step.

    ``pixelshuffle``: conv 64->256 then depth-to-space, the paper's sub-pixel convolution.
    ``upsampling``: nearest-neighbour ``UpSampling2D`` then a 3x3 conv of 64 maps (resize-
    convolution), the report's alternative; the conv after the resize keeps the channel count
    at 64 and lets the network smooth the copied pixels.
    """
    prefix = f"up{index}"
    if mode == "pixelshuffle":
        x = layers.Conv2D(256, 3, padding="same", name=f"{prefix}_conv")(x)
        x = PixelShuffle(conventions.UPSAMPLING_FACTOR, name=f"{prefix}_shuffle")(x)
    elif mode == "upsampling":
        size = conventions.UPSAMPLING_FACTOR
        x = layers.UpSampling2D(size=size, interpolation="nearest", name=f"{prefix}_resize")(x)
        x = layers.Conv2D(64, 3, padding="same", name=f"{prefix}_conv")(x)
    else:
        raise ValueError(f"unknown upsample mode {mode!r}; choose from {UPSAMPLE_MODES}")
    return _activation(activation, f"{prefix}_act")(x)


def build_generator(
    *,
    scale=conventions.DEFAULT_SCALE,
    blocks=16,
    upsample="pixelshuffle",
    upsample_activation="prelu",
    name=None,
):
    """The SRResNet generator.

    ``scale``: 2, 4 (the paper) or 8, one x2 upsampling stage per factor of two.
    ``blocks``: residual blocks (16 in the paper). ``upsample``: ``"pixelshuffle"`` or
    ``"upsampling"``. ``upsample_activation``: ``"prelu"`` as in the paper's figure, or
    ``"leaky_relu"`` as the student report built it (its 1,554,755-parameter summary).
    """
    if upsample not in UPSAMPLE_MODES:
        raise ValueError(f"unknown upsample mode {upsample!r}; choose from {UPSAMPLE_MODES}")
    if blocks < 1:
        raise ValueError(f"blocks must be at least 1, got {blocks}")
    stages = conventions.upsampling_stages(scale)  # an unknown scale fails here
    if upsample_activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {upsample_activation!r}; choose from {ACTIVATIONS}")
    lr = keras.Input(shape=(None, None, 3), name="lr")
    spec = GeneratorSpec(
        scale=scale,
        upsample=upsample,
        blocks=blocks,
        upsample_activation=upsample_activation,
        name="generator_spec",
    )
    x = layers.Conv2D(64, 9, padding="same", name="head_conv")(spec(lr))
    x = head = _activation("prelu", "head_prelu")(x)
    for index in range(1, blocks + 1):
        x = _residual_block(x, index)
    x = layers.Conv2D(64, 3, padding="same", name="body_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="body_bn")(x)
    x = layers.Add(name="long_skip")([head, x])
    for index in range(1, stages + 1):
        x = _upsample_block(x, index, upsample, upsample_activation)
    # float32 under mixed precision too: the image itself (models/precision.py).
    sr = layers.Conv2D(3, 9, padding="same", activation="tanh", name="sr", dtype="float32")(x)
    # x4 keeps the name its files have always had.
    times = "" if scale == conventions.DEFAULT_SCALE else f"x{scale}_"
    return keras.Model(lr, sr, name=name or f"srresnet_{times}{upsample}_b{blocks}")
