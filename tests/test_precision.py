"""Mixed precision: the choice per machine, training in bf16 / f16, and float32 files."""

import json

import keras
import numpy as np
import pytest

from models.discriminator import build_discriminator
from models.gan import build_gan, compile_discriminator
from models.generator import build_generator
from models.precision import (
    choose_precision,
    cpu_flags,
    dtype_policy,
    float32_copy,
    in_precision,
)
from tests.test_loop import (
    assert_d_learns_and_is_frozen_in_g_step,
    assert_same_final_state,
    read_history,
    tiny_config,
)
from training.loop import train
from training.networks import Networks

AVX2_ONLY = {"sse4_2", "avx", "avx2", "fma"}
ZEN5 = AVX2_ONLY | {"avx512f", "avx512bw", "avx512_bf16"}
SAPPHIRE_RAPIDS = AVX2_ONLY | {"avx512f", "amx_tile", "amx_bf16", "amx_int8"}


@pytest.mark.parametrize(
    "flags, gpu, expected",
    [
        (AVX2_ONLY, False, "float32"),
        (AVX2_ONLY | {"avx512f", "avx512bw"}, False, "float32"),  # AVX-512 without bf16
        (ZEN5, False, "bfloat16"),
        (SAPPHIRE_RAPIDS, False, "bfloat16"),
        (set(), False, "float32"),
        (AVX2_ONLY, True, "bfloat16"),
    ],
)
def test_auto_picks_bfloat16_only_where_the_machine_has_it(flags, gpu, expected):
    assert choose_precision("auto", flags=flags, gpu=gpu) == expected


def test_an_explicit_precision_is_kept_and_a_bad_one_refused():
    assert choose_precision("float32", flags=ZEN5, gpu=True) == "float32"
    assert choose_precision("float16", flags=AVX2_ONLY, gpu=False) == "float16"
    with pytest.raises(ValueError, match="unknown precision"):
        choose_precision("int8")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 amx_bf16\n\nflags\t: other\n")
    assert cpu_flags(cpuinfo) == {"fpu", "avx2", "amx_bf16"}
    assert cpu_flags(tmp_path / "missing") == frozenset()


def layer_policies(model):
    return {layer.dtype_policy.name for layer in model.layers if layer.weights}


