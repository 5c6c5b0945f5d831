import keras
import pytest

from models.cost import flops_per_input_pixel
from models.generator import build_generator


def conv(kernel, cin, cout, area=1):
    """Operations per LR pixel of a conv whose output has ``area`` pixels per LR pixel."""
    return 2 * kernel * kernel * cin * cout * area


@pytest.mark.parametrize("blocks", [1, 3])
def test_the_count_is_the_papers_network_layer_by_layer(blocks):
    # SRResNet: a 9x9 conv, `blocks` residual blocks of two 3x3 convs and one 3x3 conv after
    # them at the LR size; then two (3x3 conv to 256 maps, pixel shuffle) at 1x and 2x, and a
    # 9x9 conv to RGB at 4x.
    cost = flops_per_input_pixel(build_generator(blocks=blocks))
    assert cost.body == conv(9, 3, 64) + (2 * blocks + 1) * conv(3, 64, 64)
    assert cost.tail == conv(3, 64, 256) + conv(3, 64, 256, area=4) + conv(9, 64, 3, area=16)


def test_the_upsampling_variant_counts_its_convs_at_the_larger_size():
    cost = flops_per_input_pixel(build_generator(blocks=1, upsample="upsampling"))
    assert cost.body == conv(9, 3, 64) + 3 * conv(3, 64, 64)
    # Each stage: nearest upsampling, then a 3x3 conv of 64 maps at the larger size.
    assert cost.tail == conv(3, 64, 64, area=4) + conv(3, 64, 64, area=16) + conv(9, 64, 3, area=16)


def test_a_saved_generator_is_counted_as_built(tmp_path):
    keras.utils.set_random_seed(0)
    built = build_generator(blocks=2)
    built.save(tmp_path / "g.keras")
    loaded = keras.models.load_model(tmp_path / "g.keras", compile=False)
    assert flops_per_input_pixel(loaded) == flops_per_input_pixel(built)


@pytest.mark.parametrize("upsample", ["pixelshuffle", "upsampling"])
def test_an_x2_generator_counts_one_stage_and_its_output_conv_at_2x(upsample):
    cost = flops_per_input_pixel(build_generator(scale=2, blocks=1, upsample=upsample))
    assert cost.body == conv(9, 3, 64) + 3 * conv(3, 64, 64)
    if upsample == "pixelshuffle":  # one 3x3 conv to 256 maps at 1x, then the shuffle
        assert cost.tail == conv(3, 64, 256) + conv(9, 64, 3, area=4)
    else:  # nearest upsampling, then a 3x3 conv of 64 maps at 2x
        assert cost.tail == conv(3, 64, 64, area=4) + conv(9, 64, 3, area=4)


def test_an_x8_generator_counts_three_stages_and_its_output_conv_at_8x():
    cost = flops_per_input_pixel(build_generator(scale=8, blocks=1))
    stages = conv(3, 64, 256) * (1 + 4 + 16)  # at 1x, 2x and 4x
    assert cost.tail == stages + conv(9, 64, 3, area=64)
