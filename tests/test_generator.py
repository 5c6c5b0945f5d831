import keras
import numpy as np
import pytest

from models.generator import build_generator


def non_trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)


# Parameter counts of the full 16-block generators, also stated in the README.
@pytest.mark.parametrize(
    ("upsample", "activation", "total"),
    [
        ("pixelshuffle", "leaky_relu", 1_554_755),  # the student report's summary
        ("pixelshuffle", "prelu", 1_554_883),  # the paper's figure 4
        ("upsampling", "leaky_relu", 1_333_187),
        ("upsampling", "prelu", 1_333_315),
    ],
)
def test_full_size_parameter_counts(upsample, activation, total):
    generator = build_generator(upsample=upsample, upsample_activation=activation)
    assert generator.count_params() == total
    assert non_trainable_count(generator) == 4_224  # 33 BatchNorms x 64 x (mean, variance)


# One x2 stage fewer (x2) or more (x8): a pixel-shuffle stage is a 3x3 conv 64 -> 256 and a
# 64-slope PReLU (147,776 parameters), a resize stage a 3x3 conv 64 -> 64 and a PReLU (36,992).
@pytest.mark.parametrize(
    ("scale", "upsample", "total"),
    [
        (2, "pixelshuffle", 1_554_883 - 147_776),
        (8, "pixelshuffle", 1_554_883 + 147_776),
        (2, "upsampling", 1_333_315 - 36_992),
        (8, "upsampling", 1_333_315 + 36_992),
    ],
)
def test_full_size_parameter_counts_at_other_scales(scale, upsample, total):
    generator = build_generator(scale=scale, upsample=upsample)
    assert generator.count_params() == total
    assert non_trainable_count(generator) == 4_224


@pytest.mark.parametrize("upsample", ["pixelshuffle", "upsampling"])
def test_any_input_size_comes_out_four_times_larger_in_tanh_range(upsample):
    generator = build_generator(blocks=1, upsample=upsample)
    lr = np.random.default_rng(0).uniform(size=(2, 7, 11, 3)).astype("float32")
    sr = generator.predict_on_batch(lr)
    assert sr.shape == (2, 28, 44, 3)
    assert sr.min() >= -1 and sr.max() <= 1
    assert generator.predict_on_batch(lr[:1, :5, :6]).shape == (1, 20, 24, 3)


def test_saved_generator_loads_without_custom_objects(tmp_path):
    generator = build_generator(blocks=1)
    path = tmp_path / "g.keras"
    generator.save(path)
    loaded = keras.models.load_model(path)
    lr = np.random.default_rng(2).uniform(size=(1, 6, 6, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict_on_batch(lr), generator.predict_on_batch(lr))


def test_no_lambda_layers():
    layers = build_generator(blocks=2).layers
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in layers)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="upsample"):
        build_generator(upsample="deconv")
    with pytest.raises(ValueError, match="blocks"):
        build_generator(blocks=0)
    with pytest.raises(ValueError, match="activation"):
        build_generator(blocks=1, upsample_activation="relu")
