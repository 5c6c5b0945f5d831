"""What a generator is, read from the model itself (issue 32).

A generator built by ``models.generator.build_generator`` carries a ``GeneratorSpec`` layer
after its input whose config says its scale, upsampler, block count, upsampling activation
and value ranges; a ``.keras`` file keeps that config, so ``describe`` answers from the file
alone. Tiling, evaluation, export and the CLIs ask ``describe`` for the scale instead of
assuming x4, so an x2 or x8 file just works.

Files saved before generators described themselves (our runs up to 2026-12-07, and the
notebooks' results) have no such layer. They were all x4, the only scale the code could
build then, so ``describe`` reads them as x4 (``legacy=True``) and the rest from the layers'
own names and kinds, which ``build_generator`` has always given them.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from data import conventions
from models.layers import GeneratorSpec, PixelShuffle


@dataclass(frozen=True)
class Description:
    scale: int
    upsample: str
    blocks: int
    upsample_activation: str
    input_range: tuple = conventions.MODEL_INPUT_RANGE
    output_range: tuple = conventions.MODEL_OUTPUT_RANGE
    legacy: bool = False  # read from a file saved before generators described themselves

    @property
    def upsampling_stages(self) -> int:
        return conventions.upsampling_stages(self.scale)

    def as_config(self) -> dict:
        """The fields ``build_generator`` takes, to build the same network again."""
        return {
            "scale": self.scale,
            "upsample": self.upsample,
            "blocks": self.blocks,
            "upsample_activation": self.upsample_activation,
        }


def describe(model) -> Description:
    """The ``Description`` a generator carries, or a legacy x4 one read from its layers."""
    layers = list(_all_layers(model))
    for layer in layers:
        if isinstance(layer, GeneratorSpec):
            return Description(
                scale=layer.scale,
                upsample=layer.upsample,
                blocks=layer.blocks,
                upsample_activation=layer.upsample_activation,
                input_range=layer.input_range,
                output_range=layer.output_range,
            )
    return _legacy_description(layers)


def _legacy_description(layers) -> Description:
    names = {layer.name: layer for layer in layers}
    shuffles = any(isinstance(layer, PixelShuffle) for layer in layers)
    leaky = isinstance(names.get("up1_act"), keras.layers.LeakyReLU)
    activation = "leaky_relu" if leaky else "prelu"
    blocks = sum(1 for name in names if name.startswith("res") and name.endswith("_add"))
    return Description(
        scale=conventions.DEFAULT_SCALE,
        upsample="pixelshuffle" if shuffles else "upsampling",
        blocks=blocks,
        upsample_activation=activation,
        legacy=True,
    )


def with_description(model):
    """``model`` (a legacy generator) rebuilt with its ``GeneratorSpec``, the same weights.

    Used once to re-save the shipped files; a generator that already describes itself comes
    back as it is.
    """
    from models.generator import build_generator

    description = describe(model)
    if not description.legacy:
        return model
    rebuilt = build_generator(**description.as_config(), name=model.name)
    ours = [layer.name for layer in rebuilt.layers if layer.weights]
    theirs = [layer.name for layer in model.layers if layer.weights]
    if ours != theirs:
        raise ValueError(f"{model.name}: its layers are not build_generator's ({theirs[:3]}...)")
    rebuilt.set_weights(model.get_weights())
    return rebuilt


def _all_layers(model):
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _all_layers(layer)
