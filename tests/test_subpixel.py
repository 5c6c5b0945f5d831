import collections

import keras
import numpy as np
import pytest

from models.generator import build_generator
from models.layers import PixelShuffle
from models.subpixel import (
    PhaseConv,
    PhaseGroups,
    PhasePReLU,
    narrow_conv,
    nearest_phase_matrix,
    phase_kernel_indices,
    rewrite_chain,
)


def run(chain, inputs):
    for layer in chain:
        inputs = layer(inputs)
    return keras.ops.convert_to_numpy(inputs)


def random_weights(layers, seed):
    """Random values everywhere, PReLU slopes included (they start at zero)."""
    rng = np.random.default_rng(seed)
    for layer in layers:
        for weight in layer.weights:
            weight.assign(rng.normal(0.0, 0.2, weight.shape).astype("float32"))


def built_chain(layers, channels):
    x = keras.Input((None, None, channels))
    for layer in layers:
        x = layer(x)


@pytest.mark.parametrize(
    ("scale", "kernel_size", "activation"),
    [(2, 9, "prelu"), (2, 3, "leaky"), (2, 1, None), (3, 5, "prelu"), (2, 5, "relu")],
)
def test_rewritten_chain_computes_the_same_function(scale, kernel_size, activation):
    channels = 5
    middle = {
        "prelu": [keras.layers.PReLU(shared_axes=[1, 2])],
        "leaky": [keras.layers.LeakyReLU(negative_slope=0.2)],
        "relu": [keras.layers.ReLU(), keras.layers.Activation("tanh")],
        None: [],
    }[activation]
    layers = [
        PixelShuffle(scale),
        *middle,
        keras.layers.Conv2D(3, kernel_size, padding="same", activation="tanh"),
    ]
    built_chain(layers, channels * scale * scale)
    random_weights(layers, seed=kernel_size)
    rewritten = rewrite_chain(layers)
    assert isinstance(rewritten[-1], PhaseConv)
    assert not any(isinstance(layer, PixelShuffle) for layer in rewritten)
    # Odd sizes and a batch: the borders are where a wrong padding would show.
    inputs = np.random.default_rng(0).normal(size=(2, 7, 11, channels * scale * scale))
    inputs = inputs.astype("float32")
    expected = run(layers, inputs)
    assert run(rewritten, inputs).shape == expected.shape
    np.testing.assert_allclose(run(rewritten, inputs), expected, atol=2e-5)


@pytest.mark.parametrize(
    ("scale", "kernel_size", "activation", "use_bias"),
    [(2, 9, "prelu", True), (2, 3, "leaky", True), (3, 5, "prelu", False), (2, 1, None, True)],
)
def test_grouped_chain_computes_the_same_function(scale, kernel_size, activation, use_bias):
    """A conv before the shuffle joins the rewrite and runs one phase at a time."""
    channels = 5
    middle = {
        "prelu": [keras.layers.PReLU(shared_axes=[1, 2])],
        "leaky": [keras.layers.LeakyReLU(negative_slope=0.2)],
        None: [],
    }[activation]
    layers = [
        keras.layers.Conv2D(channels * scale * scale, 3, padding="same", use_bias=use_bias),
        PixelShuffle(scale),
        *middle,
        keras.layers.Conv2D(3, kernel_size, padding="same", activation="tanh"),
    ]
    built_chain(layers, 4)
    random_weights(layers, seed=kernel_size + scale)
    rewritten = rewrite_chain(layers)
    assert len(rewritten) == 1 and isinstance(rewritten[0], PhaseGroups)
    inputs = np.random.default_rng(2).normal(size=(2, 7, 11, 4)).astype("float32")
    expected = run(layers, inputs)
    assert expected.shape == (2, 7 * scale, 11 * scale, 3)
    np.testing.assert_allclose(run(rewritten, inputs), expected, atol=2e-5)


