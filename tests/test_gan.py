import numpy as np
import pytest

from models.gan import fake_accuracy, fake_loss, real_accuracy, real_loss


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
