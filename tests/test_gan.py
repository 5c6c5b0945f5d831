import numpy as np
import pytest

from models.gan import (
    build_gan,
    compile_discriminator,
    fake_accuracy,
    fake_loss,
    pooled_like_consistency,
    real_accuracy,
    real_loss,
)


def bce(label, probability):
    return -(label * np.log(probability) + (1 - label) * np.log(1 - probability))


def test_each_half_of_a_mixed_batch_is_scored_on_its_own():
    labels = np.array([[0.95], [0.92], [0.0], [0.0], [0.0]], "float32")  # noisy real labels
    said = np.array([[0.9], [0.3], [0.1], [0.7], [0.2]], "float32")
    assert float(real_accuracy(labels, said)) == 0.5  # 0.9 right, 0.3 wrong
    assert float(fake_accuracy(labels, said)) == pytest.approx(2 / 3)  # 0.1, 0.2 right
    expected_real = np.mean([bce(0.95, 0.9), bce(0.92, 0.3)])
    expected_fake = np.mean([bce(0.0, 0.1), bce(0.0, 0.7), bce(0.0, 0.2)])
    assert float(real_loss(labels, said)) == pytest.approx(expected_real, rel=1e-5)
    assert float(fake_loss(labels, said)) == pytest.approx(expected_fake, rel=1e-5)


def test_the_consistency_output_pools_g_of_lr_as_its_target_pools_hr():
    import keras

    from models.discriminator import build_discriminator
    from models.generator import build_generator

    keras.utils.set_random_seed(0)
    generator = build_generator(blocks=1)
    discriminator = compile_discriminator(build_discriminator(32))
    paper = build_gan(generator, discriminator)
    assert len(paper.outputs) == 2
    gan = build_gan(generator, discriminator, consistency_weight=5.0)
    lr = np.random.default_rng(1).uniform(size=(2, 8, 8, 3)).astype("float32")
    content, _, pooled = gan.predict_on_batch(lr)
    assert pooled.shape == (2, 8, 8, 3)
    # The content output is G(LR) itself here (no feature extractor): pooling it in numpy
    # must give what the model's own pooling gave.
    np.testing.assert_allclose(pooled_like_consistency(content, 4), pooled, atol=1e-6)
    uniform = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    np.testing.assert_allclose(
        pooled_like_consistency(uniform, scale=2)[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]]
    )


def softplus(x):
    return np.log1p(np.exp(x))


def test_the_relativistic_loss_compares_each_half_with_the_others_mean():
    from models.gan import relativistic_bce, relativistic_fake_accuracy, relativistic_real_loss

    logits = np.array([[2.0], [0.0], [1.5], [-1.0]], "float32")  # real: 2, 0; generated: 1.5, -1
    relative = np.array([2.0, 0.0, 1.5, -1.0]) - np.array([0.25, 0.25, 1.0, 1.0])  # other's mean
    d_labels = np.array([[1.0], [1.0], [0.0], [0.0]], "float32")
    g_labels = 1.0 - d_labels
    # BCE on logits: softplus(-z) for target 1, softplus(z) for target 0.
    d_expected = [softplus(-relative[0]), softplus(-relative[1])]
    d_expected += [softplus(relative[2]), softplus(relative[3])]
    np.testing.assert_allclose(relativistic_bce(d_labels, logits), d_expected, rtol=1e-5)
    g_expected = [softplus(relative[0]), softplus(relative[1])]
    g_expected += [softplus(-relative[2]), softplus(-relative[3])]
    np.testing.assert_allclose(relativistic_bce(g_labels, logits), g_expected, rtol=1e-5)
    assert float(relativistic_real_loss(d_labels, logits)) == pytest.approx(
        np.mean(d_expected[:2]), rel=1e-5
    )
    # Generated rows: relative 0.5 (said real: wrong) and -2 (said generated: right).
    assert float(relativistic_fake_accuracy(d_labels, logits)) == 0.5


