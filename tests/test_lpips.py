"""models/lpips.py, the network: the repository's reference distances and the metric's behaviour.

The weights come from the cache that ``make setup`` fills (``python -m models.lpips fetch``);
no test downloads anything. The weight files have their own tests (``test_lpips_files.py``,
``test_lpips_weights.py``, ``test_lpips_cli.py``).
"""

import cv2
import keras
import numpy as np
import pytest
import skimage
from conftest import shared_dir
from lpips_support import _weights

from data.images import read_rgb
from models import lpips
from models.lpips import build_lpips, lpips_distance
from models.lpips_files import read_lpips_weights
from models.lpips_nets import NETS, min_image_size, weight_shapes

# richzhang/PerceptualSimilarity's README / test_network.py: d(ref, p0), d(ref, p1).
REFERENCE = {"alex": (0.722, 0.138), "vgg": (0.569, 0.422)}


@pytest.fixture(scope="session")
def vgg_weights_lpips():
    return _weights("vgg")


@pytest.fixture(scope="session")
def photo():
    """A real photo (scikit-image's astronaut), cropped to an odd size: 75x97."""
    return np.ascontiguousarray(skimage.data.astronaut()[100:175, 150:247])


# ----------------------------------------------------------------------------- reference values


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_reproduces_the_reference_distances(net):
    folder = shared_dir() / "metrics" / "lpips"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    weights = _weights(net)
    ref, p0, p1 = (read_rgb(folder / f"ex_{name}.png") for name in ("ref", "p0", "p1"))
    measured = (
        lpips_distance(ref, p0, net, weights=weights),
        lpips_distance(ref, p1, net, weights=weights),
    )
    assert measured == pytest.approx(REFERENCE[net], abs=5e-4)


def _reference_lpips(a, b, arrays, spec):
    """LPIPS in float64 numpy, written from the PyTorch code: symmetric pads, floor pooling."""

    def features(image):
        x = ((image * 2 - 1) - np.array(lpips.SHIFT)) / np.array(lpips.CHANNEL_SCALE)
        taps, convs = [], 0
        for op in spec.features:
            if op == "tap":
                taps.append(x)
            elif op[0] == "conv":
                _, _, kernel, stride, pad = op
                x = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
                windows = np.lib.stride_tricks.sliding_window_view(x, (kernel, kernel), (0, 1))
                windows = windows[::stride, ::stride]  # (h, w, c, kh, kw)
                weights = arrays[f"conv{convs}/kernel"].astype(np.float64)
                x = np.tensordot(windows, weights.transpose(2, 0, 1, 3), axes=3)
                x = np.maximum(x + arrays[f"conv{convs}/bias"], 0)
                convs += 1
            else:
                _, window, stride = op
                windows = np.lib.stride_tricks.sliding_window_view(x, (window, window), (0, 1))
                x = windows[::stride, ::stride].max(axis=(-2, -1))
        return taps

    total = 0.0
    for index, (fa, fb) in enumerate(zip(features(a), features(b), strict=True)):
        unit_a = fa / (np.sqrt((fa**2).sum(-1, keepdims=True)) + 1e-10)
        unit_b = fb / (np.sqrt((fb**2).sum(-1, keepdims=True)) + 1e-10)
        head = arrays[f"lin{index}/kernel"][0, 0, :, 0]
        total += float(((unit_a - unit_b) ** 2 @ head).mean())
    return total


@pytest.mark.parametrize(
    ("net", "size"), [("alex", (45, 67)), ("alex", (31, 34)), ("vgg", (33, 35))]
)
def test_odd_sizes_match_a_numpy_reference_of_the_pytorch_code(net, size, photo):
    weights = _weights(net)
    arrays = read_lpips_weights(weights, net)
    height, width = size
    a = photo[:height, :width]
    b = cv2.GaussianBlur(a, (0, 0), 1.5)
    expected = _reference_lpips(a / 255.0, b / 255.0, arrays, NETS[net])
    assert lpips_distance(a, b, net, weights=weights) == pytest.approx(expected, rel=1e-4)


# ----------------------------------------------------------------------------- behaviour


def test_an_image_is_at_distance_zero_from_itself_and_distance_is_symmetric(alex_weights, photo):
    noisy = np.clip(photo + np.random.default_rng(0).normal(0, 20, photo.shape), 0, 255)
    noisy = noisy.astype(np.uint8)
    assert lpips_distance(photo, photo, weights=alex_weights) == pytest.approx(0, abs=1e-7)
    forward = lpips_distance(photo, noisy, weights=alex_weights)
    assert forward > 0.05
    assert lpips_distance(noisy, photo, weights=alex_weights) == pytest.approx(forward, rel=1e-5)


def test_distance_grows_with_blur_and_with_noise(alex_weights, photo):
    blurred = [cv2.GaussianBlur(photo, (0, 0), sigma) for sigma in (0.6, 1.2, 2.4, 4.8)]
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 1, photo.shape)
    noisy = [np.clip(photo + level * noise, 0, 255).astype(np.uint8) for level in (4, 12, 36)]
    for family in (blurred, noisy):
        distances = [lpips_distance(photo, image, weights=alex_weights) for image in family]
        assert distances == sorted(distances) and len(set(distances)) == len(distances), distances


def test_batches_uint8_and_float_inputs_agree(alex_weights, photo):
    others = np.stack([cv2.GaussianBlur(photo, (0, 0), s) for s in (1, 2, 3)])
    batch = lpips_distance(np.stack([photo] * 3), others, weights=alex_weights)
    assert batch.shape == (3,)
    singles = [lpips_distance(photo, other, weights=alex_weights) for other in others]
    np.testing.assert_allclose(batch, singles, rtol=1e-5)
    as_float = lpips_distance(photo / 255.0, others[0] / 255.0, weights=alex_weights)
    assert as_float == pytest.approx(singles[0], rel=1e-5)


def test_inputs_it_cannot_score_are_refused_with_a_reason(alex_weights, photo):
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        lpips_distance(photo.astype(np.float32), photo.astype(np.float32), weights=alex_weights)
    with pytest.raises(ValueError, match="differ in shape"):
        lpips_distance(photo, photo[:-1], weights=alex_weights)
    smallest = min_image_size("alex")
    assert (smallest, min_image_size("vgg")) == (31, 16)
    with pytest.raises(ValueError, match="at least 31x31"):
        lpips_distance(photo[: smallest - 1], photo[: smallest - 1], weights=alex_weights)
    with pytest.raises(ValueError, match="unknown LPIPS net"):
        lpips_distance(photo, photo, "squeeze")


def test_the_model_is_frozen_and_survives_a_keras_save_and_load(alex_weights, photo, tmp_path):
    model = build_lpips("alex", alex_weights)
    assert model.trainable_weights == []
    assert model.count_params() == sum(
        int(np.prod(s)) for s in weight_shapes(NETS["alex"]).values()
    )
    pair = [photo[None] / 255.0, cv2.GaussianBlur(photo, (0, 0), 2)[None] / 255.0]
    expected = model.predict_on_batch(pair)
    assert expected.shape == (1,)
    model.save(tmp_path / "lpips_alex.keras")
    loaded = keras.saving.load_model(tmp_path / "lpips_alex.keras")
    np.testing.assert_allclose(loaded.predict_on_batch(pair), expected, rtol=1e-6)
