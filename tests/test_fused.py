import keras
import numpy as np
import pytest

from models.fused import ConvBatchNorm, fuse
from models.generator import build_generator


def trained_looking(model, seed):
    """Batch norm statistics and PReLU slopes away from their initial values.

    Fresh ones (mean 0, variance 1, gamma 1, beta 0, slope 0) make a batch norm nearly the
    identity, and a wrong fold would go unseen.
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            size = layer.moving_mean.shape
            layer.moving_mean.assign(rng.normal(0.0, 0.3, size))
            layer.moving_variance.assign(rng.uniform(0.2, 3.0, size))
            layer.gamma.assign(rng.uniform(0.5, 1.5, size))
            layer.beta.assign(rng.normal(0.0, 0.3, size))
        elif isinstance(layer, keras.layers.PReLU):
            layer.alpha.assign(rng.uniform(-0.5, 0.5, layer.alpha.shape))


def image(shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


@pytest.fixture(scope="module")
def generator():
    keras.utils.set_random_seed(4)
    model = build_generator(blocks=2)
    trained_looking(model, seed=5)
    return model


def test_fused_generator_computes_the_same_function(generator):
    fused = fuse(generator)
    kinds = [type(layer) for layer in fused.layers]
    # 2 blocks x 2 + the body's last conv: every batch norm of SRResNet folds.
    assert kinds.count(ConvBatchNorm) == 5
    assert keras.layers.BatchNormalization not in kinds
    inputs = image((2, 13, 9, 3))
    expected = np.asarray(generator.predict_on_batch(inputs))
    np.testing.assert_allclose(fused.predict_on_batch(inputs), expected, atol=2e-5)


def test_fused_layers_follow_the_weights_as_they_change():
    keras.utils.set_random_seed(6)
    model = build_generator(blocks=1)
    fused = fuse(model)
    inputs = image((1, 8, 8, 3), seed=1)
    before = np.asarray(fused.predict_on_batch(inputs))
    trained_looking(model, seed=7)
    after = np.asarray(fused.predict_on_batch(inputs))
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(after, model.predict_on_batch(inputs), atol=2e-5)


def test_the_original_graph_gains_no_nodes(generator):
    before = {layer.name: len(layer._inbound_nodes) for layer in generator.layers}
    fuse(generator)
    assert {layer.name: len(layer._inbound_nodes) for layer in generator.layers} == before


def functional(body):
    inputs = keras.Input((None, None, 4))
    return keras.Model(inputs, body(inputs))


@pytest.mark.parametrize(
    "case",
    ["conv with activation", "conv feeding two layers", "strided conv", "norm not after conv"],
)
def test_pairs_that_do_not_fold_are_left_as_they_are(case):
    def body(x):
        if case == "conv with activation":
            return keras.layers.BatchNormalization()(
                keras.layers.Conv2D(4, 3, activation="relu", padding="same")(x)
            )
        if case == "conv feeding two layers":
            y = keras.layers.Conv2D(4, 3, padding="same")(x)
            return keras.layers.Add()([keras.layers.BatchNormalization()(y), y])
        if case == "strided conv":
            return keras.layers.BatchNormalization()(
                keras.layers.Conv2D(4, 3, strides=2, padding="same")(x)
            )
        return keras.layers.BatchNormalization()(keras.layers.ReLU()(x))

    keras.utils.set_random_seed(8)
    model = functional(body)
    trained_looking(model, seed=9)
    fused = fuse(model)
    assert fused is model
    assert not any(isinstance(layer, ConvBatchNorm) for layer in fused.layers)


def test_inference_runs_the_fused_body():
    from inference.split import split_generator

    keras.utils.set_random_seed(10)
    model = build_generator(blocks=1)
    trained_looking(model, seed=11)
    body = split_generator(model, 4).body
    assert any(isinstance(layer, ConvBatchNorm) for layer in body.layers)


def test_mixed_precision_prelus_run_as_selects_with_the_same_values():
    """Under mixed precision each PReLU runs as one select (``models.subpixel.as_select``): the
    same values to the bit as Keras's relu(x) - alpha * relu(-x), in bf16 too."""
    from models.subpixel import PhasePReLU

    inputs = keras.Input((None, None, 4))
    conv = keras.layers.Conv2D(4, 3, padding="same", dtype="mixed_bfloat16")
    prelu = keras.layers.PReLU(shared_axes=[1, 2], dtype="mixed_bfloat16")
    model = keras.Model(inputs, prelu(conv(inputs)))
    trained_looking(model, seed=8)
    fused = fuse(model)
    assert fused is not model
    assert [type(layer) for layer in fused.layers].count(PhasePReLU) == 1
    values = image((2, 9, 7, 4), seed=2) - 0.5
    expected = np.asarray(model.predict_on_batch(values))
    assert (expected < 0).mean() > 0.2 and (expected > 0).mean() > 0.2
    np.testing.assert_array_equal(np.asarray(fused.predict_on_batch(values)), expected)
    as_float32 = keras.Model(inputs, keras.layers.PReLU(shared_axes=[1, 2])(inputs))
    assert fuse(as_float32) is as_float32  # float32 PReLUs stay as they are
