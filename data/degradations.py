"""Real-world degradations: an HR photo made into the kind of LR image people actually upscale.

The paper's LR images are clean MATLAB-bicubic downscales; real photos are blurred by a lens,
resized by unknown software, noisy and JPEG-compressed, often more than once. This is the
second-order degradation model of Real-ESRGAN (Wang, Xie, Dong and Shan, "Real-ESRGAN:
Training Real-World Blind Super-Resolution with Pure Synthetic Data", ICCVW 2021, section 3
and its training options), in numpy and OpenCV so it runs on the loader's threads:

    blur -> random resize -> noise -> JPEG            (the first degradation)
    blur (80%) -> random resize -> noise -> JPEG      (the second, milder)
    resize to HR / scale and a sinc filter (80%), then JPEG, or JPEG first (50% each)

Blur kernels are isotropic or anisotropic Gaussians, their generalised and plateau-shaped
variants, or (10%) a sinc (ideal low-pass, which rings like an over-sharpened image);
resizes use area, bilinear or bicubic; noise is Gaussian or Poisson (shot noise), in colour or
(40%) the same in every channel; JPEG quality is drawn from 30-95. Every parameter is in
``REAL_ESRGAN`` below, in one place, with the paper's values. Every draw comes from the
generator the caller passes, so a batch made from ``numpy.random.default_rng([seed, step,
index])`` is the same on every run and after a resume.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.special import j1

from data import conventions

KERNEL_KINDS = (
    "iso",
    "aniso",
    "generalized_iso",
    "generalized_aniso",
    "plateau_iso",
    "plateau_aniso",
)
RESIZE_MODES = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}
# How a training pair's LR is made (train.py --degradation): the paper's MATLAB bicubic
# downscale of a clean photo, or this module's real-world model.
DEGRADATIONS = ("bicubic", "real")


@dataclass(frozen=True)
class Stage:
    """One degradation pass: blur, resize, noise, JPEG."""

    blur_prob: float  # the chance that this pass blurs at all
    kernel_prob: tuple  # the chance of each of KERNEL_KINDS (sums to 1)
    sinc_prob: float  # the chance that the blur is a sinc instead
    sigma: tuple  # Gaussian widths, in pixels
    beta_generalized: tuple  # the generalised Gaussian's exponent
    beta_plateau: tuple  # the plateau kernel's exponent
    resize_prob: tuple  # up, down, keep
    resize_range: tuple  # the scale factor's range
    gaussian_noise_prob: float  # Gaussian, else Poisson
    noise_sigma: tuple  # Gaussian noise, in 0-255 levels
    poisson_scale: tuple  # Poisson noise's strength
    grey_noise_prob: float  # the same noise in every channel
    jpeg_quality: tuple


@dataclass(frozen=True)
class Degradation:
    first: Stage
    second: Stage
    kernel_sizes: tuple  # odd sides of the blur kernels
    final_sinc_prob: float  # the sinc after the final resize


# Real-ESRGAN's training options (train_realesrgan_x4plus.yml, the paper's section 3).
REAL_ESRGAN = Degradation(
    first=Stage(
        blur_prob=1.0,
        kernel_prob=(0.45, 0.25, 0.12, 0.03, 0.12, 0.03),
        sinc_prob=0.1,
        sigma=(0.2, 3.0),
        beta_generalized=(0.5, 4.0),
        beta_plateau=(1.0, 2.0),
        resize_prob=(0.2, 0.7, 0.1),
        resize_range=(0.15, 1.5),
        gaussian_noise_prob=0.5,
        noise_sigma=(1.0, 30.0),
        poisson_scale=(0.05, 3.0),
        grey_noise_prob=0.4,
        jpeg_quality=(30, 95),
    ),
    second=Stage(
        blur_prob=0.8,
        kernel_prob=(0.45, 0.25, 0.12, 0.03, 0.12, 0.03),
        sinc_prob=0.1,
        sigma=(0.2, 1.5),
        beta_generalized=(0.5, 4.0),
        beta_plateau=(1.0, 2.0),
        resize_prob=(0.3, 0.4, 0.3),
        resize_range=(0.3, 1.2),
        gaussian_noise_prob=0.5,
        noise_sigma=(1.0, 25.0),
        poisson_scale=(0.05, 2.5),
        grey_noise_prob=0.4,
        jpeg_quality=(30, 95),
    ),
    kernel_sizes=(7, 9, 11, 13, 15, 17, 19, 21),
    final_sinc_prob=0.8,
)


# -- kernels ---------------------------------------------------------------------------------
def _grid(size):
    half = size // 2
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    return x, y


def _quadratic_form(size, sigma_x, sigma_y, angle):
    """x^T Sigma^-1 x over the kernel's grid, Sigma = R diag(sx^2, sy^2) R^T."""
    x, y = _grid(size)
    cos, sin = math.cos(angle), math.sin(angle)
    u, v = cos * x + sin * y, -sin * x + cos * y
    return (u / sigma_x) ** 2 + (v / sigma_y) ** 2


