"""Which generator file --weights means, and loading one with one-line errors."""

import keras
import numpy as np
import pytest

from inference import tiling, weights
from runtime.errors import UserError
from tests.test_tiling import noise


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny):
    path = tmp_path_factory.mktemp("weights") / "g.keras"
    tiny.save(path)
    return path


def assert_one_line_user_error(call, *match):
    with pytest.raises(UserError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    for text in match:
        assert text in message
    return message


def test_load_generator_loads_a_saved_generator(saved, tiny):
    loaded = weights.load_generator(saved)
    image = noise((6, 7, 3))
    np.testing.assert_array_equal(tiling.upscale(image, loaded), tiling.upscale(image, tiny))


def test_load_generator_in_another_precision(saved, tiny):
    from models.precision import choose_precision

    default = weights.load_generator(saved)
    assert {layer.dtype_policy.name for layer in default.layers} == {"float32"}  # the file's
    mixed = weights.load_generator(saved, "bfloat16")
    assert mixed.get_layer("head_conv").dtype_policy.name == "mixed_bfloat16"
    assert mixed.get_layer("sr").dtype_policy.name == "float32"
    for a, b in zip(mixed.get_weights(), tiny.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    auto = weights.load_generator(saved, "auto")
    assert auto.get_layer("head_conv").compute_dtype == choose_precision("auto")
    with pytest.raises(ValueError, match="unknown precision"):
        weights.load_generator(saved, "half")


def test_load_generator_errors_are_one_line(tmp_path):
    assert_one_line_user_error(
        lambda: weights.load_generator(tmp_path / "missing.keras"), "no such file"
    )
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"PK\x03\x04 this is not a zip archive" * 10)
    assert_one_line_user_error(lambda: weights.load_generator(corrupt), "not a loadable")
    text = tmp_path / "text.keras"
    text.write_text("hello")
    assert_one_line_user_error(lambda: weights.load_generator(text), "not a zip archive")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert_one_line_user_error(lambda: weights.load_generator(notes), "not a Keras model file")


def test_load_generator_refuses_models_that_are_not_generators(tmp_path):
    dense = keras.Sequential([keras.Input((10,)), keras.layers.Dense(3)])
    dense.save(tmp_path / "dense.keras")
    assert_one_line_user_error(
        lambda: weights.load_generator(tmp_path / "dense.keras"), "not a 3->3 channel generator"
    )
    same_size = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(3, 3)])
    same_size.save(tmp_path / "conv.keras")
    assert_one_line_user_error(
        lambda: weights.load_generator(tmp_path / "conv.keras"),
        "not a 3->3 channel generator",
        "(x4)",
    )


def test_resolve_weights(tmp_path, monkeypatch, saved):
    missing = {name: tmp_path / f"{name}.keras" for name in weights.DEFAULT_WEIGHTS}
    monkeypatch.setattr(weights, "DEFAULT_WEIGHTS", missing)
    message = assert_one_line_user_error(lambda: weights.resolve_weights(None))
    assert message == "no trained weights ship yet; pass --weights PATH"
    assert_one_line_user_error(lambda: weights.resolve_weights("srresnet"), "--weights PATH")
    assert weights.resolve_weights(str(saved)) == saved
    run = tmp_path / "run"
    run.mkdir()
    assert_one_line_user_error(lambda: weights.resolve_weights(run), "generator.keras")
    (run / "generator.keras").write_bytes(saved.read_bytes())
    assert weights.resolve_weights(run) == run / "generator.keras"
    missing["srresnet"].write_bytes(saved.read_bytes())
    assert weights.resolve_weights(None) == missing["srresnet"]  # the one that ships
    assert weights.resolve_weights("srresnet") == missing["srresnet"]
    assert_one_line_user_error(lambda: weights.resolve_weights("srgan"), "srgan.keras is missing")
    missing["srgan"].write_bytes(saved.read_bytes())
    assert weights.resolve_weights(None) == missing["srgan"]  # SRGAN first once it ships
    assert_one_line_user_error(lambda: weights.resolve_weights(tmp_path / "x.keras"), "no such")


