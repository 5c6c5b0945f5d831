"""Which floating-point precision the networks compute in, and files that stay float32.

``bfloat16`` and ``float16`` mean Keras mixed precision: variables (and so optimiser state,
checkpoints and ``.keras`` files) stay float32, the layers compute in the low precision. The
layers whose output feeds a loss or an image (the generator's tanh conv, the discriminator's
sigmoid, VGG's preprocessing and its scaled features) are built float32 by their modules, as
Keras's mixed-precision guide advises; losses compute in float32 by default; batch norms keep
their statistics in float32. ``float16`` also needs loss scaling, which ``Model.compile`` adds
by itself under a ``mixed_float16`` policy (``auto_scale_loss``).

``auto`` picks per machine, from measurements: on a CPU bfloat16 only where the CPU has native
bf16 units (AVX512_BF16 or AMX), since elsewhere it is emulated and slower than float32; on a
GPU bfloat16 (no loss scaling, and as fast as float16 on the GPUs this project meets).

At inference (``upscale.py``, ``evaluate.py --precision``) a saved float32 generator is
cloned to compute the same way (``in_precision``): the same float32 weights, the layers in
the mixed policy but the output conv in float32, as in training.
"""

import contextlib
from pathlib import Path

# keras is imported inside the functions: train.py and training/config.py read PRECISIONS
# before runtime/cli.py has set up TensorFlow's environment, which must come before its import.

PRECISIONS = ("auto", "float32", "bfloat16", "float16")
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_flags(cpuinfo="/proc/cpuinfo") -> frozenset:
    """The first CPU's feature flags (empty where there is no /proc/cpuinfo)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def has_gpu() -> bool:
    """Whether the Keras backend computes on a GPU, asked of the backend (any of the three)."""
    import keras

    try:
        devices = keras.distribution.list_devices()
    except Exception:  # a broken driver is a CPU machine, not a crash
        return False
    return any(device.lower().startswith(("gpu", "cuda")) for device in devices)


def choose_precision(requested="auto", *, flags=None, gpu=None) -> str:
    """``requested`` unless it is ``auto``; then the fastest precision for this machine."""
    if requested not in PRECISIONS:
        raise ValueError(f"unknown precision {requested!r}; choose from {', '.join(PRECISIONS)}")
    if requested != "auto":
        return requested
    if has_gpu() if gpu is None else gpu:
        return "bfloat16"
    flags = cpu_flags() if flags is None else frozenset(flags)
    return "bfloat16" if flags & NATIVE_BF16_FLAGS else "float32"


@contextlib.contextmanager
def dtype_policy(precision):
    """Build layers under ``precision`` (not ``auto``), restoring the global policy after."""
    import keras

    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(POLICIES[precision])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def float32_copy(model):
    """The same network and weights, every layer computing in float32, and not compiled.

    A ``.keras`` file stores each layer's dtype policy, so a model trained in mixed precision
    would load and predict in it everywhere; and a compiled model's file also carries its
    optimiser (three times the generator's size), which nothing reads: checkpoints keep the
    optimisers in ``optimizers.npz``. What is saved is this: float32, weights only, loading
    alike on any machine. A float32 model's layers are shared, not copied, unless its batch
    norms are ``synchronized`` (a distributed run's, training/distribute.py): an option of the
    TensorFlow backend alone, which JAX and PyTorch refuse to load, so the copy drops it.
    """
    import keras

    def portable(layer):
        return layer.dtype_policy.name == "float32" and not getattr(layer, "synchronized", False)

    if not all(portable(layer) for layer in model.layers):

        def rebuilt(layer):
            config = {**layer.get_config(), "dtype": "float32"}
            if config.get("synchronized"):
                config["synchronized"] = False
            return layer.__class__.from_config(config)

        with dtype_policy("float32"):
            copy = keras.models.clone_model(model, clone_function=rebuilt)
        copy.set_weights(model.get_weights())
        model = copy
    # A new functional model over the same layers: uncompiled, so saved without an optimiser.
    return keras.Model(model.input, model.output, name=model.name)


def in_precision(model, precision):
    """``model`` computing in ``precision``, with the same (float32) weights.

    Saved generators are float32 files (``float32_copy``). For ``bfloat16`` or ``float16``
    this is a clone whose layers compute in that mixed policy, except the layers that produce
    the model's outputs (the generator's tanh conv), which stay float32 as in training; for
    ``float32`` a float32 clone of a mixed model. A model already in the precision asked for
    (a float32 file asked for float32) is returned unchanged. ``auto`` is resolved first
    (``choose_precision``). Layer names are kept, so ``get_layer`` and
    ``inference.split`` see the same network.
    """
    import keras

    precision = choose_precision(precision)
    final = {id(tensor._keras_history.operation) for tensor in model.outputs}

    def policy_of(layer):
        return "float32" if id(layer) in final else POLICIES[precision]

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if all(layer.dtype_policy.name == policy_of(layer) for layer in layers):
        return model

    def rebuilt(layer):
        return layer.__class__.from_config({**layer.get_config(), "dtype": policy_of(layer)})

    copy = keras.models.clone_model(model, clone_function=rebuilt)
    copy.set_weights(model.get_weights())
    return copy
