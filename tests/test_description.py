"""A generator says what it is: its scale and the rest are read from the saved file."""

import keras
import numpy as np
import pytest

from data import conventions
from models.description import Description, describe, with_description
from models.generator import build_generator
from models.layers import GeneratorSpec
from models.precision import in_precision


@pytest.mark.parametrize("scale", conventions.SCALES)
@pytest.mark.parametrize("upsample", ["pixelshuffle", "upsampling"])
def test_a_saved_generator_describes_itself(tmp_path, scale, upsample):
    generator = build_generator(
        scale=scale, blocks=2, upsample=upsample, upsample_activation="leaky_relu"
    )
    path = tmp_path / "g.keras"
    generator.save(path)
    loaded = keras.models.load_model(path)
    expected = Description(scale, upsample, 2, "leaky_relu")
    assert describe(loaded) == expected
    assert describe(loaded).upsampling_stages == conventions.upsampling_stages(scale)
    out = loaded.predict_on_batch(np.zeros((1, 5, 7, 3), np.float32))
    assert out.shape == (1, 5 * scale, 7 * scale, 3)
    # a mixed-precision clone (what upscale.py runs) keeps the description
    assert describe(in_precision(loaded, "bfloat16")) == expected


def test_the_spec_layer_passes_its_input_through_and_records_the_ranges():
    spec = GeneratorSpec(scale=8)
    values = np.arange(24, dtype=np.float32).reshape(1, 2, 4, 3)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(spec(values)), values)
    config = spec.get_config()
    assert config["input_range"] == list(conventions.MODEL_INPUT_RANGE)
    assert config["output_range"] == list(conventions.MODEL_OUTPUT_RANGE)
    assert GeneratorSpec.from_config(config).scale == 8
    assert not spec.weights  # the file's parameter count is the paper's


@pytest.mark.parametrize("bad", [3, 1, 16, 4.5, "4", True])
def test_only_the_scales_the_code_builds_are_accepted(bad):
    with pytest.raises(ValueError, match="scale must be one of 2, 4, 8"):
        build_generator(scale=bad, blocks=1)


def test_a_generator_without_a_spec_reads_as_the_x4_it_was():
    """Files saved before the spec existed: every one of them was x4."""
    described = build_generator(blocks=3, upsample="upsampling")
    legacy = without_spec(described)
    found = describe(legacy)
    assert found.legacy and found.scale == 4
    assert (found.upsample, found.blocks, found.upsample_activation) == ("upsampling", 3, "prelu")
    rebuilt = with_description(legacy)
    assert not describe(rebuilt).legacy
    image = np.random.default_rng(0).random((1, 6, 5, 3), np.float32)
    np.testing.assert_array_equal(legacy.predict_on_batch(image), rebuilt.predict_on_batch(image))
    assert with_description(rebuilt) is rebuilt


def without_spec(generator):
    """``generator`` with its spec replaced by a plain identity, as files were before it."""

    def clone(layer):
        if isinstance(layer, GeneratorSpec):
            return keras.layers.Identity(name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    legacy = keras.models.clone_model(generator, clone_function=clone)
    legacy.set_weights(generator.get_weights())
    return legacy


def test_the_shipped_generators_describe_themselves():
    """weights/*.keras were re-saved with their spec (issue 32): x4, the paper's network."""
    from inference.weights import shipped_generators

    found = shipped_generators()
    if not found:
        pytest.skip("no weights ship in this checkout")
    for _, path, _ in found:
        description = describe(keras.models.load_model(path, compile=False))
        assert not description.legacy, path
        assert description.blocks == 16
