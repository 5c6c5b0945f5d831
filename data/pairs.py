"""LR/HR training pairs and batches, for both presets.

- ``resize`` (the student report): every HR image is resized whole with MATLAB-compatible
  bicubic to ``hr_size`` x ``hr_size``; its LR is that image downscaled by ``scale``.
- ``crop`` (the paper): LR = MATLAB-compatible bicubic downscale by ``scale`` of
  ``modcrop(HR, scale)``; each sample is a random ``hr_size`` HR crop and the aligned
  ``hr_size / scale`` LR crop, with an optional random flip and 90-degree rotation.

``scale`` is the run's (2, 4 or 8; ``data.conventions.SCALES``), x4 where not given, as the
paper's. Every LR here is our own downscale, never a dataset's official LR files (x4 only).

Each image is decoded and degraded once; the pair is cached on disk as ``.npy`` and read back
memory-mapped, so 3,450 2K images never sit in memory together and a crop costs a few small reads.

Every batch is a pure function of ``(seed, epoch, index)``. A resumed run, a prefetching thread
or a restarted loader therefore see exactly the batches an uninterrupted run would.
"""

import concurrent.futures
import contextlib
import hashlib
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from data import conventions
from data.conventions import to_model_input, to_model_output
from data.images import ImageError, read_rgb
from data.matlab_functions import bicubic_downscale, imresize, modcrop
from runtime import atomic
from runtime.errors import UserError

CACHE_VERSION = 1


def make_pair(hr, *, mode, hr_size, scale=conventions.DEFAULT_SCALE):
    """(LR, HR) uint8 arrays for one decoded RGB image, the LR ``scale`` times smaller."""
    scale = conventions.check_scale(scale)
    if mode == "resize":
        hr = imresize(hr, output_shape=(hr_size, hr_size))
        return imresize(hr, scale=1 / scale), hr
    if mode == "crop":
        hr = modcrop(hr, scale)
        return bicubic_downscale(hr, scale), hr
    raise ValueError(f"unknown pairs mode {mode!r}")


@dataclass
class SkippedImage:
    path: Path
    reason: str


# np.load parses each .npy header with ast.literal_eval, and CPython 3.11's AST constructor
# is not safe in threads: _prepare's workers failed with "SystemError: AST constructor
# recursion depth mismatch" (CPython gh-106905; Python 3.11.7, CI). Opening a memory map is
# only a header read, so doing them one at a time costs nothing.
_NPY_OPEN_LOCK = threading.Lock()


def _open_npy(path):
    """``path`` memory-mapped read-only, its header parsed under ``_NPY_OPEN_LOCK``."""
    with _NPY_OPEN_LOCK:
        return np.load(path, mmap_mode="r")


def _cache_key(path, mode, hr_size, scale):
    stat = os.stat(path)
    text = f"{CACHE_VERSION}|{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{mode}|"
    text += str(hr_size if mode == "resize" else scale)
    if mode == "resize" and scale != conventions.DEFAULT_SCALE:
        # Other scales' resized pairs differ in their LR; x4's key stays what it was before
        # there were other scales, so the pairs already cached are still found.
        text += f"|x{scale}"
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def _save_npy_atomically(path, array):
    with atomic.replacing(path) as temporary, open(temporary, "wb") as handle:
        np.save(handle, array)


