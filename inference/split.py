"""The generator cut in two parts that can be tiled separately: a body and a tail.

``inference.tiling`` runs the body on large windows and the tail on small tiles. Both parts,
and the two joined again for untiled runs, use the generator's last upsampling step (of one,
two or three: x2, x4 or x8) in the exactly equivalent polyphase form of ``models.subpixel``
(1.6-1.7x faster than the layers as saved), with the conv before it run one shuffle phase at a
time (the tail's memory per pixel halves, 11.9 to 6.2 KB at x4; a nearest-neighbour upsampler's
last resize and conv run the same way), and a body whose batch norms
are folded into the convs before them (``models.fused``). A generator whose layers are not
ones we can reason about is not split, and is tiled whole.
"""

from __future__ import annotations

import functools
import math
import weakref


class Split:
    """The generator in two parts that can be tiled separately, and the two joined again.

    ``body`` maps the LR image to the last LR-resolution tensor that every path goes
    through (SRResNet's long skip), with its batch norms folded (``models.fused``); ``tail``
    is the chain of local layers after it, with its last upsampling step in the faster,
    exactly equivalent form of ``models.subpixel``, and ``radius`` the LR pixels of context
    the tail needs; ``whole`` is body then tail, what an untiled run uses. All share the
    generator's layers and weights, so they stay right while the generator trains.
    """

    def __init__(self, body, chain, radius, name):
        tail_class = _tail_class()
        self.body = body
        self.tail = tail_class(chain, name=f"{name}_tail")
        self.whole = tail_class([body, *chain], name=f"{name}_fast")
        self.radius = radius


_SPLITS = weakref.WeakKeyDictionary()


def split_generator(generator, scale):
    """The generator's ``Split``, or None when its layers are not ones we can reason about.

    ``scale`` is the generator's own (``models.description``); a chain of upsamplings that
    does not multiply to it is not split.
    """
    if generator not in _SPLITS:
        try:
            _SPLITS[generator] = _find_split(generator, scale)
        except Exception:  # an exotic model: plain tiling still works
            _SPLITS[generator] = None
    return _SPLITS[generator]


def _find_split(generator, scale):
    import keras

    from models.fused import fuse
    from models.layers import PixelShuffle
    from models.subpixel import as_select, rewrite_chain

    if len(generator.inputs) != 1 or len(generator.outputs) != 1:
        return None
    producers = {}
    for layer in generator.layers:
        if not isinstance(layer, keras.layers.InputLayer):
            producers[id(layer.output)] = layer
    elementwise = (
        keras.layers.BatchNormalization,
        keras.layers.PReLU,
        keras.layers.LeakyReLU,
        keras.layers.ReLU,
        keras.layers.Activation,
    )
    chain, radius, factor = [], 0, 1
    tensor = generator.outputs[0]
    while id(tensor) in producers:
        layer = producers[id(tensor)]
        if isinstance(layer.input, (list, tuple)):
            break
        if isinstance(layer, keras.layers.Conv2D):
            if tuple(layer.strides) != (1, 1) or layer.padding != "same":
                break
            reach = zip(layer.dilation_rate, layer.kernel_size, strict=True)
            radius += max(d * (k // 2) for d, k in reach)
        elif isinstance(layer, PixelShuffle) or (
            isinstance(layer, keras.layers.UpSampling2D) and layer.interpolation == "nearest"
        ):
            step = layer.scale if isinstance(layer, PixelShuffle) else layer.size[0]
            if isinstance(layer, keras.layers.UpSampling2D) and layer.size[0] != layer.size[1]:
                break
            # An output pixel y reads input pixel y // step: r pixels out, ceil(r / step) in.
            radius = math.ceil(radius / step)
            factor *= step
        elif not isinstance(layer, elementwise):
            break
        chain.append(layer)
        tensor = layer.input
    if not chain or factor != scale or tensor is generator.inputs[0]:
        return None
    body = fuse(keras.Model(generator.inputs, tensor, name=f"{generator.name}_body"))
    tail = [as_select(layer) for layer in rewrite_chain(chain[::-1])]
    return Split(body, tail, radius, generator.name)


@functools.cache
def _tail_class():
    import keras

    class Tail(keras.Model):
        """Calls the layers in turn, adding no nodes to the generator's own graph."""

        def __init__(self, layers, **kwargs):
            super().__init__(**kwargs)
            self.chain = layers

        def call(self, inputs):
            for layer in self.chain:
                inputs = layer(inputs)
            return inputs

    return Tail
