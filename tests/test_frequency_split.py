"""benchmarks/frequency_split.py: the pooled MSE and the low/high-frequency composite."""

import numpy as np

from benchmarks.frequency_split import low_frequencies_of, pooled, pooled_mse


def test_pooling_averages_each_4x4_block_on_the_generators_scale():
    image = np.zeros((8, 4, 3), np.uint8)
    image[:4] = 255  # the top block white (+1), the bottom black (-1)
    np.testing.assert_allclose(pooled(image)[:, 0, 0], [1.0, -1.0])
    assert pooled_mse(image, image) == 0
    assert pooled_mse(image, image[::-1]) == 4.0  # every pooled value off by 2


def test_the_composite_takes_low_frequencies_from_one_image_and_texture_from_the_other():
    rng = np.random.default_rng(0)
    texture = rng.integers(100, 156, (64, 64, 3)).astype(np.uint8)
    darker = np.full((64, 64, 3), 60, np.uint8)
    composite = low_frequencies_of(darker, texture, sigma=2.0)
    # The texture's mean (about 128) is replaced by the flat image's, its detail kept.
    assert abs(composite.astype(float).mean() - 60) < 2
    detail = texture.astype(float) - texture.mean()
    kept = composite.astype(float) - composite.mean()
    assert np.corrcoef(detail.ravel(), kept.ravel())[0, 1] > 0.8
    np.testing.assert_array_equal(low_frequencies_of(texture, texture, 2.0), texture)
