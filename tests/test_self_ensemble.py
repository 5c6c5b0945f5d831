"""The x8 self-ensemble: exact inverses, and an average that cancels what is not equivariant."""

import numpy as np
import pytest

from inference.self_ensemble import TRANSFORMS, self_ensemble, transform, untransform


def test_the_eight_transforms_are_distinct_and_each_is_undone_exactly():
    image = np.arange(3 * 5 * 2).reshape(3, 5, 2)  # not square, so turns change the shape
    seen = set()
    for turns, mirror in TRANSFORMS:
        view = transform(image, turns, mirror)
        assert view.shape == ((3, 5, 2) if turns % 2 == 0 else (5, 3, 2))
        seen.add(view.tobytes() + bytes(view.shape))
        assert np.array_equal(untransform(view, turns, mirror), image)
    assert len(TRANSFORMS) == 8 and len(seen) == 8
    assert TRANSFORMS[0] == (0, False)  # identity first


def nearest_x2(image):
    return np.repeat(np.repeat(image, 2, axis=0), 2, axis=1).astype(np.float32)


def test_an_equivariant_upscaler_is_unchanged_by_the_ensemble():
    image = np.random.default_rng(0).random((7, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(self_ensemble(image, nearest_x2), nearest_x2(image), atol=1e-6)


def test_a_bias_along_one_axis_is_averaged_away():
    """An upscaler that adds a left-to-right ramp: the mean over all 8 orientations of the
    ramp is a constant, so the ensemble's answer is the plain upscale plus that constant."""
    image = np.random.default_rng(1).random((6, 6, 3)).astype(np.float32)

    def biased(view):
        ramp = np.linspace(0.0, 1.0, 2 * view.shape[1], dtype=np.float32)[None, :, None]
        return nearest_x2(view) + ramp

    plain = biased(image)
    assert np.ptp(plain - nearest_x2(image)) == pytest.approx(1.0)
    averaged = self_ensemble(image, biased) - nearest_x2(image)
    assert np.ptp(averaged) < 1e-5 and averaged.mean() == pytest.approx(0.5, abs=1e-5)


def test_the_answer_is_a_fresh_float32_array_whatever_the_upscaler_returns():
    image = np.ones((2, 2, 1), np.uint8)
    shared = np.zeros((4, 4, 1), np.uint8)
    out = self_ensemble(image, lambda view: shared)
    assert out.dtype == np.float32 and not np.shares_memory(out, shared)
    assert not shared.any()  # the upscaler's array was not summed into
