"""The SRGAN discriminator (Ledig et al. 2017, figure 4).

Eight 3x3 convolutions (64, 64, 128, 128, 256, 256, 512, 512 maps; strides 1, 2, 1, 2, ...),
BatchNorm after all but the first, LeakyReLU 0.2, then Dense 1024, LeakyReLU, Dense 1 with a
sigmoid: the probability that an HR image in [-1, 1] is real. The dense head fixes the input
size, so the network is built for the preset's HR size (96 for the paper, 224 for the report).
"""

import keras
from keras import layers

from models.generator import BN_MOMENTUM

CONV_SPEC = ((64, 1), (64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 2))


def build_discriminator(hr_size=96, *, logits=False, name="discriminator"):
    """The discriminator for ``hr_size`` x ``hr_size`` RGB inputs (a multiple of 16).

    ``logits=True`` leaves out the final sigmoid: the relativistic GAN (``models.gan``) compares
    D's raw outputs on real and generated images before squashing them.
    """
    if hr_size % 16:
        raise ValueError(f"the discriminator's HR size must be a multiple of 16, got {hr_size}")
    hr = keras.Input(shape=(hr_size, hr_size, 3), name="hr")
    x = hr
    for index, (filters, stride) in enumerate(CONV_SPEC, start=1):
        x = layers.Conv2D(filters, 3, strides=stride, padding="same", name=f"conv{index}")(x)
        if index > 1:
            x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{index}")(x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"lrelu{index}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(1024, name="dense1024")(x)
    x = layers.LeakyReLU(negative_slope=0.2, name="lrelu_dense")(x)
    # float32 under mixed precision too: the loss reads it (models/precision.py).
    head = ("logit", None) if logits else ("probability", "sigmoid")
    output = layers.Dense(1, activation=head[1], name=head[0], dtype="float32")(x)
    return keras.Model(hr, output, name=name)
