import keras
import numpy as np

from models.layers import IMAGENET_BGR_MEAN, PixelShuffle, VGGPreprocess


def test_pixel_shuffle_moves_channels_into_space():
    x = np.arange(1 * 2 * 3 * 8, dtype="float32").reshape(1, 2, 3, 8)
    y = keras.ops.convert_to_numpy(PixelShuffle(2)(x))
    assert y.shape == (1, 4, 6, 2)
    # Each input pixel's 2*2*2 values become a 2x2 block of 2-channel pixels (depth_to_space).
    np.testing.assert_array_equal(y[0, 0:2, 0:2, :].reshape(-1), x[0, 0, 0])


def test_vgg_preprocess_matches_keras_preprocess_input():
    rgb = np.random.default_rng(0).uniform(-1, 1, size=(2, 5, 7, 3)).astype("float32")
    ours = keras.ops.convert_to_numpy(VGGPreprocess()(rgb))
    reference = keras.applications.vgg19.preprocess_input((rgb + 1) * 127.5)
    np.testing.assert_allclose(ours, reference, atol=1e-3)
    assert IMAGENET_BGR_MEAN == (103.939, 116.779, 123.68)


def test_layers_survive_a_save_and_load(tmp_path):
    inputs = keras.Input((None, None, 12))
    model = keras.Model(inputs, VGGPreprocess()(PixelShuffle(2)(inputs)))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = np.random.default_rng(1).uniform(size=(1, 3, 4, 12)).astype("float32")
    np.testing.assert_allclose(loaded.predict_on_batch(x), model.predict_on_batch(x), atol=1e-6)


def test_phase_deviations_recover_a_periodic_pattern_in_every_tile_and_agree_with_numpy():

    from models.layers import PhaseDeviations, phase_deviations

    rng = np.random.default_rng(0)
    cell = rng.normal(size=(4, 4, 3)).astype("float32")
    cell -= cell.mean(axis=(0, 1))
    smooth = np.repeat(np.repeat(rng.normal(size=(2, 2, 2, 3)), 16, 1), 16, 2)  # per tile
    images = (np.tile(cell, (2, 8, 8, 1)) + smooth).astype("float32")
    expected = np.broadcast_to(cell[None, None, :, None], (2, 2, 4, 2, 4, 3))
    np.testing.assert_allclose(phase_deviations(images, xp=np), expected, atol=1e-5)
    layer = PhaseDeviations(4, 16)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(images)), expected, atol=1e-5)
    assert layer.compute_output_shape((None, 32, 32, 3)) == (None, 2, 4, 2, 4, 3)
    assert PhaseDeviations.from_config(layer.get_config()).tile == 16


def test_stack_batches_puts_its_inputs_one_after_another():
    from models.layers import StackBatches

    a, b = np.ones((2, 1), "float32"), np.zeros((3, 1), "float32")
    stacked = keras.ops.convert_to_numpy(StackBatches()([a, b]))
    np.testing.assert_array_equal(stacked[:, 0], [1, 1, 0, 0, 0])
