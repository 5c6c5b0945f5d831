"""Which generator file to use, and loading it with checks that fail in one line.

``--weights`` takes nothing (the shipped default), a shipped name (any ``weights/NAME.keras``;
``srgan``/``srresnet`` for the x4 defaults, ``real`` for real photos), a ``.keras`` file or a
training run directory;
``load_generator`` refuses a file that is not a loadable 3->3 channel generator, ``scale``
times larger out than in as its own description says (``models.description``), before the
first predict would.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from runtime import rundir
from runtime.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[1]
WEIGHTS_DIR = REPO_ROOT / "weights"

# Weights the project trained itself; each ships with a model card (``<name>_x4.md``) beside
# it in weights/. Without ``--weights`` the first one that ships is used: SRGAN's sharper
# textures are what people ask an SR tool for, and SRResNet is the one that ships first.
DEFAULT_WEIGHTS = {
    "srgan": WEIGHTS_DIR / "srgan_x4.keras",
    "srresnet": WEIGHTS_DIR / "srresnet_x4.keras",
}
# Names for what a model is for, never a default: ``--weights real`` is the generator trained
# on photos degraded by blur, noise and JPEG (``train.py --preset real-world``, issue 31).
PURPOSE_WEIGHTS = {
    "real": WEIGHTS_DIR / "srgan_real_x4.keras",
}


def shipped_generators(folder=None):
    """[(name, path, summary)] for every generator in ``folder``, in the order people would pick.

    ``summary`` is the one line its model card (``<name>.md`` beside it) opens with as a
    quotation (``> For ...``): what it is for, in the card's own words; the file name when
    the card or the line is missing. The default model (``resolve_weights()``) comes first.
    """
    folder = Path(folder) if folder is not None else WEIGHTS_DIR
    found = []
    for path in sorted(folder.glob("*.keras")):
        card = path.with_suffix(".md")
        lines = card.read_text(encoding="utf-8").splitlines() if card.is_file() else []
        quoted = [line[1:].strip() for line in lines if line.startswith(">")]
        found.append((path.stem, path, quoted[0] if quoted else path.name))
    default = [p.resolve() for p in DEFAULT_WEIGHTS.values()]
    return sorted(
        found,
        key=lambda item: (
            default.index(item[1].resolve()) if item[1].resolve() in default else len(default)
        ),
    )


def resolve_weights(value=None):
    """The generator file behind ``--weights``: None (the shipped default), a name, or a path.

    A path may be a ``.keras`` file, a training run directory or one of its checkpoints, so a
    user can point at what ``train.py`` wrote without knowing its layout: the generator it
    stands for is ``runtime.rundir.generator_file``'s, as for every other tool.
    """
    if value is None:
        for path in DEFAULT_WEIGHTS.values():
            if path.is_file():
                return path
        raise UserError("no trained weights ship yet; pass --weights PATH")
    named = {**DEFAULT_WEIGHTS, **PURPOSE_WEIGHTS}
    if str(value) in named:
        path = named[str(value)]
        if not path.is_file():
            raise UserError(f"no {value} weights ship yet ({path} is missing); pass --weights PATH")
        return path
    by_name = WEIGHTS_DIR / f"{value}.keras"
    if Path(str(value)).name == str(value) and by_name.is_file():  # srresnet_x2: weights/ by name
        return by_name
    path = Path(value)
    if not path.exists():
        shipped = sorted(file.stem for file in WEIGHTS_DIR.glob("*.keras"))
        names = ", ".join(dict.fromkeys([*named, *shipped]))
        raise UserError(
            f"{path}: no such file (--weights takes a .keras file, a run folder or {names})"
        )
    return rundir.generator_file(path)


def load_generator(path, precision="float32"):
    """Load a saved generator, refusing anything that would fail later, in one line.

    A broken file or a model of the wrong kind otherwise surfaces as a Keras traceback deep
    in the first predict; the shape check is symbolic, so it costs no trace.

    ``precision`` is what it computes in (``models.precision.PRECISIONS``). Saved generators
    are float32 files, and ``float32`` gives the file as it is: exact, and the same on every
    machine. ``bfloat16`` and ``float16`` give a mixed-precision clone with the same weights
    whose output conv stays float32 (``models.precision.in_precision``); ``auto`` is bfloat16
    where the machine computes it natively, else float32 (``choose_precision``).
    """
    import keras

    import models.layers  # noqa: F401  (registers PixelShuffle, so saved generators load)
    from models.precision import choose_precision, in_precision

    precision = choose_precision(precision)  # an unknown name fails before the load
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if not path.is_file():
        raise UserError(f"{path}: not a file")
    if path.suffix.lower() not in (".keras", ".h5"):  # Keras would call it "not found"
        raise UserError(f"{path}: not a Keras model file (a generator is saved as .keras)")
    if path.suffix.lower() == ".keras" and not zipfile.is_zipfile(path):
        # Keras reports "File not found" for a .keras file that is no zip archive.
        raise UserError(
            f"{path}: not a loadable Keras model (not a zip archive, which a .keras file is: "
            "truncated, or another format renamed)"
        )
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # zip, JSON, HDF5 and deserialisation errors all end here
        raise UserError(f"{path}: not a loadable Keras model ({_one_line(error)})") from None
    problem = _generator_problem(model)
    if problem:
        raise UserError(f"{path}: not a 3->3 channel generator ({problem})")
    return in_precision(model, precision)


def _generator_problem(model):
    inputs = getattr(model, "inputs", None) or []
    outputs = getattr(model, "outputs", None) or []
    if len(inputs) != 1 or len(outputs) != 1:
        return f"{len(inputs)} inputs and {len(outputs)} outputs, not one of each"
    shape = tuple(inputs[0].shape)
    if len(shape) != 4 or shape[3] != 3:
        return f"its input is {_shape_text(shape)}, not (batch, height, width, 3)"
    if shape[1] is not None or shape[2] is not None:
        # Tiling, benchmarks and exports feed images of every size; a fixed size fails there.
        return f"its input is fixed at {_shape_text(shape)}; a generator takes any image size"
    from models.description import describe

    scale = describe(model).scale
    probe = (1, shape[1] or 8, shape[2] or 8, 3)
    try:
        result = tuple(model.compute_output_shape(probe))
    except Exception as error:
        return f"cannot take a {probe} input: {_one_line(error)}"
    expected = (1, scale * probe[1], scale * probe[2], 3)
    if result != expected:
        return f"it turns {probe} into {_shape_text(result)}, not {expected} (x{scale})"
    return None


def _shape_text(shape):
    return str(tuple(shape))


def _one_line(error):
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."
