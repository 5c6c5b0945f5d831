"""The combined SRGAN model and the compiles of all three trainable models.

The combined model maps LR to ``[content(G(LR)), D(G(LR))]`` and is compiled with
``["mse", "binary_crossentropy"]`` weighted ``[1, 1e-3]``: the paper's perceptual loss
(content loss + 10^-3 adversarial loss). ``content`` is the frozen VGG feature extractor, or the
identity for the pixel-MSE variants (SRGAN-MSE).

With ``consistency_weight`` above 0 (not the paper's) the model has a third output, ``G(LR)``
average-pooled over scale x scale pixels (4x4 at the paper's x4; the generator says its scale,
``models.description``), trained toward the HR image pooled the same way with that weight: an LR
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
import numpy as np

from models.description import describe
from models.layers import PhaseDeviations, StackBatches, phase_deviations
from models.options import ADVERSARIAL_LOSSES

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


# -- the relativistic average GAN (--adversarial ragan) --------------------------------------
# D outputs a logit C(x), and every batch its losses see holds the real images in its first
# half and the generated ones in its second (D's own batch, and the combined model's
# StackBatches output). D(real) = sigmoid(C(real) - mean C(fake)) and the reverse for fakes.
def _relativistic_logits(y_pred):
    half = keras.ops.shape(y_pred)[0] // 2
    real, fake = y_pred[:half], y_pred[half:]
    return keras.ops.concatenate([real - keras.ops.mean(fake), fake - keras.ops.mean(real)], axis=0)


@keras.saving.register_keras_serializable(package="srgan")
def relativistic_bce(y_true, y_pred):
    """ESRGAN's relativistic average BCE on logits of [real; generated] halves. D's targets are
    1 then 0; G's are 0 then 1 (each half is pushed to look more real than the other)."""
    return keras.losses.binary_crossentropy(y_true, _relativistic_logits(y_pred), from_logits=True)


# D's metrics on the relativistic probabilities: the same quantities as DISCRIMINATOR_METRICS,
# logged under the same names (``compile_discriminator``), so the logs and the collapse watch
# read both GANs alike. Named, registered functions: a model file names them to load them.
def _on_relative(metric):
    """``metric`` of the relativistic probabilities, registered under its own name."""

    def on_relative(y_true, y_pred):
        return metric(y_true, keras.ops.sigmoid(_relativistic_logits(y_pred)))

    on_relative.__name__ = on_relative.__qualname__ = f"relativistic_{metric.__name__}"
    return keras.saving.register_keras_serializable(package="srgan")(on_relative)


RELATIVISTIC_METRICS = tuple(_on_relative(metric) for metric in DISCRIMINATOR_METRICS)
(
    relativistic_real_loss,
    relativistic_fake_loss,
    relativistic_real_accuracy,
    relativistic_fake_accuracy,
) = RELATIVISTIC_METRICS


def compile_discriminator(discriminator, *, learning_rate=1e-4, beta_1=0.9, adversarial="bce"):
    """D's own step: BCE on probabilities, or (``ragan``) the relativistic loss on logits."""
    discriminator.trainable = True
    if adversarial == "ragan":
        loss = relativistic_bce
        metrics = [
            keras.metrics.MeanMetricWrapper(metric, name=same.__name__)
            for metric, same in zip(RELATIVISTIC_METRICS, DISCRIMINATOR_METRICS, strict=True)
        ]
    else:
        loss, metrics = "binary_crossentropy", list(DISCRIMINATOR_METRICS)
    discriminator.compile(optimizer=adam(learning_rate, beta_1), loss=loss, metrics=metrics)
    return discriminator


