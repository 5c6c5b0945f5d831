"""A trained generator's body with each conv and the batch norm after it run as one conv.

At inference a batch norm is a fixed per-channel affine map, so ``BN(conv(x))`` is a conv
whose kernel is scaled by ``gamma / sqrt(variance + epsilon)`` per output channel, with a
shifted bias. Run as Keras's layers, each of SRResNet's 33 batch norms costs two extra passes
over a 64-map tensor (TensorFlow's ``x * inv + shift``); folded, they cost nothing. Measured
on the 16-block body with oneDNN, interleaved in one process: 3% faster on a 256x256 input,
7-11% on a 541x1000 window, whose tensors do not fit in the CPU's caches. (Running the
body's float32 PReLUs as selects, as ``models.subpixel`` does in the tail, was no faster within
noise and raised the peak by 36 MB on that window, so they stay as they are; under mixed
precision they run as selects, ``models.subpixel.as_select``.)

Like ``models.subpixel``, the fused layers read the trained layers' variables at every call:
nothing is copied, saved or trained, and a generator that keeps training stays right. The
outputs agree with the layers as saved up to float rounding. Each new layer computes in the
dtype policy of the layer it stands for, so a mixed-precision generator
(``models.precision.in_precision``) stays mixed once fused.
"""

import keras
from keras import ops

from models.subpixel import as_select, runs_as_select, same_size_conv


class ConvBatchNorm(keras.layers.Layer):
    """``batch_norm(conv(x))`` at inference, as one conv with the folded kernel and bias."""

    def __init__(self, conv, batch_norm, **kwargs):
        # No autocast: under a mixed policy it would read the statistics in bf16 and fold
        # them there. They fold in float32; only the folded kernel and bias are rounded to the
        # compute dtype, as the conv's own kernel is (float32: every cast is a no-op).
        super().__init__(autocast=False, **kwargs)
        self.conv = conv
        self.batch_norm = batch_norm

    def folded_weights(self):
        """(kernel, bias): the conv's, scaled and shifted by the batch norm's statistics."""
        norm = self.batch_norm
        scale = ops.rsqrt(norm.moving_variance + norm.epsilon)
        if norm.scale:
            scale = scale * norm.gamma
        bias = -norm.moving_mean * scale
        if norm.center:
            bias = bias + norm.beta
        if self.conv.use_bias:
            bias = bias + self.conv.bias * scale
        return self.conv.kernel * scale, bias

    def call(self, inputs):
        kernel, bias = self.folded_weights()
        dtype = self.compute_dtype
        outputs = ops.conv(ops.cast(inputs, dtype), ops.cast(kernel, dtype), padding="same")
        return outputs + ops.cast(bias, dtype)


class _Shared(keras.layers.Layer):
    """Calls a layer of the original model without adding a node to that model's graph."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer

    def call(self, *args, **kwargs):
        return self.layer(*args, **kwargs)


class _PassThrough(keras.layers.Layer):
    """Stands where a folded batch norm was; TensorFlow runs it as no op at all."""

    def call(self, inputs, training=None, mask=None):
        return inputs


def fuse(model):
    """``model`` (functional) with every conv -> batch norm pair folded into one conv.

    A pair folds when the conv is a plain stride-1 'same' one without activation and feeds
    only the batch norm, which normalises channels. Mixed-precision PReLUs run as selects
    (``models.subpixel.as_select``). The clone's other layers call the
    originals, so the original model's graph gains no nodes. Returns ``model`` itself when
    nothing changes.
    """
    consumers = {}
    for layer in model.layers:
        for node in layer._inbound_nodes:
            for tensor in node.input_tensors:
                consumers.setdefault(id(tensor), set()).add(layer)
    pairs = {}
    for layer in model.layers:
        if not (_channel_norm(layer) and len(layer._inbound_nodes) == 1):
            continue
        (source,) = layer._inbound_nodes[0].input_tensors
        conv = source._keras_history.operation
        if _foldable_conv(conv) and consumers[id(source)] == {layer}:
            pairs[conv] = layer
    if not pairs and not any(runs_as_select(layer) for layer in model.layers):
        return model
    folded = set(pairs.values())

    def replace(layer):
        policy = layer.dtype_policy
        if layer in pairs:
            return ConvBatchNorm(layer, pairs[layer], name=f"{layer.name}_bn_folded", dtype=policy)
        if layer in folded:
            return _PassThrough(name=f"{layer.name}_folded", dtype=policy)
        if runs_as_select(layer):
            return as_select(layer)
        return _Shared(layer, name=f"{layer.name}_shared", dtype=policy)

    return keras.models.clone_model(model, clone_function=replace)


def _channel_norm(layer):
    return isinstance(layer, keras.layers.BatchNormalization) and layer.axis in (-1, 3)


def _foldable_conv(layer):
    return (
        same_size_conv(layer)
        and layer.activation is keras.activations.linear
        and len(layer._inbound_nodes) == 1
    )
