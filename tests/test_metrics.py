import math

import numpy as np
import pytest
from scipy.signal import convolve2d

from data.conventions import rgb_to_y, shave
from data.images import decode_image, list_images, read_rgb
from data.matlab_functions import bicubic_upscale, modcrop
from evaluation.metrics import psnr, ssim

RNG = np.random.default_rng(0)
IMAGE = RNG.integers(0, 256, (40, 48, 3), dtype=np.uint8)


def matlab_ssim(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Wang et al.'s ssim_index.m, written out: filter2 with an 11x11 Gaussian, 'valid' region."""
    axis = np.arange(-5, 6)
    window = np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2 * 1.5**2))
    window /= window.sum()

    def filtered(image):
        return convolve2d(image, window, mode="valid")  # symmetric window: same as filter2

    x = reference.astype(np.float64)
    y = estimate.astype(np.float64)
    c1 = (0.01 * 255) ** 2
    c2 = (0.03 * 255) ** 2
    mu_x, mu_y = filtered(x), filtered(y)
    var_x = filtered(x * x) - mu_x**2
    var_y = filtered(y * y) - mu_y**2
    cov = filtered(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )
    return float(ssim_map.mean())


def load_as_stored_channels(path):
    pixels = decode_image(path)
    return pixels if pixels.ndim == 2 else read_rgb(path)


def bicubic_pairs(datasets, benchmark):
    """(name, modcrop(HR, 4), bicubic x4 of the official LR) for every image of a benchmark."""
    pairs = []
    for hr_path in list_images(datasets / benchmark / "HR"):
        lr_path = datasets / benchmark / "LR_bicubic" / "X4" / f"{hr_path.stem}x4.png"
        hr = modcrop(load_as_stored_channels(hr_path), 4)
        pairs.append((hr_path.stem, hr, bicubic_upscale(load_as_stored_channels(lr_path), 4)))
    return pairs


# --- basics ----------------------------------------------------------------------------------


def test_identical_images_score_perfectly():
    assert psnr(IMAGE, IMAGE) == math.inf
    assert psnr(IMAGE, IMAGE, y_channel=False) == math.inf
    assert ssim(IMAGE, IMAGE) == pytest.approx(1.0, abs=1e-12)
    assert ssim(IMAGE, IMAGE, y_channel=False) == pytest.approx(1.0, abs=1e-12)


def test_psnr_of_a_known_error():
    grey = np.full((20, 20), 100, dtype=np.uint8)
    # MSE 1 on 0-255 data: 20 log10(255).
    assert psnr(grey, grey + 1) == pytest.approx(20 * math.log10(255))
    assert psnr(IMAGE, IMAGE.astype(float) + 2, y_channel=False) == pytest.approx(
        10 * math.log10(255**2 / 4)
    )
    # Adding 1 to R, G and B moves Y by (65.481 + 128.553 + 24.966) / 255 = 219 / 255.
    brighter = np.clip(IMAGE, 0, 254) + 1
    base = np.clip(IMAGE, 0, 254)
    assert psnr(base, brighter) == pytest.approx(10 * math.log10(255**2 / (219 / 255) ** 2))


def test_y_channel_is_the_default_and_differs_from_rgb():
    noisy = np.clip(IMAGE + RNG.normal(0, 8, IMAGE.shape), 0, 255)
    y_only = psnr(IMAGE, noisy)
    assert y_only == pytest.approx(psnr(rgb_to_y(IMAGE), rgb_to_y(noisy), y_channel=False))
    assert y_only != pytest.approx(psnr(IMAGE, noisy, y_channel=False))


def test_crop_border_ignores_the_edges():
    damaged = IMAGE.copy()
    damaged[:3] = 0
    damaged[:, -3:] = 255
    assert psnr(IMAGE, damaged, crop_border=3) == math.inf
    assert psnr(IMAGE, damaged, crop_border=2) < 40
    assert ssim(IMAGE, damaged, crop_border=3) == pytest.approx(1.0)
    assert shave(IMAGE, 4).shape == (32, 40, 3)
    assert shave(IMAGE, 0) is IMAGE
    with pytest.raises(ValueError):
        psnr(IMAGE, IMAGE, crop_border=24)


def test_grey_images_are_scored_on_their_own_channel():
    grey = IMAGE[..., 0]
    noisy = np.clip(grey + RNG.normal(0, 5, grey.shape), 0, 255)
    mse = np.mean((grey.astype(float) - noisy) ** 2)
    assert psnr(grey, noisy) == pytest.approx(10 * math.log10(255**2 / mse))
    assert psnr(grey, noisy, y_channel=False) == pytest.approx(psnr(grey, noisy))
    assert ssim(grey, noisy) == pytest.approx(matlab_ssim(grey, noisy), abs=1e-9)


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(40, 48, 3\).*\(40, 47, 3\)"):
        psnr(IMAGE, IMAGE[:, :47])
    with pytest.raises(ValueError, match=r"\(40, 48, 3\).*\(40, 48\)"):
        ssim(IMAGE, IMAGE[..., 0])


# --- SSIM is MATLAB's, and the bicubic baselines are the published ones ----------------------


def test_ssim_matches_a_direct_matlab_style_implementation(shared_datasets):
    for name, hr, sr in bicubic_pairs(shared_datasets, "Set5"):
        ours = ssim(hr, sr, crop_border=4)
        direct = matlab_ssim(shave(rgb_to_y(hr), 4), shave(rgb_to_y(sr), 4))
        assert ours == pytest.approx(direct, abs=1e-9), name
    # RGB: the mean of the per-channel SSIMs (checked on one image; convolve2d is slow).
    per_channel = [matlab_ssim(hr[..., c], sr[..., c]) for c in range(3)]
    assert ssim(hr, sr, y_channel=False) == pytest.approx(np.mean(per_channel), abs=1e-9)


def test_bicubic_baseline_set5(shared_datasets):
    pairs = bicubic_pairs(shared_datasets, "Set5")
    assert len(pairs) == 5
    mean_psnr = np.mean([psnr(hr, sr, crop_border=4) for _, hr, sr in pairs])
    mean_ssim = np.mean([ssim(hr, sr, crop_border=4) for _, hr, sr in pairs])
    reference_ssim = np.mean(
        [matlab_ssim(shave(rgb_to_y(hr), 4), shave(rgb_to_y(sr), 4)) for _, hr, sr in pairs]
    )
    print(f"Set5 bicubic x4: PSNR-Y {mean_psnr:.4f} dB, SSIM-Y {mean_ssim:.6f}")
    assert mean_psnr == pytest.approx(28.43, abs=0.01)
    assert mean_ssim == pytest.approx(reference_ssim, abs=0.005)
    assert mean_ssim == pytest.approx(0.81, abs=0.005)


def test_bicubic_baseline_set14(shared_datasets):
    pairs = bicubic_pairs(shared_datasets, "Set14")
    assert len(pairs) == 14
    assert dict((name, hr.ndim) for name, hr, _ in pairs)["bridge"] == 2  # scored as grey
    mean_psnr = np.mean([psnr(hr, sr, crop_border=4) for _, hr, sr in pairs])
    print(f"Set14 bicubic x4: PSNR-Y {mean_psnr:.4f} dB")
    assert mean_psnr == pytest.approx(26.00, abs=0.01)
