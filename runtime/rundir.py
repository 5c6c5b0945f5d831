"""The run directory: what a training run writes where, and which generator a path stands for.

::

    <run>/config.json            the run's Config (training.config), written first
    <run>/run.log                what happened, with times
    <run>/history.csv            one row per step (losses, learning rate, seconds)
    <run>/validation.csv         one row per checkpoint (PSNR-Y, SSIM-Y, RGB PSNR, LPIPS)
    <run>/loss.png               history.csv plotted
    <run>/samples/               LR | SR | HR grids, one per checkpoint
    <run>/tensorboard/           the same scalars for TensorBoard
    <run>/generator.keras        the newest checkpoint's generator: what people use
    <run>/checkpoints/latest     a line naming the newest complete checkpoint
    <run>/checkpoints/step_NNNNNNN/
        generator.keras          (with --ema: the averaged weights, what validation scored)
        generator_raw.keras      (with --ema: the raw weights a resume trains on from)
        discriminator.keras      (GAN stage)
        optimizers.npz, state.json

Training writes it (``training.loop``, ``training.checkpoints``), evaluation reads it
(``evaluation.runs``, ``evaluation.run_export``), the launcher names it, and the tools and
``inference.weights`` resolve a path to a generator through it: each asks this module for every
name, so none of them knows the layout on its own (tests/test_owners.py greps for copies).

It lives in runtime/, the bottom layer, because both ends use it: training above evaluation
writes what evaluation and inference below it read. It needs neither Keras nor images: names,
paths, the CSV logs and ``config.json`` as text.
"""

from __future__ import annotations

import csv
import os
import re
import time
from pathlib import Path

from runtime.errors import UserError

CONFIG = "config.json"
LOG = "run.log"
HISTORY = "history.csv"
VALIDATION = "validation.csv"
LOSS_PLOT = "loss.png"
SAMPLES = "samples"
TENSORBOARD = "tensorboard"
CHECKPOINTS = "checkpoints"
LATEST = "latest"  # in checkpoints/
STATE = "state.json"  # in a checkpoint
OPTIMIZERS = "optimizers.npz"  # in a checkpoint

_STEP_PREFIX = "step_"
_STEP = re.compile(rf"{_STEP_PREFIX}(\d+)")
_RAW = "_raw"


def model_file(name: str) -> str:
    """The file a checkpoint saves the model ``name`` in."""
    return f"{name}.keras"


def raw_name(name: str) -> str:
    """The name an ``--ema`` checkpoint saves ``name``'s raw (not averaged) weights under."""
    return f"{name}{_RAW}"


GENERATOR = model_file("generator")
RAW_GENERATOR = model_file(raw_name("generator"))
DISCRIMINATOR = model_file("discriminator")


def default_run_name(config) -> str:
    """``runs/``'s name for a new run:
    ``<time>_<stage>_x<scale>_<upsample>_b<blocks>_<dataset>_<preset>``.

    ``config`` is a ``training.config.Config`` (any object with those fields): the launcher
    fixes the name once for all its workers, ``training.loop`` for a run of its own. The scale
    is in it so that an x2 and an x4 run of the same stage and data are told apart.
    """
    dataset = "+".join(Path(part).name for part in config.dataset.split(",") if part)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    network = f"x{config.scale}_{config.upsample}_b{config.blocks}"
    return f"{stamp}_{config.stage}_{network}_{dataset}_{config.preset}"


# -- checkpoints ---------------------------------------------------------------------------
def checkpoint_name(step: int) -> str:
    """``step_NNNNNNN``: seven digits, so names sort as steps do."""
    return f"{_STEP_PREFIX}{step:07d}"


def checkpoint_dir(run_dir, step: int) -> Path:
    return Path(run_dir) / CHECKPOINTS / checkpoint_name(step)


def checkpoint_step(path) -> int | None:
    """The step of a checkpoint folder ``<run>/checkpoints/step_N``; None for any other path."""
    path = Path(path)
    match = _STEP.fullmatch(path.name)
    return int(match.group(1)) if match and path.parent.name == CHECKPOINTS else None


