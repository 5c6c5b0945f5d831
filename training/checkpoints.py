"""Atomic checkpoints and exact resume.

A checkpoint is a folder ``checkpoints/step_XXXXXXX/`` holding ``generator.keras``,
``discriminator.keras`` (GAN stage), ``optimizers.npz`` (every optimiser variable: Adam's
moments, its iteration counter and learning rate) and ``state.json`` (step, epoch, best
validation PSNR). It is written under a temporary name and renamed into place, and
``checkpoints/latest`` (a one-line file naming it) is replaced atomically afterwards. A run killed
at any moment therefore leaves the previous checkpoint intact and ``latest`` pointing at a
complete one.

The names and places are ``runtime.rundir``'s (evaluation and the tools read them too); this
module writes and reads a checkpoint's contents, which takes knowing optimisers.

Nothing random needs saving: batches and label noise are functions of (seed, step), so
restoring the weights, the optimisers and the step is enough for an exact resume.
"""

import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np

from runtime import atomic, rundir
from runtime.errors import UserError


def optimizer_arrays(optimizer):
    return {f"{i:04d}": np.asarray(v.numpy()) for i, v in enumerate(optimizer.variables)}


def restore_optimizer(optimizer, trainable_variables, arrays):
    """Build ``optimizer`` for ``trainable_variables`` and load its saved state.

    Keras creates optimiser variables lazily; building them here, in the same order the first
    ``train_on_batch`` would, lets the saved values be assigned one to one.
    """
    if not optimizer.built:
        optimizer.build(trainable_variables)
    variables = optimizer.variables
    if len(variables) != len(arrays):
        raise UserError(
            f"checkpoint optimiser has {len(arrays)} variables, the model needs {len(variables)}: "
            "was it written by a different configuration?"
        )
    for index, variable in enumerate(variables):
        variable.assign(arrays[f"{index:04d}"])


def save_checkpoint(run_dir, *, step, models, optimizers, state, keep=2):
    """Write a complete checkpoint for ``step`` and point ``latest`` at it.

    ``models``: name -> keras.Model (saved as ``<name>.keras``); ``optimizers``: name ->
    optimizer; ``state``: JSON-serialisable dict. Keeps the newest ``keep`` checkpoints.
    """
    final = rundir.checkpoint_dir(run_dir, step)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = rundir.temporary_checkpoint(run_dir, step)
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    try:
        for model_name, model in models.items():
            model.save(temporary / rundir.model_file(model_name))
        arrays = {}
        for optimizer_name, optimizer in optimizers.items():
            for key, value in optimizer_arrays(optimizer).items():
                arrays[f"{optimizer_name}/{key}"] = value
        np.savez(temporary / rundir.OPTIMIZERS, **arrays)
        (temporary / rundir.STATE).write_text(json.dumps({**state, "step": step}, indent=2))
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)  # a full disk gets its space back
        raise
    if final.exists():  # the same step saved twice (e.g. Ctrl-C right after a checkpoint)
        shutil.rmtree(final)
    os.replace(temporary, final)
    atomic.write_text(rundir.latest_pointer(run_dir), final.name + "\n")
    _prune(run_dir, keep)
    return final


def _prune(run_dir, keep):
    for old in rundir.checkpoint_dirs(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in rundir.temporary_checkpoints(run_dir):
        shutil.rmtree(stale, ignore_errors=True)


class DamagedCheckpoint(Exception):
    """A checkpoint folder that is there but cannot be read back; the message says why."""


def verify_checkpoint(path):
    """Raise ``DamagedCheckpoint`` unless every file of the checkpoint reads back whole:
    ``state.json`` a JSON object with an integer step, ``optimizers.npz`` and each ``.keras``
    file a zip archive whose members pass their CRC check. A disk that filled up or a file
    cut short after the rename would otherwise surface as a zip or JSON traceback mid-resume.
    """
    path = Path(path)
    try:
        state = json.loads((path / rundir.STATE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DamagedCheckpoint(f"{rundir.STATE} unreadable: {_reason(error)}") from None
    if not isinstance(state, dict) or not isinstance(state.get("step"), int):
        raise DamagedCheckpoint(f"{rundir.STATE} holds no step")
    archives = [path / rundir.OPTIMIZERS, *sorted(path.glob("*.keras"))]
    if not (path / rundir.GENERATOR).is_file():
        raise DamagedCheckpoint(f"{rundir.GENERATOR} is missing")
    for archive in archives:
        try:
            with zipfile.ZipFile(archive) as opened:
                broken = opened.testzip()
        except (OSError, zipfile.BadZipFile, EOFError) as error:
            raise DamagedCheckpoint(f"{archive.name} unreadable: {_reason(error)}") from None
        if broken is not None:
            raise DamagedCheckpoint(f"{archive.name}: {broken} fails its CRC check")


def _reason(error):
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:120]


def intact_checkpoint(run_dir, on_damaged=None):
    """The newest checkpoint of a run that ``verify_checkpoint`` accepts, or None; each
    damaged one newer than it is passed to ``on_damaged(path, reason)`` first."""
    for candidate in reversed(rundir.checkpoint_dirs(run_dir)):
        try:
            verify_checkpoint(candidate)
        except DamagedCheckpoint as damage:
            if on_damaged is not None:
                on_damaged(candidate, str(damage))
            continue
        return candidate
    return None


def read_checkpoint(path):
    """(state dict, {optimizer name: {index: array}}) of a checkpoint folder."""
    path = Path(path)
    state = json.loads((path / rundir.STATE).read_text())
    optimizers = {}
    with np.load(path / rundir.OPTIMIZERS) as archive:
        for key in archive.files:
            optimizer_name, index = key.split("/")
            optimizers.setdefault(optimizer_name, {})[index] = archive[key]
    return state, optimizers
