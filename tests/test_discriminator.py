import numpy as np
import pytest

from models.discriminator import build_discriminator


def test_paper_size_parameter_count():
    # 8 convs + BN (3,712 moving statistics) + Dense(6*6*512 -> 1024) + Dense(1024 -> 1).
    discriminator = build_discriminator(96)
    assert discriminator.count_params() == 23_569_217
    assert sum(int(np.prod(w.shape)) for w in discriminator.non_trainable_weights) == 3_712


def test_report_size_parameter_count():
    assert build_discriminator(224).count_params() == 107_455_297


def test_outputs_a_probability_per_image():
    discriminator = build_discriminator(32)
    hr = np.random.default_rng(0).uniform(-1, 1, size=(3, 32, 32, 3)).astype("float32")
    p = discriminator.predict_on_batch(hr)
    assert p.shape == (3, 1)
    assert np.all((p > 0) & (p < 1))


def test_size_must_allow_four_stride_two_convs():
    with pytest.raises(ValueError, match="multiple of 16"):
        build_discriminator(100)
