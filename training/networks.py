"""The networks a training stage needs, built and compiled from its config.

``pretrain`` needs the generator alone, built at the run's ``--scale``; ``gan`` adds the
discriminator (the same at every scale: it sees HR images), the VGG feature extractor (for a
VGG content loss) and the combined model. A generator may start from another run's weights
(``--init-generator``), given as a ``.keras`` file, a run directory or a checkpoint folder:
``runtime.rundir.generator_file`` finds the generator behind such a path, and its own
description (``models.description``) must say the run's scale, unless
``--init-across-scales`` asks for the layers both scales have (``load_shared_layers``).
"""

import dataclasses
import warnings

import keras

from models.description import describe
from models.discriminator import build_discriminator
from models.gan import (
    build_gan,
    compile_discriminator,
    compile_generator,
    discriminator_trainable,
    grid_tile,
)
from models.generator import build_generator
from models.precision import choose_precision, dtype_policy
from models.vgg import MissingVGGWeights, build_feature_extractor, find_vgg_weights
from runtime import rundir
from runtime.errors import UserError
from training import distribute


@dataclasses.dataclass
class Networks:
    generator: keras.Model
    discriminator: keras.Model | None = None
    feature_extractor: keras.Model | None = None
    gan: keras.Model | None = None

    def models_to_save(self):
        saved = {"generator": self.generator}
        if self.discriminator is not None:
            saved["discriminator"] = self.discriminator
        return saved

    def optimizers(self):
        """Each optimiser with the variables it trains, in the order its first step builds them."""
        if self.gan is None:
            return {"generator": (self.generator.optimizer, self.generator.trainable_variables)}
        with discriminator_trainable(self.discriminator, True):
            d_variables = list(self.discriminator.trainable_variables)
        return {
            "gan": (self.gan.optimizer, self.gan.trainable_variables),
            "discriminator": (self.discriminator.optimizer, d_variables),
        }


def averaged_generator(networks):
    """The generator with its optimiser's moving-average weights (``--ema``): a new model; the
    training one keeps its raw weights. Without EMA, the generator itself (under tf.distribute
    a view of it that predicts on this worker alone, ``training.distribute.detached``).

    Keras's ``use_ema`` keeps the averages inside the optimiser (saved with its state, so a
    resume continues them exactly) and reads them out only through
    ``finalize_variable_values``, which overwrites the model's weights. So the raw weights are
    kept aside, the averages read out and copied into a clone, and the raw weights put back.
    BatchNorm statistics are not trained by the optimiser: they stay the raw model's (already
    moving averages themselves).
    """
    optimizer, variables = next(iter(networks.optimizers().values()))  # the generator's
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # float16: loss scaling wraps it
    if not inner.use_ema or not inner.built:
        return distribute.detached(networks.generator)  # itself, outside tf.distribute
    generator = networks.generator
    raw = [keras.ops.convert_to_numpy(variable) for variable in variables]
    optimizer.finalize_variable_values(variables)
    try:
        averaged_weights = generator.get_weights()
    finally:
        for variable, value in zip(variables, raw, strict=True):
            variable.assign(value)
    averaged = keras.models.clone_model(generator)  # same layers' dtype policies
    averaged.set_weights(averaged_weights)
    return averaged


def check_config(config):
    """What the networks refuse in a config, as one line, which ``training.config.validate``
    cannot see without Keras: the grid term's tile at the run's scale, and an
    ``--init-generator`` of another scale. The trainer asks before it writes anything, and
    ``build_networks`` before it builds."""
    if config.stage == "gan" and config.grid_weight > 0:
        tile = grid_tile(config.scale)
        if config.hr_size % tile:
            raise UserError(
                f"--grid-weight at --scale {config.scale} compares {tile}-pixel tiles: "
                f"--hr-size must be a multiple of {tile}, not {config.hr_size}"
            )
    if config.init_generator and not config.init_across_scales:
        hint = (
            "start from a generator of the same scale, or pass --init-across-scales to take "
            "the layers both have"
        )
        check_generator_scale(rundir.generator_file(config.init_generator), config.scale, hint)


def build_networks(config):
    """Build and compile every model the stage needs (VGG only for a VGG content loss), in the
    config's precision (the global dtype policy is restored afterwards)."""
    # Before the seed is set: reading the --init-generator file builds a model, whose initial
    # weights would otherwise take draws from the seeded sequence the new networks start from.
    check_config(config)
    with dtype_policy(choose_precision(config.precision)):
        return _build_networks(config)