class PairSource:
    """Training pairs from a list of HR image files, decoded once and cached on disk."""

    def __init__(
        self,
        paths,
        *,
        mode,
        hr_size,
        cache_dir,
        scale=conventions.DEFAULT_SCALE,
        augment=False,
        progress=True,
        degrade=None,
    ):
        self.scale = conventions.check_scale(scale)
        if hr_size % self.scale:
            raise UserError(f"HR size {hr_size} is not a multiple of the scale {self.scale}")
        self.mode = mode
        # ``degrade(hr, rng)``, e.g. data.degradations.degrade with this scale: each LR made
        # from its HR crop on the fly instead of the cached bicubic one.
        self.degrade = degrade
        self.hr_size = hr_size
        self.lr_size = hr_size // self.scale
        self.augment = augment
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.skipped = []
        self._pairs = []
        self._orders = {}
        paths = [Path(p) for p in paths]
        workers = max(1, min(4, os.cpu_count() or 1))
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            results = pool.map(self._prepare, paths)
            bar = tqdm(
                results,
                total=len(paths),
                desc="preparing pairs",
                unit="img",
                disable=not progress,
                leave=False,
            )
            for result in bar:
                if isinstance(result, SkippedImage):
                    # Reported by the caller (run.log and a summary line), not as a warning:
                    # decoders silence warnings process-wide from the worker threads.
                    self.skipped.append(result)
                else:
                    self._pairs.append(result)
        if not self._pairs:
            raise UserError(
                f"no usable training images among {len(paths)} "
                f"(skipped {len(self.skipped)}: {self.skipped[0].reason if self.skipped else ''})"
            )

    def _prepare(self, path):
        """Cache one image's pair; return memory-mapped (lr, hr), or why it was skipped."""
        try:
            key = _cache_key(path, self.mode, self.hr_size, self.scale)
        except OSError as error:
            return SkippedImage(path, f"cannot read ({error.strerror})")
        lr_file = self.cache_dir / f"{key}.lr.npy"
        hr_file = self.cache_dir / f"{key}.hr.npy"
        if not (lr_file.exists() and hr_file.exists()):
            try:
                image = read_rgb(path)
            except ImageError as error:
                return SkippedImage(path, str(error))
            if self.mode == "crop" and min(image.shape[:2]) < self.hr_size:
                return SkippedImage(
                    path,
                    f"{image.shape[1]}x{image.shape[0]} is smaller than the "
                    f"{self.hr_size}x{self.hr_size} HR crop",
                )
            lr, hr = make_pair(image, mode=self.mode, hr_size=self.hr_size, scale=self.scale)
            _save_npy_atomically(hr_file, hr)
            _save_npy_atomically(lr_file, lr)
        lr, hr = _open_npy(lr_file), _open_npy(hr_file)
        if self.mode == "crop" and min(hr.shape[:2]) < self.hr_size:
            return SkippedImage(path, f"smaller than the {self.hr_size}x{self.hr_size} HR crop")
        return lr, hr

    def __len__(self):
        return len(self._pairs)

    def steps_per_epoch(self, batch_size):
        """Batches in one pass over the images (at least one)."""
        return max(1, -(-len(self._pairs) // batch_size))

    def _order(self, seed, epoch):
        if (seed, epoch) not in self._orders:
            if len(self._orders) > 4:
                self._orders.clear()
            self._orders[seed, epoch] = np.random.default_rng([seed, epoch]).permutation(len(self))
        return self._orders[seed, epoch]

    def batch(self, seed, epoch, index, batch_size):
        """Batch ``index`` of ``epoch``: (LR float32 in [0, 1], HR float32 in [-1, 1])."""
        order = self._order(seed, epoch)
        rng = np.random.default_rng([seed, epoch, index, 1])
        lrs = np.empty((batch_size, self.lr_size, self.lr_size, 3), np.uint8)
        hrs = np.empty((batch_size, self.hr_size, self.hr_size, 3), np.uint8)
        for slot in range(batch_size):
            lr, hr = self._pairs[order[(index * batch_size + slot) % len(order)]]
            if self.mode == "crop":
                y = int(rng.integers(0, lr.shape[0] - self.lr_size + 1))
                x = int(rng.integers(0, lr.shape[1] - self.lr_size + 1))
                lr = lr[y : y + self.lr_size, x : x + self.lr_size]
                hy, hx = y * self.scale, x * self.scale
                hr = hr[hy : hy + self.hr_size, hx : hx + self.hr_size]
            if self.augment:
                turns, flip = int(rng.integers(4)), bool(rng.integers(2))
                lr, hr = np.rot90(lr, turns), np.rot90(hr, turns)
                if flip:
                    lr, hr = lr[:, ::-1], hr[:, ::-1]
            if self.degrade is not None:
                # Its own generator: the crops are the bicubic run's, whatever it draws.
                draws = np.random.default_rng([seed, epoch, index, slot, 2])
                lr = self.degrade(np.ascontiguousarray(hr), draws)
            lrs[slot], hrs[slot] = lr, hr
        return to_model_input(lrs), to_model_output(hrs)


def validation_pairs(
    paths,
    *,
    mode,
    hr_size,
    scale=conventions.DEFAULT_SCALE,
    crop=None,
    limit=None,
    degrade=None,
    seed=0,
):
    """Fixed (name, LR uint8, HR uint8) triples for monitoring a run; the same every epoch.

    ``crop`` centre-crops HR (and the aligned LR) to at most ``crop`` pixels a side, which
    bounds validation time on 2K images; evaluate.py scores whole images. ``degrade(hr, rng)``
    makes each LR from its (cropped) HR with draws fixed by ``seed`` and the image's place.
    """
    scale = conventions.check_scale(scale)
    least = conventions.min_scored_side(scale)
    triples, skipped = [], []
    for path in list(paths)[: limit or None]:
        try:
            image = read_rgb(path)
        except ImageError as error:
            skipped.append(SkippedImage(Path(path), str(error)))
            continue
        height, width = image.shape[:2]
        if mode == "crop" and min(height, width) < least:
            reason = f"{width}x{height} is too small to validate on ({least} px a side)"
            skipped.append(SkippedImage(Path(path), reason))
            continue
        lr, hr = make_pair(image, mode=mode, hr_size=hr_size, scale=scale)
        if crop:
            side = min(crop, hr.shape[0], hr.shape[1]) // scale
            y0 = (lr.shape[0] - side) // 2
            x0 = (lr.shape[1] - side) // 2
            lr = lr[y0 : y0 + side, x0 : x0 + side]
            hr = hr[y0 * scale : (y0 + side) * scale, x0 * scale : (x0 + side) * scale]
        hr = np.ascontiguousarray(hr)
        if degrade is not None:
            lr = degrade(hr, np.random.default_rng([seed, len(triples), 3]))
        triples.append((Path(path).stem, np.ascontiguousarray(lr), hr))
    return triples, skipped


class Prefetcher:
    """Makes the batches of steps ``[start, stop)`` on a background thread, in order.

    Decoding crops overlaps with the training step; because batches depend only on their
    position, prefetching changes nothing about what is trained on.
    """

    _DONE = object()

    def __init__(self, source, *, seed, batch_size, steps_per_epoch, start, stop, depth=4):
        self._queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._error = None

        def produce():
            try:
                for step in range(start, stop):
                    if self._stop.is_set():
                        return
                    epoch, index = divmod(step, steps_per_epoch)
                    item = (step, *source.batch(seed, epoch, index, batch_size))
                    while not self._stop.is_set():
                        try:
                            self._queue.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
            except BaseException as error:  # re-raised in the consumer's thread
                self._error = error
            finally:
                self._queue.put(self._DONE)

        self._thread = threading.Thread(target=produce, name="batch-prefetch", daemon=True)
        self._thread.start()

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is self._DONE:
                if self._error is not None:
                    raise self._error
                return
            yield item

    def close(self):
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.1)
        self._thread.join()
