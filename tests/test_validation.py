"""Validation during training: the generator's predictions as numpy arrays."""

import numpy as np

from models.generator import build_generator


def test_predict_returns_numpy_results_for_any_batch():
    from training.validation import predict

    generator = build_generator(blocks=1)
    image = np.random.default_rng(0).uniform(size=(1, 6, 7, 3)).astype("float32")
    result = predict(generator, image)
    assert isinstance(result, np.ndarray) and result.shape == (1, 24, 28, 3)
    np.testing.assert_allclose(result, generator.predict_on_batch(image), atol=1e-5)
    assert predict(generator, np.concatenate([image, image, image])).shape[0] == 3
