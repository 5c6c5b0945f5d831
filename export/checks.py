"""Checking an export against Keras: on a probe image, and by PSNR-Y on a benchmark dataset.

Every file is run by its format's own runtime (``export.runtimes``) on a probe with odd
sides, so a shape bug cannot hide behind evenness, and compared with Keras's output in levels;
given a benchmark dataset, its PSNR-Y there is scored beside Keras's by the papers' protocol
(``evaluation.benchmark``). Its own module because it is the verification of all three formats,
whichever converter made them; what it finds goes into the sidecar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.conventions import shave_border
from export.runtimes import keras_runner
from export.serving import to_model_input, to_uint8
from runtime import stop
from runtime.errors import UserError

# The probe each export is checked on: odd sides, so a shape bug cannot hide behind evenness.
PROBE_SIZE = (37, 53)


@dataclass
class Reference:
    """What every export is compared with: Keras on the probe and on the benchmark images."""

    probe: np.ndarray
    probe_levels: np.ndarray
    pairs: list
    input_dtype: str
    _keras_psnr: float | None = None

    def keras_psnr(self, keras_run):
        if self._keras_psnr is None:
            self._keras_psnr = dataset_psnr(keras_run, self.pairs, self.input_dtype)
        return self._keras_psnr


def probe_pixels(size, seed=0):
    """A smooth colour ramp with noise on it: photo-like enough for the quantized variants."""
    height, width = size
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = np.stack([rows / height, cols / width, 1 - (rows + cols) / (height + width)], axis=-1)
    noise = np.random.default_rng(seed).normal(0, 0.1, ramp.shape)
    return np.clip(np.rint(255 * (ramp + noise)), 0, 255).astype(np.uint8)[None]


def check_probe(run, reference):
    """The export against Keras on the probe, as levels (0-255)."""
    from evaluation.metrics import psnr

    if run is None:
        return {"skipped": "its runtime is not installed (pip install -r requirements-dev.txt)"}
    levels = run(reference.probe)
    expected = reference.probe_levels
    if levels.shape != expected.shape:
        raise RuntimeError(f"the export returns {levels.shape} for {reference.probe.shape}")
    agreement = psnr(expected[0], levels[0], y_channel=False)
    return {
        "runtime": run.runtime,
        "input_shape": list(reference.probe.shape),
        "max_abs_diff_vs_keras": float(np.max(np.abs(levels - expected))),
        # RGB, on the levels; null when identical (JSON has no infinity)
        "psnr_vs_keras_db": round(agreement, 2) if np.isfinite(agreement) else None,
    }


def benchmark_scores(run, model, reference):
    if run is None or not reference.pairs:
        return None
    keras_psnr = reference.keras_psnr(keras_runner(model))
    value = dataset_psnr(run, reference.pairs, reference.input_dtype)
    scale = reference.pairs[0].scale
    border = shave_border(scale)
    return {
        "dataset": reference.pairs[0].dataset,
        "images": len(reference.pairs),
        "psnr_y_db": round(value, 4),
        "keras_psnr_y_db": round(keras_psnr, 4),
        "change_db": round(value - keras_psnr, 4) + 0.0,  # + 0.0: never -0.0
        "protocol": f"x{scale}, PSNR on the Y channel (BT.601), {border}-pixel border shaved, "
        f"HR modcropped to {scale}, official LR where the dataset ships it "
        "(evaluation.benchmark); uint8 outputs",
    }


def dataset_psnr(run, pairs, input_dtype="uint8"):
    """Mean PSNR-Y (dB) of ``run`` (batch -> levels) on benchmark pairs, by the papers' protocol."""
    from evaluation.metrics import psnr

    values = []
    for pair in pairs:
        stop.check()
        lr = pair.lr if pair.lr.ndim == 3 else np.repeat(pair.lr[:, :, None], 3, axis=2)
        levels = run(to_model_input(lr[None], input_dtype))[0]
        border = shave_border(pair.scale)
        values.append(psnr(pair.hr, to_uint8(levels, grey=pair.grey), crop_border=border))
    return float(np.mean(values))


def benchmark_pairs(dataset, data_dir, input_size, required, say, scale):
    """The benchmark's HR/LR pairs at ``scale`` (the generator's), as evaluate.py makes them."""
    if dataset is None:
        return []
    if input_size is not None:
        if not required:
            say("note: the sidecars get no PSNR (a fixed input size cannot take its images)")
            return []
        raise UserError("a fixed --input-size cannot score a benchmark's images of other sizes")
    from evaluation.benchmark import load_test_image, resolve_dataset

    try:
        found = resolve_dataset(dataset, data_dir, scale=scale)
    except UserError as error:
        if required:
            raise
        say(f"note: the sidecars get no PSNR ({error})")
        return []
    return [load_test_image(found.name, image, scale) for image in found.images]
