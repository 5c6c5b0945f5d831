"""What a generator costs to run: floating-point operations per LR input pixel, from its layers.

A speed figure in MP/s says little across machines; in GFLOP/s, beside the CPU's peak, it says
how much of the machine the code uses (``benchmarks/upscale_benchmark.py``). The count is the
standard one: every convolution's multiply-adds counted as two operations, at the resolution
the layer runs at as saved, read from the layers' shapes so that any scale counts right (the
x4 pixel-shuffle tail's convs at 1x, 2x and 4x the input's side; x2 stops at 2x, x8 goes on
to 8x); activations, batch norms, additions and the shuffles themselves are left out (about
1% of the convolutions' operations in SRResNet). ``inference.split`` runs an exactly equivalent,
slightly cheaper polyphase form of the last upsampling step, so a rate computed from this count
is the rate at which the saved network's work gets done.

The cost is split where tiling splits the generator: the ``body`` (every conv at the input's
resolution that does not feed an upsampler: the residual blocks) and the ``tail`` (the rest),
since tiling recomputes a different margin for each.
"""

from __future__ import annotations

from typing import NamedTuple

UPSAMPLERS = ("PixelShuffle", "UpSampling2D", "NearestUpsample")
PROBE = 32  # LR side of the concrete copy the shapes are read from


class Cost(NamedTuple):
    body: float  # operations per LR input pixel in the body
    tail: float  # ... in the tail

    @property
    def total(self):
        return self.body + self.tail


def flops_per_input_pixel(generator) -> Cost:
    """The generator's convolutions' operations per LR input pixel, split body/tail."""
    import keras

    concrete = _with_input_side(generator, PROBE)
    feeds_upsampler = set()
    for layer in concrete.layers:
        if type(layer).__name__ in UPSAMPLERS:
            for tensor in _inputs_of(layer):
                feeds_upsampler.add(id(tensor._keras_history[0]))
    body = tail = 0.0
    for layer in concrete.layers:
        if not isinstance(layer, keras.layers.Conv2D):
            continue
        _, height, width, out_channels = layer.output.shape
        in_channels = layer.input.shape[-1]
        kernel_height, kernel_width = layer.kernel_size
        per_output = 2 * kernel_height * kernel_width * in_channels // layer.groups * out_channels
        flops = per_output * height * width / PROBE**2
        at_input_resolution = height == PROBE and width == PROBE
        if at_input_resolution and id(layer) not in feeds_upsampler:
            body += flops
        else:
            tail += flops
    return Cost(body, tail)


def _with_input_side(model, side):
    """A copy of a functional model built for ``side`` x ``side`` inputs, so every layer's
    output shape is concrete (the saved model takes any size: its shapes are None)."""
    import keras

    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            shape = layer["config"]["batch_shape"]
            layer["config"]["batch_shape"] = [shape[0], side, side, *shape[3:]]
    return keras.Model.from_config(config)


def _inputs_of(layer):
    tensors = layer.input
    return tensors if isinstance(tensors, list | tuple) else [tensors]