def checkpoint_dirs(run_dir) -> list[Path]:
    """Every checkpoint folder of a run, oldest first, complete or not (no temporary ones)."""
    folder = Path(run_dir) / CHECKPOINTS
    return sorted(path for path in folder.glob(f"{_STEP_PREFIX}*") if path.is_dir())


def complete_checkpoints(run_dir) -> list[Path]:
    """The checkpoint folders whose ``state.json`` (written last) is there, oldest first."""
    folder = Path(run_dir) / CHECKPOINTS
    return sorted(path for path in folder.glob(f"{_STEP_PREFIX}*") if (path / STATE).exists())


def temporary_checkpoint(run_dir, step: int) -> Path:
    """Where this process writes checkpoint ``step`` before renaming it into place."""
    return Path(run_dir) / CHECKPOINTS / f".{checkpoint_name(step)}.{os.getpid()}.tmp"


def temporary_checkpoints(run_dir) -> list[Path]:
    """Temporary checkpoint folders left by a process killed while it wrote one."""
    return sorted((Path(run_dir) / CHECKPOINTS).glob(f".{_STEP_PREFIX}*.tmp"))


def latest_pointer(run_dir) -> Path:
    """``checkpoints/latest``, the file naming the newest complete checkpoint."""
    return Path(run_dir) / CHECKPOINTS / LATEST


def latest_checkpoint(run_dir) -> Path | None:
    """The newest complete checkpoint folder of a run, or None."""
    pointer = latest_pointer(run_dir)
    if pointer.exists():
        candidate = pointer.parent / pointer.read_text().strip()
        if (candidate / STATE).exists():
            return candidate
    complete = complete_checkpoints(run_dir)
    return complete[-1] if complete else None


# -- which generator a path stands for -----------------------------------------------------
def generator_file(path) -> Path:
    """The generator ``.keras`` file behind a path, for every tool that takes one
    (``upscale.py --weights``, ``evaluate.py``, ``train.py --init-generator``, run exports).

    The rule, in order:

    1. a file is itself (whatever its name: loading it says whether it is a generator);
    2. a run's ``checkpoints/`` folder stands for its run;
    3. a folder holding ``generator.keras`` (a run, an exported run, one checkpoint) gives it:
       for a run, the generator of its newest checkpoint;
    4. a run with checkpoints but no ``generator.keras`` yet (stopped between the two writes)
       gives its newest complete checkpoint's.

    Anything else is a ``UserError`` that says what was expected.
    """
    return saved_model_file(path, GENERATOR)


def discriminator_file(path) -> Path:
    """The discriminator ``.keras`` file behind a path (``train.py --init-discriminator``), by
    ``generator_file``'s rule: a GAN-stage checkpoint, or its run's newest, holds one."""
    return saved_model_file(path, DISCRIMINATOR)


def saved_model_file(path, name) -> Path:
    """The file ``name`` (``GENERATOR``, ``DISCRIMINATOR``) behind ``path``: see
    ``generator_file``."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.exists():
        raise UserError(
            f"{path}: no such file or folder (expected a .keras file or a training run directory)"
        )
    if path.name == CHECKPOINTS and path.is_dir():
        path = path.parent
    if (path / name).is_file():
        return path / name
    latest = latest_checkpoint(path)
    if latest is not None and (latest / name).is_file():
        return latest / name
    raise UserError(
        f"{path}: no {name} in this folder nor a checkpoint (expected a .keras file or a "
        "training run directory)"
    )


# -- reading a run -------------------------------------------------------------------------
def read_csv(path) -> list[dict]:
    """Rows of a CSV log (``history.csv``, ``validation.csv``) as dicts of floats, empty
    cells dropped."""
    with open(path, newline="") as handle:
        return [
            {key: float(value) for key, value in row.items() if value not in ("", None)}
            for row in csv.DictReader(handle)
        ]


def runs_under(folder, depth: int = 2) -> list[Path]:
    """The run directories (folders holding ``config.json``) up to ``depth`` levels below
    ``folder``, shallowest first."""
    folder = Path(folder)
    return [
        config.parent
        for level in range(1, depth + 1)
        for config in folder.glob("/".join(["*"] * level + [CONFIG]))
    ]