def test_the_relativistic_combined_model_sees_d_on_hr_then_on_g_of_lr():
    import keras

    from models.discriminator import build_discriminator
    from models.gan import gan_inputs, gan_targets
    from models.generator import build_generator

    keras.utils.set_random_seed(0)
    generator, discriminator = build_generator(blocks=1), build_discriminator(32, logits=True)
    compile_discriminator(discriminator, adversarial="ragan")
    gan = build_gan(generator, discriminator, adversarial="ragan", grid_weight=2.0)
    assert gan.output_names == ["content", "adversarial", "grid"]
    rng = np.random.default_rng(0)
    lr = rng.uniform(size=(2, 8, 8, 3)).astype("float32")
    hr = rng.uniform(-1, 1, size=(2, 32, 32, 3)).astype("float32")
    _, validity, grid = gan.predict_on_batch(gan_inputs(gan, lr, hr))
    sr = generator.predict_on_batch(lr)
    np.testing.assert_allclose(validity[:2], discriminator.predict_on_batch(hr), atol=1e-5)
    np.testing.assert_allclose(validity[2:], discriminator.predict_on_batch(sr), atol=1e-5)
    targets = gan_targets(gan, hr, hr)
    np.testing.assert_array_equal(targets[1][:, 0], [0, 0, 1, 1])
    assert targets[2].shape == grid.shape == (2, 2, 4, 2, 4, 3)


def test_the_grid_tile_keeps_sixteen_pixels_a_phase_at_every_scale():
    from models.gan import grid_tile

    assert {scale: grid_tile(scale) for scale in (2, 4, 8)} == {2: 8, 4: 16, 8: 32}
    for scale in (2, 4, 8):
        assert grid_tile(scale) % scale == 0 and (grid_tile(scale) // scale) ** 2 == 16


@pytest.mark.parametrize("scale", [2, 8])
def test_the_combined_model_takes_lr_at_the_generators_scale_and_pools_and_tiles_by_it(scale):
    """An x2 or x8 generator: LR is the HR size over its scale; the consistency term pools
    scale x scale, the grid term's phases repeat every ``scale`` pixels, and the numpy targets
    are computed the same way as the model's outputs."""
    import keras

    from models.discriminator import build_discriminator
    from models.gan import gan_targets
    from models.generator import build_generator

    keras.utils.set_random_seed(0)
    generator = build_generator(scale=scale, blocks=1)
    discriminator = compile_discriminator(build_discriminator(32))
    gan = build_gan(generator, discriminator, consistency_weight=1.0, grid_weight=1.0)
    lr = np.random.default_rng(1).uniform(size=(2, 32 // scale, 32 // scale, 3)).astype("float32")
    assert gan.input_shape == (None, 32 // scale, 32 // scale, 3)
    content, _, pooled, grid = gan.predict_on_batch(lr)
    assert content.shape == (2, 32, 32, 3)
    tile = 4 * scale
    assert pooled.shape == (2, 32 // scale, 32 // scale, 3)
    assert grid.shape == (2, 32 // tile, scale, 32 // tile, scale, 3)
    # G(LR) as the HR: each target is what the model computed from it.
    targets = gan_targets(gan, content, content)
    np.testing.assert_allclose(targets[2], pooled, atol=1e-6)
    np.testing.assert_allclose(targets[3], grid, atol=1e-6)


def test_the_grid_term_refuses_an_hr_size_its_tiles_do_not_divide():
    import keras

    from models.discriminator import build_discriminator
    from models.generator import build_generator

    keras.utils.set_random_seed(0)
    generator = build_generator(scale=8, blocks=1)
    discriminator = compile_discriminator(build_discriminator(48))
    assert len(build_gan(generator, discriminator).outputs) == 2  # no grid term: any size
    with pytest.raises(ValueError, match=r"32-pixel tiles \(x8\) do not divide the HR size 48"):
        build_gan(generator, discriminator, grid_weight=1.0)


def test_the_coherent_grid_term_is_the_grid_term_with_one_tile_for_the_crop():
    """Its output is the phase deviations of the whole HR crop; a grid the same in every tile
    gives it the grid term's per-tile deviations, texture that differs per tile averages out."""
    import keras

    from models.discriminator import build_discriminator
    from models.gan import gan_targets
    from models.generator import build_generator

    keras.utils.set_random_seed(0)
    generator = build_generator(blocks=1)
    discriminator = compile_discriminator(build_discriminator(32))
    gan = build_gan(generator, discriminator, grid_weight=1.0, coherent_grid_weight=5.0)
    assert gan.output_names == ["content", "adversarial", "grid", "coherent_grid"]
    lr = np.random.default_rng(1).uniform(size=(2, 8, 8, 3)).astype("float32")
    content, _, grid, coherent = gan.predict_on_batch(lr)
    assert coherent.shape == (2, 1, 4, 1, 4, 3) and grid.shape == (2, 2, 4, 2, 4, 3)
    # The crop's phase means are the mean of its tiles' (equal tiles, each minus its mean).
    np.testing.assert_allclose(coherent[:, 0, :, 0], grid.mean(axis=(1, 3)), atol=1e-6)
    targets = gan_targets(gan, content, content)
    np.testing.assert_allclose(targets[3], coherent, atol=1e-6)
