"""The combined SRGAN model and the compiles of all three trainable models.

The combined model maps LR to ``[content(G(LR)), D(G(LR))]`` and is compiled with
``["mse", "binary_crossentropy"]`` weighted ``[1, 1e-3]``: the paper's perceptual loss
(content loss + 10^-3 adversarial loss). ``content`` is the frozen VGG feature extractor, or the
identity for the pixel-MSE variants (SRGAN-MSE).

Keras 3 fixes which weights a model trains when its train function is first traced, not at
``compile``. So the discriminator is frozen and unfrozen around every call by
``discriminator_trainable``; the training loop must use it (see training/loop.py).
"""

import contextlib

import keras

ADVERSARIAL_WEIGHT = 1e-3


def adam(learning_rate=1e-4, beta_1=0.9):
    return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1)


def compile_generator(generator, *, learning_rate=1e-4, beta_1=0.9):
    """SRResNet pretraining: the generator alone, pixel MSE."""
    generator.compile(optimizer=adam(learning_rate, beta_1), loss="mse")
    return generator


def compile_discriminator(discriminator, *, learning_rate=1e-4, beta_1=0.9):
    discriminator.trainable = True
    discriminator.compile(optimizer=adam(learning_rate, beta_1), loss="binary_crossentropy")
    return discriminator


def build_gan(
    generator,
    discriminator,
    feature_extractor=None,
    *,
    learning_rate=1e-4,
    beta_1=0.9,
    adversarial_weight=ADVERSARIAL_WEIGHT,
):
    """The two-output combined model, compiled, with the discriminator frozen inside it.

    The LR input size follows the discriminator's HR size (its dense head fixes it).
    """
    hr_size = discriminator.input_shape[1]
    scale = 4
    lr = keras.Input(shape=(hr_size // scale, hr_size // scale, 3), name="lr")
    sr = generator(lr)
    content = feature_extractor(sr) if feature_extractor is not None else sr
    content = keras.layers.Identity(name="content")(content)
    validity = keras.layers.Identity(name="adversarial")(discriminator(sr))
    gan = keras.Model(lr, [content, validity], name="srgan")
    discriminator.trainable = False
    gan.compile(
        optimizer=adam(learning_rate, beta_1),
        loss=["mse", "binary_crossentropy"],
        loss_weights=[1.0, adversarial_weight],
    )
    return gan


@contextlib.contextmanager
def discriminator_trainable(discriminator, trainable):
    """Set ``discriminator.trainable`` for one ``train_on_batch`` call.

    Keras 3 reads the trainable flags when a train function is traced (the first call, and any
    retrace). Setting the flag before every call keeps each model's train function and optimiser
    on the same variable list whenever tracing happens: D's own step trains D, the combined
    step leaves D's kernels and BatchNorm statistics untouched.
    """
    discriminator.trainable = trainable
    try:
        yield discriminator
    finally:
        discriminator.trainable = False