@pytest.mark.parametrize("scale", [2, 3])
def test_mixed_precision_groups_run_whole_and_compute_the_same_function(scale, monkeypatch):
    """In bf16 all phases run at once, the output conv in bf16 too: the same function as the
    generator's layers (output conv in float32), to bf16's rounding."""
    channels, mixed = 5, "mixed_bfloat16"
    layers = [
        keras.layers.Conv2D(channels * scale * scale, 3, padding="same", dtype=mixed),
        PixelShuffle(scale, dtype=mixed),
        keras.layers.PReLU(shared_axes=[1, 2], dtype=mixed),
        keras.layers.Conv2D(3, 9, padding="same", activation="tanh", dtype="float32"),
    ]
    built_chain(layers, 4)
    random_weights(layers, seed=scale)
    for layer in layers:  # smaller weights keep tanh off its flat ends, where errors hide
        for weight in layer.weights:
            weight.assign(weight * 0.25)
    rewritten = rewrite_chain(layers)
    assert len(rewritten) == 1 and isinstance(rewritten[0], PhaseGroups)
    inputs = np.random.default_rng(3).normal(size=(2, 7, 11, 4)).astype("float32")
    grouped = keras.ops.convert_to_numpy(rewritten[0].in_groups(inputs))  # output conv in f32
    monkeypatch.setattr(PhaseGroups, "in_groups", None)  # not called below, or it would fail
    whole = run(rewritten, inputs)
    expected = run(layers, inputs)
    assert whole.dtype == np.float32 and whole.shape == (2, 7 * scale, 11 * scale, 3)
    assert np.abs(expected).mean() > 0.05 and np.abs(expected).max() < 0.99
    for result in (whole, grouped):
        np.testing.assert_allclose(result, expected, atol=2e-2)
        assert np.abs(result - expected).mean() < 3e-3
    assert not np.array_equal(whole, grouped)  # the output conv's bf16 rounding


def test_conv_with_an_activation_before_the_shuffle_is_not_grouped():
    """Its activation would have to run on each group: left to the layers as saved."""
    layers = [
        keras.layers.Conv2D(20, 3, padding="same", activation="relu"),
        PixelShuffle(2),
        keras.layers.PReLU(shared_axes=[1, 2]),
        keras.layers.Conv2D(3, 3, padding="same"),
    ]
    built_chain(layers, 4)
    random_weights(layers, seed=5)
    rewritten = rewrite_chain(layers)
    assert [type(layer) for layer in rewritten] == [keras.layers.Conv2D, PhasePReLU, PhaseConv]
    inputs = np.random.default_rng(3).normal(size=(1, 6, 5, 4)).astype("float32")
    np.testing.assert_allclose(run(rewritten, inputs), run(layers, inputs), atol=2e-5)


@pytest.mark.parametrize("lead_conv", [False, True])
def test_rewritten_layers_follow_the_weights_as_they_change(lead_conv):
    layers = [
        PixelShuffle(2),
        keras.layers.PReLU(shared_axes=[1, 2]),
        keras.layers.Conv2D(3, 3, padding="same"),
    ]
    if lead_conv:
        layers.insert(0, keras.layers.Conv2D(16, 3, padding="same"))
    built_chain(layers, 16)
    rewritten = rewrite_chain(layers)
    inputs = np.random.default_rng(1).normal(size=(1, 6, 6, 16)).astype("float32")
    before = run(rewritten, inputs)
    random_weights(layers, seed=7)
    after = run(rewritten, inputs)
    assert np.abs(after - before).max() > 0.1
    np.testing.assert_allclose(after, run(layers, inputs), atol=2e-5)


def test_every_weight_lands_once_in_each_output_phase():
    kernel_size, channels, filters, scale = 9, 4, 3, 2
    indices = phase_kernel_indices(kernel_size, channels, filters, scale)
    assert indices.shape == (5, 5, channels * 4, filters * 4)
    total = kernel_size * kernel_size * channels * filters
    counts = collections.Counter(indices.ravel().tolist())
    # 4 output phases, each reading each weight once; the rest are zeros.
    assert all(counts[index] == scale * scale for index in range(total))
    assert counts[total] == indices.size - scale * scale * total


@pytest.mark.parametrize(
    "middle",
    [
        [keras.layers.BatchNormalization()],  # moving statistics per channel: not handled
        [keras.layers.PReLU()],  # a slope per pixel does not commute with the shuffle
    ],
)
def test_chains_it_cannot_rewrite_are_left_alone(middle):
    layers = [PixelShuffle(2), *middle, keras.layers.Conv2D(3, 3, padding="same")]
    assert rewrite_chain(layers) == layers