def build_gan(
    generator,
    discriminator,
    feature_extractor=None,
    *,
    learning_rate=1e-4,
    beta_1=0.9,
    adversarial="bce",
    adversarial_weight=ADVERSARIAL_WEIGHT,
    consistency_weight=0.0,
    pixel_weight=0.0,
    grid_weight=0.0,
    coherent_grid_weight=0.0,
    ema=None,
):
    """The combined model, compiled, with the discriminator frozen inside it.

    The LR input size is the discriminator's HR size (its dense head fixes it) over the
    generator's own scale (``models.description``). ``ema`` averages the generator's weights
    (the combined model trains only those). Outputs, in order:
    ``content`` and ``adversarial`` (the paper's two), then one per extra term whose weight is
    above 0 (none by default):

    - ``consistency``: G(LR) average-pooled scale x scale against HR pooled alike, MSE (module
      docstring);
    - ``pixel``: G(LR) against HR, L1 (ESRGAN's pixel term, 1e-2 there);
    - ``grid``: the sub-pixel phase deviations of G(LR) against HR's, MSE
      (``models.layers.phase_deviations``, period the scale, tile ``grid_tile(scale)``), a
      penalty on the pixel-shuffle grid alone;
    - ``coherent_grid``: the same with one tile for the whole HR crop: the part of the grid
      that keeps its phase across the crop, which is what the Grid measure's peaks are made
      of. Texture that differs from HR's averages out over the crop's tiles (36 at HR 96,
      x4), so this term can take far more weight than ``grid`` without pressing on texture
      (``benchmarks/grid_penalty.py`` prints both parts for any generator).

    With ``adversarial="ragan"`` the model takes ``[lr, hr]`` and its adversarial output is D's
    logits on HR then on G(LR) (``relativistic_bce``). ``gan_inputs`` and ``gan_targets`` build
    what ``train_on_batch`` needs for any of these.
    """
    if adversarial not in ADVERSARIAL_LOSSES:
        raise ValueError(f"unknown adversarial loss {adversarial!r}")
    hr_size = discriminator.input_shape[1]
    scale = describe(generator).scale
    tile = grid_tile(scale)
    if grid_weight > 0 and hr_size % tile:
        raise ValueError(
            f"the grid term's {tile}-pixel tiles (x{scale}) do not divide the HR size {hr_size}"
        )
    lr = keras.Input(shape=(hr_size // scale, hr_size // scale, 3), name="lr")
    sr = generator(lr)
    content = feature_extractor(sr) if feature_extractor is not None else sr
    content = keras.layers.Identity(name="content")(content)
    inputs = lr
    if adversarial == "ragan":
        hr = keras.Input(shape=(hr_size, hr_size, 3), name="hr")
        inputs = [lr, hr]
        validity = StackBatches(name="adversarial")([discriminator(hr), discriminator(sr)])
        adversarial_loss = relativistic_bce
    else:
        validity = keras.layers.Identity(name="adversarial")(discriminator(sr))
        adversarial_loss = "binary_crossentropy"
    outputs, losses = [content, validity], ["mse", adversarial_loss]
    weights = [1.0, adversarial_weight]
    extras = (
        (consistency_weight, "mse", lambda name: keras.layers.AveragePooling2D(scale, name=name)),
        (pixel_weight, "mean_absolute_error", lambda name: keras.layers.Identity(name=name)),
        (grid_weight, "mse", lambda name: PhaseDeviations(scale, tile, name=name)),
        (coherent_grid_weight, "mse", lambda name: PhaseDeviations(scale, hr_size, name=name)),
    )
    for (weight, loss, layer), name in zip(extras, EXTRA_OUTPUTS, strict=True):
        if weight > 0:  # named: gan_targets and the logs go by the output's name
            outputs.append(layer(name)(sr))
            losses.append(loss)
            weights.append(weight)
    gan = keras.Model(inputs, outputs, name="srgan")
    discriminator.trainable = False
    gan.compile(optimizer=adam(learning_rate, beta_1, ema), loss=losses, loss_weights=weights)
    return gan


# The extra terms' output names, in the order build_gan adds them.
EXTRA_OUTPUTS = ("consistency", "pixel", "grid", "coherent_grid")

# The grid term's tile, in LR pixels: 4 (16 HR pixels at x4), small enough that a grid whose
# sign follows the texture is caught, large enough (16 pixels a phase) that the term is no
# second pixel loss: at x4 it constrains 15 of every 256 dimensions of the image.
GRID_TILE_LR_PIXELS = 4


def grid_tile(scale):
    """The grid term's tile in HR pixels at ``scale``: ``GRID_TILE_LR_PIXELS`` times the
    period of the pixel-shuffle grid, which is the scale (its phases repeat every ``scale``
    pixels, however many x2 stages made it).

    16 at x4, as always; 8 at x2 and 32 at x8. A fixed 16-pixel tile would keep 16 pixels a
    phase only at x4: at x8 it would average each phase over 4 pixels and constrain 63 of 256
    dimensions (the term becomes a coarse pixel loss), at x2 over 64 pixels (a local grid is
    diluted). Four LR pixels a tile keep 16 pixels a phase and about 1 in 16 dimensions at
    every scale. Every HR size (a multiple of 16) divides by it, except at x8, where
    ``--grid-weight`` needs a multiple of 32 (``build_gan`` refuses others, and training says
    so before it starts: ``training.networks.check_config``).
    """
    return GRID_TILE_LR_PIXELS * scale


def is_relativistic(gan):
    """Whether the combined model was built with ``adversarial="ragan"``."""
    return isinstance(gan.get_layer("adversarial"), StackBatches)


def gan_inputs(gan, lr, hr):
    """What the combined model takes: LR, or [LR, HR] for the relativistic GAN."""
    return [lr, hr] if is_relativistic(gan) else lr


def gan_targets(gan, hr, content_target):
    """The targets of each output of the combined model, in its output order.

    ``content_target`` is the feature extractor's output on ``hr`` (or ``hr`` itself for a
    pixel content loss). G wants D to call its images real: target 1; with the relativistic
    GAN, the real half 0 and the generated half 1.
    """
    ones = np.ones((len(hr), 1), np.float32)
    relativistic = is_relativistic(gan)
    adversarial = np.concatenate([np.zeros_like(ones), ones]) if relativistic else ones
    targets = {
        "content": lambda: content_target,
        "adversarial": lambda: adversarial,
        # The pooling and the phases the model's own layers apply, so target and output agree.
        "consistency": lambda: pooled_like_consistency(hr, _consistency_pool(gan)),
        "pixel": lambda: hr,
        "grid": lambda: grid_target(hr, gan.get_layer("grid")),
        "coherent_grid": lambda: grid_target(hr, gan.get_layer("coherent_grid")),
    }
    return [targets[name]() for name in gan.output_names]


def _consistency_pool(gan):
    """The side of the consistency output's pooling: the generator's scale."""
    return gan.get_layer("consistency").pool_size[0]


def grid_target(hr, layer):
    """The grid output's target: ``hr``'s phase deviations, with the period and the tile of
    the combined model's own ``PhaseDeviations`` layer (so the two cannot disagree)."""
    return phase_deviations(hr, layer.period, layer.tile, xp=np).astype(hr.dtype)


def pooled_like_consistency(hr, scale):
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