def gaussian_kernel(size, sigma_x, sigma_y=None, angle=0.0, *, beta=1.0, plateau=False):
    """A normalised blur kernel: Gaussian (beta 1), generalised Gaussian exp(-q^beta / 2), or
    plateau 1 / (1 + q^beta), where q is the Mahalanobis form of (sigma_x, sigma_y, angle)."""
    q = _quadratic_form(size, sigma_x, sigma_x if sigma_y is None else sigma_y, angle)
    kernel = 1.0 / (1.0 + q**beta) if plateau else np.exp(-0.5 * q**beta)
    return (kernel / kernel.sum()).astype(np.float32)


def sinc_kernel(size, cutoff):
    """The ideal circular low-pass with ``cutoff`` in radians per pixel: its ringing is what
    over-sharpening and some resizers leave around edges."""
    x, y = _grid(size)
    r = np.hypot(x, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        kernel = cutoff * j1(cutoff * r) / (2 * np.pi * r)
    kernel[size // 2, size // 2] = cutoff**2 / (4 * np.pi)  # the limit at r = 0
    return (kernel / kernel.sum()).astype(np.float32)


def random_kernel(rng, stage, sizes):
    """A kernel drawn as the stage says: (kernel, description)."""
    size = int(rng.choice(sizes))
    if rng.uniform() < stage.sinc_prob:
        low = math.pi / 3 if size < 13 else math.pi / 5
        cutoff = rng.uniform(low, math.pi)
        return sinc_kernel(size, cutoff), f"sinc {size} cutoff {cutoff:.2f}"
    kind = KERNEL_KINDS[rng.choice(len(KERNEL_KINDS), p=stage.kernel_prob)]
    sigma_x = rng.uniform(*stage.sigma)
    isotropic = kind.endswith("iso") and not kind.endswith("aniso")
    sigma_y = sigma_x if isotropic else rng.uniform(*stage.sigma)
    angle = 0.0 if isotropic else rng.uniform(-math.pi, math.pi)
    beta, plateau = 1.0, False
    if kind.startswith("generalized"):
        beta = rng.uniform(*stage.beta_generalized)
    elif kind.startswith("plateau"):
        beta, plateau = rng.uniform(*stage.beta_plateau), True
    kernel = gaussian_kernel(size, sigma_x, sigma_y, angle, beta=beta, plateau=plateau)
    return kernel, f"{kind} {size} sigma {sigma_x:.2f}/{sigma_y:.2f}"


# -- the steps, on float32 RGB in [0, 1] ------------------------------------------------------
def blur(image, kernel):
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT_101)


def resize(image, height, width, mode):
    return cv2.resize(image, (max(1, width), max(1, height)), interpolation=RESIZE_MODES[mode])


def add_noise(image, rng, stage):
    """Gaussian noise (sigma in levels) or Poisson shot noise, in colour or the same in every
    channel; the result is not clipped (the JPEG step that follows rounds and clips)."""
    grey = rng.uniform() < stage.grey_noise_prob
    shape = image.shape[:2] + ((1,) if grey else (image.shape[2],))
    if rng.uniform() < stage.gaussian_noise_prob:
        noise = rng.normal(0.0, rng.uniform(*stage.noise_sigma) / 255.0, shape)
    else:
        scale = rng.uniform(*stage.poisson_scale)
        source = image if not grey else image.mean(axis=2, keepdims=True)
        source = np.clip(source, 0.0, 1.0)
        noise = (rng.poisson(source * 255.0) / 255.0 - source) * scale
    return (image + noise).astype(np.float32)


def jpeg(image, quality):
    """Encode and decode at ``quality``: the 8x8 blocks and ringing of a real JPEG."""
    levels = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", levels[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255.0


def _one_stage(image, rng, stage, sizes, base):
    """One pass; ``base`` (height, width) is what its resize factor multiplies: the HR size
    in the first pass, the LR size in the second (as Real-ESRGAN does)."""
    if rng.uniform() < stage.blur_prob:
        kernel, _ = random_kernel(rng, stage, sizes)
        image = blur(image, kernel)
    direction = rng.choice(3, p=stage.resize_prob)
    factor = (
        rng.uniform(1.0, stage.resize_range[1])
        if direction == 0
        else rng.uniform(stage.resize_range[0], 1.0)
        if direction == 1
        else 1.0
    )
    mode = str(rng.choice(list(RESIZE_MODES)))
    image = resize(image, round(base[0] * factor), round(base[1] * factor), mode)
    image = add_noise(image, rng, stage)
    return jpeg(image, rng.integers(stage.jpeg_quality[0], stage.jpeg_quality[1] + 1))


def degrade(hr, rng, *, scale=conventions.DEFAULT_SCALE, model=REAL_ESRGAN):
    """The LR image (uint8 RGB, HR's size / ``scale``) of an HR crop (uint8 RGB whose sides
    are multiples of ``scale``), every draw taken from ``rng``. ``scale`` is the run's (x4 the
    paper's); Real-ESRGAN's parameters are the same at every scale, as its x2 model's are."""
    scale = conventions.check_scale(scale)
    height, width = hr.shape[0] // scale, hr.shape[1] // scale
    image = hr.astype(np.float32) / 255.0
    image = _one_stage(image, rng, model.first, model.kernel_sizes, hr.shape[:2])
    image = _one_stage(image, rng, model.second, model.kernel_sizes, (height, width))
    final_sinc = rng.uniform() < model.final_sinc_prob
    cutoff = rng.uniform(math.pi / 3, math.pi)
    size = int(rng.choice(model.kernel_sizes))
    mode = str(rng.choice(list(RESIZE_MODES)))
    quality = rng.integers(model.second.jpeg_quality[0], model.second.jpeg_quality[1] + 1)

    def resize_and_sinc(picture):
        picture = resize(picture, height, width, mode)
        return blur(picture, sinc_kernel(size, cutoff)) if final_sinc else picture

    if rng.uniform() < 0.5:
        image = jpeg(resize_and_sinc(image), quality)
    else:
        image = resize_and_sinc(jpeg(image, quality))
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def degrader(name, scale=conventions.DEFAULT_SCALE):
    """The function ``(hr, rng) -> lr`` that makes a training LR ``scale`` times smaller from
    its HR crop and a generator, for a name of ``DEGRADATIONS``; None for ``bicubic`` (the
    cached MATLAB-bicubic pairs serve as they are)."""
    if name not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {name!r}; choose from {', '.join(DEGRADATIONS)}")
    if name == "bicubic":
        return None
    scale = conventions.check_scale(scale)
    return functools.partial(degrade, scale=scale)