def test_any_generator_in_weights_resolves_by_name_and_loads_at_its_own_scale(
    tmp_path, monkeypatch
):
    """``--weights srresnet_x2`` finds weights/srresnet_x2.keras; its scale is the file's own."""
    from models.description import describe
    from models.generator import build_generator

    keras.utils.set_random_seed(2)
    build_generator(scale=2, blocks=1).save(tmp_path / "tiny_x2.keras")
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    path = weights.resolve_weights("tiny_x2")
    assert path == tmp_path / "tiny_x2.keras"
    generator = weights.load_generator(path)
    assert describe(generator).scale == 2
    assert tiling.upscale(noise((5, 6, 3)), generator).shape == (10, 12, 3)
    message = assert_one_line_user_error(lambda: weights.resolve_weights("tiny_x8"), "no such")
    assert "tiny_x2" in message  # the names that would have worked


def test_a_file_whose_shape_contradicts_its_description_is_refused(tmp_path):
    """A spec saying x2 on a network that makes x4 is caught before any predict."""
    from models.generator import build_generator
    from models.layers import GeneratorSpec

    x4 = build_generator(blocks=1)
    lr = keras.Input((None, None, 3))
    lying = keras.Model(lr, x4(GeneratorSpec(scale=2, name="outer_spec")(lr)))
    lying.save(tmp_path / "lying.keras")
    assert_one_line_user_error(
        lambda: weights.load_generator(tmp_path / "lying.keras"), "not a 3->3 channel", "(x2)"
    )


def test_real_names_the_real_photo_generator_and_says_when_it_does_not_ship(
    tmp_path, monkeypatch, saved
):
    real = tmp_path / "srgan_real_x4.keras"
    monkeypatch.setattr(weights, "PURPOSE_WEIGHTS", {"real": real})
    message = assert_one_line_user_error(lambda: weights.resolve_weights("real"), "--weights PATH")
    assert message.startswith("no real weights ship yet")
    real.write_bytes(saved.read_bytes())
    assert weights.resolve_weights("real") == real
    assert weights.resolve_weights(None) != real  # never the default


def test_default_weights_live_in_the_repository():
    for name, path in weights.DEFAULT_WEIGHTS.items():
        assert path == weights.REPO_ROOT / "weights" / f"{name}_x4.keras"


def test_a_generator_with_a_fixed_input_size_is_refused_in_one_line(tmp_path):
    from models.generator import build_generator

    flexible = build_generator(blocks=1)
    fixed_input = keras.Input((16, 16, 3))
    fixed = keras.Model(fixed_input, flexible(fixed_input))
    fixed.save(tmp_path / "fixed.keras")
    assert_one_line_user_error(
        lambda: weights.load_generator(tmp_path / "fixed.keras"), "its input is fixed at"
    )


def test_shipped_generators_come_with_their_cards_line_default_first(tmp_path, monkeypatch):
    for name in ("a_x4", "srgan_x4", "z_x4"):
        (tmp_path / f"{name}.keras").write_bytes(b"")
    (tmp_path / "srgan_x4.md").write_text("# SRGAN\n\n> For detail: sharp texture.\n> more\n")
    (tmp_path / "z_x4.md").write_text("# Z without a quoted line\n")
    monkeypatch.setattr(weights, "DEFAULT_WEIGHTS", {"srgan": tmp_path / "srgan_x4.keras"})
    found = weights.shipped_generators(tmp_path)
    assert [(name, summary) for name, _, summary in found] == [
        ("srgan_x4", "For detail: sharp texture."),
        ("a_x4", "a_x4.keras"),
        ("z_x4", "z_x4.keras"),
    ]
    assert weights.shipped_generators(tmp_path / "missing") == []
