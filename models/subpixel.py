"""An exact, faster way to run SRResNet's last upsampling step at inference.

The generator ends with ``PixelShuffle(2) -> activation -> Conv2D(9x9, 64 -> 3)`` at any
scale (x2, x4 and x8 differ only in the stages before it): the 9x9 conv runs at the output
resolution (4x for x4) on 64 maps that the shuffle has just copied out of 256 maps at half
of it (2x). The same function can run entirely at 2x: apply the activation to the 256 maps (with its
per-channel parameters repeated, since each of the shuffle's 4 phases is a copy of the 64
channels), convolve them with a 5x5 kernel that produces the 4 output phases of the 3 channels
(12 maps), and shuffle those 12 maps instead. This is the polyphase form of a convolution
after a depth-to-space (Shi et al. 2016 derive sub-pixel convolution the same way). It is the
same sum of the same products, with zeros where a phase's 5x5 window reaches beyond the 9x9
kernel, so the outputs agree to float rounding, and it never builds the 4x, 64-map tensor.

The conv before that shuffle (64 -> 256 maps at 2x) then makes the largest tensors left: its
output and the activation's, side by side. ``PhaseGroups`` runs the conv, the activation and
the polyphase conv one shuffle phase (64 of the 256 maps) at a time and sums the four partial
results. Measured on the 16-block generator with 2 CPU cores: the untiled 256x256 run peaks at
1.29 GB instead of 1.71, and the tail is a few per cent faster within noise.

A generator that upsamples with nearest-neighbour resizing then a conv (``--upsample
upsampling``) gets the same rewrite: ``conv(nearest(x))`` is itself a conv on ``x`` whose outputs
are the shuffle's phases (``NearestConvPhases``, the taps that read the same copied pixel
summed), so its last stage becomes ``PhaseGroups`` too. Left as saved, its output conv (9x9, 64
maps to 3) runs at 4x, where oneDNN's convolution for NHWC tensors is an im2col and a GEMM with
3 columns: about 1 GFLOP/s on an AVX2 CPU (2 cores, AMD EPYC Zen 3) against about 40 for the
polyphase 5x5 conv to 12 maps at 2x (``python benchmarks/upscale_benchmark.py --profile 256
--weights <an upsampling generator>`` prints both).

The rewritten layers read the trained layers' own variables at every call, so they stay right
while a generator trains; nothing here is saved or trained, and the saved generators keep
their published architecture and parameter count. Each part computes in the dtype of the
layer it stands for: under mixed precision (``models.precision.in_precision``) the conv
before the shuffle and its activation in bf16 or f16, the output conv in float32, as in the
generator itself; except in ``PhaseGroups``, whose output conv then computes in bf16 or f16
with float32 sums, its result rounded once (``PhaseGroups.whole_in_low_precision`` says why).
"""

import functools
import math

import keras
import numpy as np
from keras import ops

from models.layers import PixelShuffle

# Elementwise layers without per-channel parameters: the same on any channel layout.
_PLAIN_ELEMENTWISE = (keras.layers.LeakyReLU, keras.layers.ReLU, keras.layers.Activation)


@functools.cache
def phase_kernel_indices(kernel_size, channels, filters, scale):
    """Where each weight of the polyphase kernel comes from in the flattened original.

    The original kernel has shape ``(k, k, channels, filters)``; the polyphase one has shape
    ``(p, p, channels * scale**2, filters * scale**2)``. Index ``k * k * channels * filters``
    (one past the end) stands for a zero.

    Derivation, along one axis (the other is the same): the shuffle puts channel
    ``i * scale * channels + ...`` of low-resolution pixel ``y`` at high-resolution row
    ``scale * y + i``. Output row ``scale * y + a`` of a 'same' conv reads rows
    ``scale * y + a + d`` for ``d`` in ``[-r, r]``, which is phase ``i`` of low-resolution
    row ``y + q`` when ``a + d = scale * q + i``.
    """
    radius = kernel_size // 2
    reach = math.ceil(radius / scale)  # the most low-resolution pixels any phase reaches
    size = 2 * reach + 1
    zero = kernel_size * kernel_size * channels * filters
    indices = np.full(
        (size, size, scale * scale * channels, scale * scale * filters), zero, dtype=np.int64
    )
    flat = np.arange(zero).reshape(kernel_size, kernel_size, channels, filters)
    phases = range(scale)
    for qy in range(-reach, reach + 1):
        for qx in range(-reach, reach + 1):
            for i in phases:
                for j in phases:
                    for a in phases:
                        for b in phases:
                            dy, dx = scale * qy + i - a, scale * qx + j - b
                            if abs(dy) > radius or abs(dx) > radius:
                                continue
                            source = (i * scale + j) * channels
                            target = (a * scale + b) * filters
                            indices[
                                qy + reach,
                                qx + reach,
                                source : source + channels,
                                target : target + filters,
                            ] = flat[dy + radius, dx + radius]
    return indices


