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
    np.testing.assert_allclose(pooled_like_consistency(content), pooled, atol=1e-6)
    uniform = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    np.testing.assert_allclose(
        pooled_like_consistency(uniform, scale=2)[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]]
    )