def test_a_mixed_generator_computes_low_but_keeps_float32_weights_and_image():
    with dtype_policy("bfloat16"):
        generator = build_generator(blocks=1)
    assert keras.config.dtype_policy().name == "float32"  # restored
    assert {w.dtype for w in generator.weights} == {"float32"}
    assert generator.get_layer("head_conv").compute_dtype == "bfloat16"
    assert generator.get_layer("sr").compute_dtype == "float32"
    lr = np.random.default_rng(0).uniform(0, 1, (1, 8, 8, 3)).astype("float32")
    assert generator.predict_on_batch(lr).dtype == np.float32
    copy = float32_copy(generator)
    assert layer_policies(copy) == {"float32"}
    for a, b in zip(generator.weights, copy.weights, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    low, full = generator.predict_on_batch(lr), copy.predict_on_batch(lr)
    assert 0 < np.abs(low - full).max() < 0.05  # the same function, rounded differently


def psnr_levels(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / mse) if mse else np.inf


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_in_precision_clones_a_float32_generator_to_compute_mixed_but_the_image(precision):
    from inference import tiling
    from inference.split import split_generator
    from tests.test_tiling import noise

    keras.utils.set_random_seed(1)
    generator = build_generator(blocks=1)
    assert in_precision(generator, "float32") is generator  # a saved file, as it is
    mixed = in_precision(generator, precision)
    assert [layer.name for layer in mixed.layers] == [layer.name for layer in generator.layers]
    policies = {layer.name: layer.dtype_policy.name for layer in mixed.layers}
    assert policies.pop("sr") == "float32"  # the output, as in training (models/generator.py)
    policies.pop("lr")
    assert set(policies.values()) == {f"mixed_{precision}"}
    assert mixed.get_layer("head_conv").compute_dtype == precision
    assert {w.dtype for w in mixed.weights} == {"float32"}
    for a, b in zip(generator.get_weights(), mixed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert in_precision(mixed, precision) is mixed
    # The same function, rounded differently: within a grey level here (PSNR 65 dB for bf16,
    # 73 dB for f16, measured on this image).
    image = noise((37, 53, 3), seed=3)
    exact = tiling.upscale(image, generator, tile=0)
    low = tiling.upscale(image, mixed, tile=0)
    assert 40 < psnr_levels(low, exact) < np.inf
    # The fast split keeps the clone's precision: folded convs and the shuffle's conv in the
    # low precision, the output conv in float32; and it computes what the clone computes.
    split = split_generator(mixed, 4)
    assert split is not None
    folded = [layer for layer in split.body.layers if type(layer).__name__ == "ConvBatchNorm"]
    assert folded and {layer.compute_dtype for layer in folded} == {precision}
    groups = split.whole.chain[-1]
    assert (groups.conv.compute_dtype, groups.out_conv.compute_dtype) == (precision, "float32")
    lr = image[None].astype("float32") / 255.0
    direct = np.asarray(mixed.predict_on_batch(lr))
    assert np.abs(np.asarray(split.whole.predict_on_batch(lr)) - direct).max() < 2e-3
    # And back: a float32 clone computes exactly what the float32 generator does.
    back = in_precision(mixed, "float32")
    assert {layer.dtype_policy.name for layer in back.layers} == {"float32"}
    np.testing.assert_array_equal(tiling.upscale(image, back, tile=0), exact)


def test_in_precision_resolves_auto_and_refuses_an_unknown_precision():
    keras.utils.set_random_seed(1)
    generator = build_generator(blocks=1)
    resolved = in_precision(generator, "auto")
    expected = {"float32": "float32", "bfloat16": "mixed_bfloat16"}[choose_precision("auto")]
    assert resolved.get_layer("head_conv").dtype_policy.name == expected
    with pytest.raises(ValueError, match="unknown precision"):
        in_precision(generator, "int8")


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_d_learns_and_is_frozen_in_the_generators_step_under(precision):
    with dtype_policy(precision):
        keras.utils.set_random_seed(0)
        generator = build_generator(blocks=1)
        discriminator = build_discriminator(32)
        compile_discriminator(discriminator)
        gan = build_gan(generator, discriminator)
    assert_d_learns_and_is_frozen_in_g_step(Networks(generator, discriminator, None, gan))


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_a_tiny_model_trains_in_low_precision_and_saves_float32(photo_folder, tmp_path, precision):
    config = tiny_config(
        photo_folder, tmp_path, stage="pretrain", epochs=1, steps_per_epoch=40, precision=precision
    )
    result = train(config, run_dir=tmp_path / "run", progress=False)
    assert json.loads((result.run_dir / "config.json").read_text())["precision"] == precision
    assert f"precision: {precision}" in (result.run_dir / "run.log").read_text()
    losses = [float(row["g_mse"]) for row in read_history(result.run_dir)]
    assert np.all(np.isfinite(losses))
    assert np.mean(losses[-8:]) < 0.7 * np.mean(losses[:8])
    saved = keras.models.load_model(result.run_dir / "generator.keras")
    assert {w.dtype for w in saved.weights} == {"float32"}
    assert layer_policies(saved) == {"float32"}
    assert getattr(saved, "optimizer", None) is None  # its state is in optimizers.npz
    lr = np.random.default_rng(0).uniform(0, 1, (1, 8, 8, 3)).astype("float32")
    assert saved.predict_on_batch(lr).dtype == np.float32


def test_auto_is_resolved_when_the_run_starts(photo_folder, tmp_path):
    config = tiny_config(photo_folder, tmp_path, stage="pretrain", epochs=1, steps_per_epoch=1)
    assert config.precision == "auto"
    result = train(config, run_dir=tmp_path / "run", progress=False)
    written = json.loads((result.run_dir / "config.json").read_text())["precision"]
    assert written == choose_precision("auto")


def test_a_resumed_mixed_gan_run_with_cosine_equals_an_uninterrupted_one(photo_folder, tmp_path):
    """Mixed bf16 checkpoints hold float32 copies without optimiser state; resuming must still
    give back every weight and optimiser variable (G's, D's) bit for bit."""
    cosine = {"schedule": "cosine", "warmup_steps": 2, "min_learning_rate": 1e-5}
    config = tiny_config(photo_folder, tmp_path, precision="bfloat16", **cosine)
    straight = train(config, run_dir=tmp_path / "straight", progress=False)
    first = tiny_config(photo_folder, tmp_path, precision="bfloat16", **{**cosine, "epochs": 1})
    train(first, run_dir=tmp_path / "resumed", progress=False)
    resumed = train(config, run_dir=tmp_path / "resumed", resume=True, progress=False)
    assert resumed.step == straight.step == 6
    assert_same_final_state(straight.run_dir, resumed.run_dir, ("generator", "discriminator"))