@pytest.mark.parametrize(
    ("scale", "kernel_size", "out_kernel", "activation", "use_bias"),
    [(2, 3, 9, "prelu", True), (2, 5, 3, "leaky", False), (3, 3, 5, None, True)],
)
def test_nearest_upsampling_and_its_conv_compute_the_same_function_in_phases(
    scale, kernel_size, out_kernel, activation, use_bias
):
    """nearest -> conv -> elementwise -> conv runs as PhaseGroups, with the same outputs."""
    middle = {
        "prelu": [keras.layers.PReLU(shared_axes=[1, 2])],
        "leaky": [keras.layers.LeakyReLU(negative_slope=0.2)],
        None: [],
    }[activation]
    layers = [
        keras.layers.UpSampling2D(scale, interpolation="nearest"),
        keras.layers.Conv2D(6, kernel_size, padding="same", use_bias=use_bias),
        *middle,
        keras.layers.Conv2D(3, out_kernel, padding="same", activation="tanh"),
    ]
    built_chain(layers, 4)
    random_weights(layers, seed=kernel_size + scale)
    rewritten = rewrite_chain(layers)
    assert len(rewritten) == 1 and isinstance(rewritten[0], PhaseGroups)
    # Odd sizes and a batch: the borders are where a wrong offset or padding would show.
    inputs = np.random.default_rng(4).normal(size=(2, 7, 11, 4)).astype("float32")
    expected = run(layers, inputs)
    assert expected.shape == (2, 7 * scale, 11 * scale, 3)
    np.testing.assert_allclose(run(rewritten, inputs), expected, atol=2e-5)


@pytest.mark.parametrize(("kernel_size", "scale"), [(3, 2), (5, 2), (9, 2), (3, 3), (1, 4)])
def test_every_tap_lands_once_in_each_nearest_phase(kernel_size, scale):
    matrix = nearest_phase_matrix(kernel_size, scale)
    taps = kernel_size * kernel_size
    assert set(np.unique(matrix)) <= {0.0, 1.0}
    phases = matrix.reshape(-1, scale * scale, taps)  # (offsets, phases, taps)
    np.testing.assert_array_equal(phases.sum(axis=0), np.ones((scale * scale, taps)))


def test_upsampling_generator_tail_is_rewritten_and_computes_the_same():
    generator = build_generator(blocks=1, upsample="upsampling")
    tail = [layer for layer in generator.layers if layer.name.startswith(("up", "sr"))]
    random_weights(tail, seed=11)
    rewritten = rewrite_chain(tail)
    assert isinstance(rewritten[-1], PhaseGroups)
    assert rewritten[:-1] == tail[:-4]  # up2_resize, up2_conv, up2_act and sr are replaced
    inputs = np.random.default_rng(5).normal(size=(1, 6, 9, 64)).astype("float32")
    expected = run(tail, inputs)
    assert expected.std() > 0.3  # not saturated: a misplaced tap would change it by ~0.1
    # 64 maps of random weights make sums of hundreds of terms: float32 rounding, in another
    # order, reaches 1e-4 before the tanh.
    np.testing.assert_allclose(run(rewritten, inputs), expected, atol=3e-4)


def test_nearest_upsampling_before_a_conv_with_an_activation_is_left_alone():
    layers = [
        keras.layers.UpSampling2D(2, interpolation="nearest"),
        keras.layers.Conv2D(6, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(3, 3, padding="same"),
    ]
    assert rewrite_chain(layers) == layers
    bilinear = [keras.layers.UpSampling2D(2, interpolation="bilinear"), *layers[1:]]
    bilinear[1] = keras.layers.Conv2D(6, 3, padding="same")
    assert rewrite_chain(bilinear) == bilinear


def test_strided_or_even_kernels_are_left_alone():
    for conv in (
        keras.layers.Conv2D(3, 3, strides=2, padding="same"),
        keras.layers.Conv2D(3, 4, padding="same"),
        keras.layers.Conv2D(3, 3, padding="valid"),
    ):
        layers = [PixelShuffle(2), conv]
        assert rewrite_chain(layers) == layers


def test_generator_tail_is_rewritten_with_phase_layers():
    generator = build_generator(blocks=1)
    tail = [layer for layer in generator.layers if layer.name.startswith(("up", "sr"))]
    rewritten = rewrite_chain(tail)
    assert isinstance(rewritten[-1], PhaseGroups)
    assert rewritten[:-1] == tail[:-4]  # up2_conv, up2_shuffle, up2_act and sr are replaced


@pytest.mark.parametrize(("size", "filters"), [(1, 12), (3, 3), (5, 12), (9, 3)])
def test_narrow_conv_is_the_same_conv_in_rows(size, filters):
    rng = np.random.default_rng(size)
    inputs = rng.normal(size=(2, 9, 13, 6)).astype("float32")  # odd sides, smaller than 9
    kernel = rng.normal(size=(size, size, 6, filters)).astype("float32")
    expected = keras.ops.conv(inputs, kernel, padding="same")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(narrow_conv(inputs, kernel)),
        keras.ops.convert_to_numpy(expected),
        atol=2e-4,
    )
