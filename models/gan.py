"""The combined SRGAN model and the compiles of all three trainable models.

The combined model maps LR to ``[content(G(LR)), D(G(LR))]`` and is compiled with
``["mse", "binary_crossentropy"]`` weighted ``[1, 1e-3]``: the paper's perceptual loss
(content loss + 10^-3 adversarial loss). ``content`` is the frozen VGG feature extractor, or the
identity for the pixel-MSE variants (SRGAN-MSE).

With ``consistency_weight`` above 0 (not the paper's) the model has a third output, ``G(LR)``
average-pooled 4x4, trained toward the HR image pooled the same way with that weight: an LR
consistency term that pins what the LR input already determines (colour and brightness at LR
scale) and leaves texture to the content and adversarial losses. Measured on this project's
GAN stage (``benchmarks/frequency_split.py``), the paper's loss alone let those low frequencies
drift: Set5's pooled MSE grew from SRResNet's 0.0004 to 0.0053 in 3,000 steps, and taking them
back from SRResNet recovered 3.1 of the 3.5 dB PSNR-Y lost while LPIPS also improved.

Keras 3 fixes which weights a model trains when its train function is first traced, not at
``compile``. So the discriminator is frozen and unfrozen around every call by
``discriminator_trainable``; the training loop must use it (see training/loop.py).
"""

import contextlib

import keras

ADVERSARIAL_WEIGHT = 1e-3


PIXEL_LOSSES = {"mse": "mse", "l1": "mean_absolute_error"}


def adam(learning_rate=1e-4, beta_1=0.9, ema=None):
    """Adam; with ``ema`` (a decay such as 0.999) it also keeps an exponential moving average of
    the weights it trains (Keras's ``use_ema``), which ``finalize_variable_values`` reads out."""
    if ema is None:
        return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1)
    return keras.optimizers.Adam(
        learning_rate=learning_rate, beta_1=beta_1, use_ema=True, ema_momentum=ema
    )


def compile_generator(generator, *, learning_rate=1e-4, beta_1=0.9, loss="mse", ema=None):
    """SRResNet pretraining: the generator alone, pixel MSE (the paper's) or L1."""
    generator.compile(optimizer=adam(learning_rate, beta_1, ema), loss=PIXEL_LOSSES[loss])
    return generator


def _is_real(y_true):
    """Real images are labelled above 0.5 (the report's noisy labels are 0.9 to 1)."""
    return keras.ops.cast(keras.ops.greater(y_true[:, 0], 0.5), "float32")


def _mean_over(values, mask):
    return keras.ops.sum(values * mask) / keras.ops.maximum(keras.ops.sum(mask), 1.0)


def _correct(y_true, y_pred):
    said_real = keras.ops.greater(y_pred[:, 0], 0.5)
    is_real = keras.ops.greater(y_true[:, 0], 0.5)
    return keras.ops.cast(keras.ops.equal(said_real, is_real), "float32")


# D trains on one batch holding the real and the fake images (see training/loop.py gan_step),
# so its losses and accuracies on each half are metrics of that one call: Keras resets metrics
# at every train_on_batch and computes them from the pre-update predictions, at no extra cost.
@keras.saving.register_keras_serializable(package="srgan")
def real_loss(y_true, y_pred):
    """D's binary cross-entropy on the real images of the batch."""
    return _mean_over(keras.losses.binary_crossentropy(y_true, y_pred), _is_real(y_true))


@keras.saving.register_keras_serializable(package="srgan")
def fake_loss(y_true, y_pred):
    """D's binary cross-entropy on the generated images of the batch."""
    return _mean_over(keras.losses.binary_crossentropy(y_true, y_pred), 1.0 - _is_real(y_true))


@keras.saving.register_keras_serializable(package="srgan")
def real_accuracy(y_true, y_pred):
    """The share of real images D calls real (Keras's binary_accuracy compares the rounded
    prediction with the label itself, so noisy labels such as 0.95 would always be wrong)."""
    return _mean_over(_correct(y_true, y_pred), _is_real(y_true))


@keras.saving.register_keras_serializable(package="srgan")
def fake_accuracy(y_true, y_pred):
    """The share of generated images D calls fake."""
    return _mean_over(_correct(y_true, y_pred), 1.0 - _is_real(y_true))


DISCRIMINATOR_METRICS = (real_loss, fake_loss, real_accuracy, fake_accuracy)


def compile_discriminator(discriminator, *, learning_rate=1e-4, beta_1=0.9):
    discriminator.trainable = True
    discriminator.compile(
        optimizer=adam(learning_rate, beta_1),
        loss="binary_crossentropy",
        metrics=list(DISCRIMINATOR_METRICS),
    )
    return discriminator


def build_gan(
    generator,
    discriminator,
    feature_extractor=None,
    *,
    learning_rate=1e-4,
    beta_1=0.9,
    adversarial_weight=ADVERSARIAL_WEIGHT,
    consistency_weight=0.0,
    ema=None,
):
    """The two-output combined model, compiled, with the discriminator frozen inside it.

    The LR input size follows the discriminator's HR size (its dense head fixes it). ``ema``
    averages the generator's weights (the combined model trains only those).
    ``consistency_weight`` > 0 adds the third, ``consistency`` output (the module docstring).
    """
    hr_size = discriminator.input_shape[1]
    scale = 4
    lr = keras.Input(shape=(hr_size // scale, hr_size // scale, 3), name="lr")
    sr = generator(lr)
    content = feature_extractor(sr) if feature_extractor is not None else sr
    content = keras.layers.Identity(name="content")(content)
    validity = keras.layers.Identity(name="adversarial")(discriminator(sr))
    outputs, losses = [content, validity], ["mse", "binary_crossentropy"]
    weights = [1.0, adversarial_weight]
    if consistency_weight > 0:
        pooled = keras.layers.AveragePooling2D(scale, name="consistency")(sr)
        outputs.append(pooled)
        losses.append("mse")
        weights.append(consistency_weight)
    gan = keras.Model(lr, outputs, name="srgan")
    discriminator.trainable = False
    gan.compile(optimizer=adam(learning_rate, beta_1, ema), loss=losses, loss_weights=weights)
    return gan


def pooled_like_consistency(hr, scale=4):
    """The consistency output's target: ``hr`` (N, H, W, C) average-pooled ``scale`` x ``scale``,
    as the combined model pools G(LR)."""
    n, height, width, channels = hr.shape
    blocks = hr.reshape(n, height // scale, scale, width // scale, scale, channels)
    return blocks.mean(axis=(2, 4), dtype="float32").astype(hr.dtype)


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