def _build_networks(config):
    keras.utils.set_random_seed(config.seed)
    generator = build_generator(
        scale=config.scale,
        blocks=config.blocks,
        upsample=config.upsample,
        upsample_activation=config.upsample_activation,
    )
    if config.init_generator and config.init_across_scales:
        source = rundir.generator_file(config.init_generator)
        saved = _quietly(lambda file: keras.models.load_model(file, compile=False), source)
        taken, left = load_shared_layers(generator, saved)
        print(
            f"--init-across-scales: {len(taken)} layers from the x{describe(saved).scale} "
            f"{source}; initialised afresh: {', '.join(left) or 'none'}",
            flush=True,
        )
    elif config.init_generator:  # of the run's scale: check_config saw to it
        _quietly(generator.load_weights, rundir.generator_file(config.init_generator))
    if config.stage == "pretrain":
        compile_generator(
            generator,
            learning_rate=config.learning_rate,
            beta_1=config.beta_1,
            loss=config.pixel_loss,
            ema=config.ema,
        )
        return Networks(generator)
    relativistic = config.adversarial == "ragan"
    discriminator = build_discriminator(config.hr_size, logits=relativistic)
    compile_discriminator(
        discriminator,
        learning_rate=config.learning_rate,
        beta_1=config.beta_1,
        adversarial=config.adversarial,
    )
    if config.init_discriminator:
        _quietly(
            discriminator.load_weights,
            rundir.discriminator_file(config.init_discriminator),
            "discriminator",
        )
    extractor = None
    if config.content_loss != "mse":
        weights = require_vgg_weights(config.vgg_weights)
        extractor = build_feature_extractor(config.content_loss, weights)
    gan = build_gan(
        generator,
        discriminator,
        extractor,
        learning_rate=config.learning_rate,
        beta_1=config.beta_1,
        adversarial=config.adversarial,
        adversarial_weight=config.adversarial_weight,
        consistency_weight=config.consistency_weight,
        pixel_weight=config.pixel_weight,
        grid_weight=config.grid_weight,
        coherent_grid_weight=config.coherent_grid_weight,
        ema=config.ema,
    )
    return Networks(generator, discriminator, extractor, gan)


def load_shared_layers(generator, source):
    """Give ``generator`` the weights of every layer ``source`` has under the same name with
    the same shapes; (names taken, names left) of the layers with weights.

    Between scales of this project's generators, that is the head, the residual body, the
    upsampling stages both have (``up1``... keep their names) and the output conv: everything
    but the stages one has and the other lacks. EDSR (Lim et al. 2017) starts its x3 and x4
    training from its x2 model this way, and reaches their accuracy in a fraction of the
    steps from scratch.
    """
    theirs = {layer.name: layer for layer in source.layers if layer.weights}
    taken, left = [], []
    for layer in generator.layers:
        if not layer.weights:
            continue
        other = theirs.get(layer.name)
        shapes = [tuple(w.shape) for w in layer.weights]
        if other is not None and [tuple(w.shape) for w in other.weights] == shapes:
            layer.set_weights(other.get_weights())
            taken.append(layer.name)
        else:
            left.append(layer.name)
    return taken, left


def require_vgg_weights(path):
    """The VGG19 file, or a UserError: models/ cannot raise our error types itself."""
    try:
        return find_vgg_weights(path)
    except MissingVGGWeights as error:
        raise UserError(str(error)) from None


def check_generator_scale(source, scale, hint="start from a generator of the same scale"):
    """A ``UserError`` naming both scales unless the generator saved in ``source`` is x``scale``.

    Loading the weights of another scale fails anyway, but in Keras's words ("A total of 1
    objects could not be loaded ... the shape of the target variable"), which do not say why.
    """
    model = _quietly(lambda file: keras.models.load_model(file, compile=False), source)
    saved = describe(model)
    if saved.scale != scale:
        legacy = " (saved before generators recorded their scale)" if saved.legacy else ""
        raise UserError(
            f"{source} is an x{saved.scale} generator{legacy}; this run trains x{scale} "
            f"(--scale {scale}): {hint}"
        )


def _quietly(load, source, what="generator"):
    """``load(source)`` with Keras's warnings silenced and its errors made one line."""
    try:
        with warnings.catch_warnings():
            # A file of another network makes Keras warn once per layer it skips (185 lines
            # for a small model) before it raises: the one line below says it all.
            warnings.simplefilter("ignore")
            return load(source)
    except Exception as error:  # Keras raises ValueError, OSError, zip errors... for bad files
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise UserError(f"cannot load {what} weights from {source}: {reason}") from None