def phase_kernel(kernel, scale):
    """The polyphase form of ``kernel`` (k, k, C, F) for inputs shuffled by ``scale``."""
    kernel_size, _, channels, filters = tuple(kernel.shape)
    indices = phase_kernel_indices(kernel_size, channels, filters, scale)
    padded = ops.concatenate([ops.reshape(kernel, (-1,)), ops.zeros((1,), kernel.dtype)])
    return ops.take(padded, indices)


@functools.cache
def nearest_phase_matrix(kernel_size, scale):
    """Which original taps each polyphase tap of ``conv(nearest(x))`` sums, as a 0/1 matrix.

    Shape ``(p * p * scale * scale, k * k)``, rows ordered ``(qy, qx, a, b)``: output phase
    ``(a, b)`` at offset ``(qy, qx)`` in input pixels. Along one axis, high-resolution row
    ``scale * y + a + d`` (tap ``d`` in ``[-r, r]``) is a copy of input row
    ``y + (a + d) // scale``, so tap ``d`` lands at offset ``q = (a + d) // scale``, and the
    taps of a phase that land on the same ``q`` read the same pixel: their weights add up.
    """
    radius = kernel_size // 2
    reach = max(math.ceil(radius / scale), (scale - 1 + radius) // scale)
    size = 2 * reach + 1
    matrix = np.zeros((size, size, scale, scale, kernel_size, kernel_size), np.float32)
    for a in range(scale):
        for b in range(scale):
            for dy in range(-radius, radius + 1):
                for dx in range(-radius, radius + 1):
                    qy, qx = (a + dy) // scale, (b + dx) // scale
                    matrix[qy + reach, qx + reach, a, b, dy + radius, dx + radius] = 1.0
    return matrix.reshape(size * size * scale * scale, kernel_size * kernel_size)


class NearestConvPhases:
    """``conv(nearest(x, scale))`` seen as a conv on ``x`` with ``scale**2`` times the filters.

    Output channel ``(a * scale + b) * filters + f`` is filter ``f`` at phase ``(a, b)``, the
    order ``depth_to_space`` reads, so ``PhaseGroups`` takes it where it takes a conv before a
    pixel shuffle. Not a layer: a view of ``conv``'s variables that ``PhaseGroups`` reads at
    every call, as it reads a conv's own.
    """

    def __init__(self, conv, scale):
        self.conv = conv
        self.scale = scale
        self.filters = conv.filters * scale * scale
        self.use_bias = conv.use_bias
        self.compute_dtype = conv.compute_dtype

    @property
    def kernel(self):
        kernel = self.conv.kernel
        size, _, channels, filters = tuple(kernel.shape)
        matrix = nearest_phase_matrix(size, self.scale)
        taps = ops.reshape(kernel, (size * size, channels * filters))
        phased = ops.matmul(ops.convert_to_tensor(matrix, kernel.dtype), taps)
        side = math.isqrt(matrix.shape[0] // (self.scale * self.scale))
        phased = ops.reshape(phased, (side, side, self.scale * self.scale, channels, filters))
        phased = ops.transpose(phased, (0, 1, 3, 2, 4))
        return ops.reshape(phased, (side, side, channels, self.filters))

    @property
    def bias(self):
        return ops.tile(self.conv.bias, (self.scale * self.scale,))


class PhasePReLU(keras.layers.Layer):
    """A channel-shared PReLU as one select (``prelu_select``), its slopes repeated ``copies``
    times to run before a shuffle instead of after it (``copies=1``: where it stands)."""

    def __init__(self, prelu, copies, **kwargs):
        super().__init__(**kwargs)
        self.prelu = prelu
        self.copies = copies

    def call(self, inputs):
        return prelu_select(self.prelu, inputs, self.copies)


def as_select(layer):
    """``layer``, or, for a mixed-precision PReLU with slopes per channel, ``PhasePReLU``.

    Keras computes a PReLU as relu(x) - alpha * relu(-x), four passes over the tensor; the
    select makes two, with the same values. In bf16 on 2 AMX cores every PReLU of the
    generator as a select made a whole 256x256 image 15% faster (the two forms alternated in
    one process, six rounds, outputs equal to the bit). In float32 on AVX2 it was no faster
    within noise and raised a large body window's peak by 36 MB, so float32 layers stay.
    """
    if runs_as_select(layer):
        return PhasePReLU(layer, 1, name=f"{layer.name}_select", dtype=layer.dtype_policy)
    return layer


def runs_as_select(layer):
    """Whether ``as_select`` replaces ``layer``."""
    mixed = layer.compute_dtype != "float32"
    return mixed and isinstance(layer, keras.layers.PReLU) and _elementwise(layer)


def prelu_select(prelu, inputs, copies=1):
    """``prelu(inputs)`` with its slopes repeated ``copies`` times along the channels.

    Keras computes relu(x) - alpha * relu(-x): the same values (x where x > 0, else alpha * x,
    negation being exact), with four full-size temporaries instead of one. For ``PhasePReLU``
    on 256-map tensors at 2x that was 0.26 GB less at the peak for 256x256 inputs.
    """
    alpha = ops.cast(prelu.alpha, inputs.dtype)  # the PReLU's own compute dtype
    if copies > 1:
        alpha = ops.tile(alpha, (1,) * (len(alpha.shape) - 1) + (copies,))
    return ops.where(inputs > 0, inputs, alpha * inputs)


def apply_elementwise(layer, inputs, copies=1):
    """An activation of the chain on ``copies`` shuffle phases' maps side by side."""
    if isinstance(layer, _PLAIN_ELEMENTWISE):
        return layer(inputs)
    return prelu_select(layer, inputs, copies)


def row_kernel(kernel):
    """``kernel`` (k, k, C, F) as a 1 x k conv to ``k * F`` maps: map ``dy * F + f`` is row ``dy``.

    With ``sum_rows`` after it, the same products and sums as the k x k conv, in another
    order. The output conv has few filters (12 in the polyphase form), and oneDNN convolves
    NHWC tensors by im2col and a GEMM: a k x k conv copies k * k * C values per pixel for
    2 * F multiply-adds each, which leaves it memory-bound (22 GFLOP/s, 14% of the peak, for
    5x5 from 64 maps to 12 on 2 AVX2 cores: ``benchmarks/conv_benchmark.py``). The row conv
    copies k times fewer values for k times more filters.
    """
    size, _, channels, filters = tuple(kernel.shape)
    rows = ops.transpose(kernel, (1, 2, 0, 3))  # (dx, C, dy, F)
    return ops.reshape(rows, (1, size, channels, size * filters))


def sum_rows(rows, size):
    """The column half of a 'same' ``size x size`` conv whose row half ``row_kernel`` made.

    Output row ``y`` adds map group ``dy`` of row ``y + dy - size // 2`` (zeros beyond the
    border, as the 'same' padding has them).
    """
    radius = size // 2
    filters = rows.shape[-1] // size
    padded = ops.pad(rows, [[0, 0], [radius, radius], [0, 0], [0, 0]])
    total = None
    for dy in range(size):
        end = dy - (size - 1) or None  # the output keeps the input's height
        part = padded[:, dy:end, :, dy * filters : (dy + 1) * filters]
        total = part if total is None else total + part
    return total


def narrow_conv(inputs, kernel):
    """``ops.conv(inputs, kernel, padding="same")`` for a square odd kernel with few filters,
    as a row conv and a sum of shifted rows (``row_kernel``)."""
    size = kernel.shape[0]
    if size == 1:
        return ops.conv(inputs, kernel, padding="same")
    return sum_rows(ops.conv(inputs, row_kernel(kernel), padding="same"), size)


class PhaseConv(keras.layers.Layer):
    """``conv(shuffle(x))`` computed as ``shuffle(phase_conv(x))``, with ``conv``'s weights."""

    def __init__(self, conv, scale, **kwargs):
        super().__init__(**kwargs)
        self.conv = conv
        self.scale = scale

    def call(self, inputs):
        copies = self.scale * self.scale
        outputs = narrow_conv(inputs, phase_kernel(self.conv.kernel, self.scale))
        if self.conv.use_bias:
            outputs = outputs + ops.tile(self.conv.bias, (copies,))
        outputs = ops.depth_to_space(outputs, self.scale)
        return self.conv.activation(outputs)


class PhaseGroups(keras.layers.Layer):
    """``conv -> shuffle -> elementwise -> conv`` computed one shuffle phase at a time.

    With ``PhaseConv`` alone, the tail still builds the whole output of the conv before the
    shuffle, 256 maps at 2x, and its activation beside it: the two largest tensors of the
    generator. Yet output channel group ``g`` of that conv (the maps the shuffle sends to
    phase ``g``) is read only by the activation of those maps and by input group ``g`` of the
    polyphase kernel. So each group can be convolved, activated and fed through its slice of
    the polyphase conv on its own, and the four partial outputs (12 maps each) summed: the
    same products and sums, in a different order, with a quarter of those tensors alive.
    That is the float32 form; under mixed precision the phases run at once
    (``whole_in_low_precision``).
    """

    def __init__(self, conv, elementwise, out_conv, scale, **kwargs):
        # No autocast: the two convs may compute in different dtypes (a mixed generator's
        # output conv is float32), so each reads its float32 variables and casts them itself.
        super().__init__(autocast=False, **kwargs)
        self.conv = conv
        self.elementwise = list(elementwise)
        self.out_conv = out_conv
        self.scale = scale

    def call(self, inputs):
        if self.conv.compute_dtype == "float32":
            return self.in_groups(inputs)
        return self.whole_in_low_precision(inputs)

    def in_groups(self, inputs):
        """The float32 form: one shuffle phase at a time, the output conv in rows."""
        copies = self.scale * self.scale
        low, high = self.conv.compute_dtype, self.out_conv.compute_dtype
        inputs = ops.cast(inputs, low)
        kernel, width = ops.cast(self.conv.kernel, low), self.conv.filters // copies
        out_kernel = ops.cast(phase_kernel(self.out_conv.kernel, self.scale), high)
        size = out_kernel.shape[0]
        # The output conv as a row conv per group, its column sums once for all groups.
        out_rows = row_kernel(out_kernel) if size > 1 else out_kernel
        total = None
        for group in range(copies):
            maps = slice(group * width, (group + 1) * width)
            x = ops.conv(inputs, kernel[:, :, :, maps], padding="same")
            if self.conv.use_bias:
                x = x + ops.cast(self.conv.bias[maps], low)
            for layer in self.elementwise:
                x = apply_elementwise(layer, x)
            part = ops.conv(ops.cast(x, high), out_rows[:, :, maps, :], padding="same")
            total = part if total is None else total + part
        if size > 1:
            total = sum_rows(total, size)
        if self.out_conv.use_bias:
            total = total + ops.tile(ops.cast(self.out_conv.bias, high), (copies,))
        return self.out_conv.activation(ops.depth_to_space(total, self.scale))

    def whole_in_low_precision(self, inputs):
        """The mixed-precision form: all phases at once, the output conv in bf16 or f16 too.

        Measured on 2 AMX cores (Xeon, AMX and AVX512_BF16) in bf16: the wide conv to all
        256 maps at once runs at 862 GFLOP/s against 536 for four groups of 64, and the
        polyphase output conv at 586 GFLOP/s in bf16 against 131 in float32
        (``benchmarks/conv_benchmark.py``); a whole 256x256 image took 1.09-1.12 s instead
        of 1.38-1.45 s (the two forms alternated in one process). The output conv sums its
        products in float32 and rounds the result once, to bf16's 8 bits (a relative error
        of at most 2^-9), before the bias and tanh in float32: Set5 PSNR-Y stays within
        0.01 dB of float32 (``tests/test_tiling.py``; -0.004 dB for srresnet_x4, -0.008 for
        srgan_x4, as with the grouped form). Half-precision tensors halve the memory the
        groups would save, so the phases are not split.
        """
        copies = self.scale * self.scale
        low, high = self.conv.compute_dtype, self.out_conv.compute_dtype
        x = ops.conv(ops.cast(inputs, low), ops.cast(self.conv.kernel, low), padding="same")
        if self.conv.use_bias:
            x = x + ops.cast(self.conv.bias, low)
        for layer in self.elementwise:
            x = apply_elementwise(layer, x, copies)
        out_kernel = ops.cast(phase_kernel(self.out_conv.kernel, self.scale), low)
        total = ops.cast(ops.conv(x, out_kernel, padding="same"), high)
        if self.out_conv.use_bias:
            total = total + ops.tile(ops.cast(self.out_conv.bias, high), (copies,))
        return self.out_conv.activation(ops.depth_to_space(total, self.scale))


def rewrite_chain(chain):
    """``chain`` (layers applied in turn) with a trailing shuffle-elementwise-conv rewritten.

    Returns a new list of callables computing the same function, or ``chain`` itself when its
    end does not have that form (batch norm after the shuffle, a strided or dilated conv).
    When a plain conv without activation feeds the shuffle (as in SRResNet), it joins the
    rewrite as ``PhaseGroups``; otherwise the shuffle's input is taken as it comes, with
    ``PhasePReLU`` and ``PhaseConv``. A nearest-neighbour upsampling followed by such a conv
    stands for the shuffle and its conv (``NearestConvPhases``).
    """
    chain = list(chain)
    if not chain or not _plain_conv(chain[-1]):
        return chain
    position = len(chain) - 2
    while position >= 0 and _elementwise(chain[position]):
        position -= 1
    if position < 0:
        return chain
    elementwise = chain[position + 1 : -1]
    if position > 0 and _nearest(chain[position - 1]) and _linear_plain_conv(chain[position]):
        scale = chain[position - 1].size[0]
        return [
            *chain[: position - 1],
            PhaseGroups(
                NearestConvPhases(chain[position], scale),
                elementwise,
                chain[-1],
                scale,
                dtype=chain[-1].dtype_policy,
            ),
        ]
    if not isinstance(chain[position], PixelShuffle):
        return chain
    scale = chain[position].scale
    if position > 0 and _groupable_conv(chain[position - 1], scale):
        return [
            *chain[: position - 1],
            PhaseGroups(
                chain[position - 1], elementwise, chain[-1], scale, dtype=chain[-1].dtype_policy
            ),
        ]
    moved = [
        layer
        if isinstance(layer, _PLAIN_ELEMENTWISE)
        else PhasePReLU(layer, scale * scale, dtype=layer.dtype_policy)
        for layer in elementwise
    ]
    return [*chain[:position], *moved, PhaseConv(chain[-1], scale, dtype=chain[-1].dtype_policy)]


def _groupable_conv(layer, scale):
    """A conv whose output channels can be computed one shuffle phase at a time."""
    return (
        same_size_conv(layer)
        and layer.activation is keras.activations.linear
        and layer.filters % (scale * scale) == 0
    )


def same_size_conv(layer):
    """A plain Keras Conv2D that keeps the image size: stride 1, 'same', no dilation or groups.

    The convs whose weights the inference rewrites here and in ``models.fused`` may reuse in
    a single ``ops.conv(..., padding="same")``.
    """
    return (
        type(layer) is keras.layers.Conv2D
        and layer.padding == "same"
        and tuple(layer.strides) == (1, 1)
        and tuple(layer.dilation_rate) == (1, 1)
        and layer.groups == 1
        and layer.data_format == "channels_last"
    )


def _linear_plain_conv(layer):
    return _plain_conv(layer) and layer.activation is keras.activations.linear


def _plain_conv(layer):
    return (
        same_size_conv(layer)
        and layer.kernel_size[0] == layer.kernel_size[1]
        and layer.kernel_size[0] % 2 == 1
    )


def _nearest(layer):
    """A nearest-neighbour UpSampling2D by the same whole factor along both axes."""
    return (
        type(layer) is keras.layers.UpSampling2D
        and layer.interpolation == "nearest"
        and layer.size[0] == layer.size[1]
        and layer.data_format == "channels_last"
    )


def _elementwise(layer):
    if isinstance(layer, _PLAIN_ELEMENTWISE):
        return True
    # A PReLU commutes with the shuffle only if its slopes are per channel, not per pixel.
    return isinstance(layer, keras.layers.PReLU) and tuple(layer.shared_axes or ()) == (1, 2)
