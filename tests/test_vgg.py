import functools
import http.server
import shutil
import threading

import h5py
import keras
import numpy as np
import pytest

from models import vgg
from models.vgg import (
    VGG19_WEIGHTS_FILENAME,
    MissingVGGWeights,
    build_feature_extractor,
    find_vgg_weights,
)


@pytest.fixture
def isolated_keras_home(tmp_path, monkeypatch):
    """No explicit path and an empty Keras cache: only the download is left to try."""
    monkeypatch.delenv(vgg.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return tmp_path / "keras_home"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve_folder():
    servers = []

    def start(folder):
        handler = functools.partial(QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()


def test_explicit_path_that_does_not_exist(tmp_path):
    with pytest.raises(MissingVGGWeights, match="not found at") as error:
        find_vgg_weights(tmp_path / "nope.h5")
    assert "\n" not in str(error.value)


def test_a_file_with_the_wrong_hash_is_refused(tmp_path):
    wrong = tmp_path / VGG19_WEIGHTS_FILENAME
    wrong.write_bytes(b"not the weights")
    with pytest.raises(MissingVGGWeights, match="not the official"):
        find_vgg_weights(wrong)


def test_nothing_found_and_no_download_says_where_to_put_it(isolated_keras_home):
    with pytest.raises(MissingVGGWeights, match="--vgg-weights") as error:
        find_vgg_weights(download=False)
    assert str(isolated_keras_home / "models") in str(error.value)


def test_unreachable_download_is_one_clear_line(isolated_keras_home, monkeypatch):
    monkeypatch.setenv(vgg.URL_ENV, "http://127.0.0.1:9/" + VGG19_WEIGHTS_FILENAME)
    with pytest.raises(MissingVGGWeights, match="cannot download") as error:
        find_vgg_weights()
    assert "\n" not in str(error.value)


def test_environment_variable_and_keras_cache_are_found(
    vgg_weights, isolated_keras_home, monkeypatch
):
    monkeypatch.setenv(vgg.WEIGHTS_ENV, str(vgg_weights))
    assert find_vgg_weights() == vgg_weights
    monkeypatch.delenv(vgg.WEIGHTS_ENV)
    cache = isolated_keras_home / "models"
    cache.mkdir(parents=True)
    (cache / VGG19_WEIGHTS_FILENAME).symlink_to(vgg_weights)
    assert find_vgg_weights(download=False) == cache / VGG19_WEIGHTS_FILENAME


def test_download_lands_verified_in_the_keras_cache(
    vgg_weights, isolated_keras_home, serve_folder, tmp_path, monkeypatch
):
    served = tmp_path / "mirror"
    served.mkdir()
    shutil.copy(vgg_weights, served / VGG19_WEIGHTS_FILENAME)
    monkeypatch.setenv(vgg.URL_ENV, serve_folder(served) + "/" + VGG19_WEIGHTS_FILENAME)
    path = find_vgg_weights()
    assert path == isolated_keras_home / "models" / VGG19_WEIGHTS_FILENAME
    assert vgg.file_md5(path) == vgg.VGG19_WEIGHTS_MD5


@pytest.mark.parametrize(("layer", "stride", "maps"), [("vgg22", 2, 128), ("vgg54", 16, 512)])
def test_feature_shapes(vgg_weights, layer, stride, maps):
    extractor = build_feature_extractor(layer, vgg_weights)
    x = np.zeros((1, 48, 64, 3), "float32")
    assert extractor.predict_on_batch(x).shape == (1, 48 // stride, 64 // stride, maps)


def test_extractor_is_frozen_imagenet_vgg_with_preprocessing_inside(vgg_weights):
    extractor = build_feature_extractor("vgg33", vgg_weights)
    assert extractor.trainable_weights == []
    with h5py.File(vgg_weights, "r") as weights:
        kernel = np.asarray(weights["block1_conv1"]["block1_conv1_W_1:0"])
    ours = extractor.get_layer("vgg19_block3_conv3").get_layer("block1_conv1").kernel
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours), kernel)

    rgb = np.random.default_rng(0).uniform(-1, 1, size=(1, 32, 32, 3)).astype("float32")
    reference_model = keras.applications.VGG19(
        include_top=False, weights=str(vgg_weights), input_shape=(None, None, 3)
    )
    cut = keras.Model(reference_model.input, reference_model.get_layer("block3_conv3").output)
    expected = cut.predict_on_batch(keras.applications.vgg19.preprocess_input((rgb + 1) * 127.5))
    np.testing.assert_allclose(
        extractor.predict_on_batch(rgb), expected / 12.75, rtol=1e-4, atol=1e-3
    )


def test_unknown_layer_is_refused(vgg_weights):
    with pytest.raises(ValueError, match="unknown VGG layer"):
        build_feature_extractor("vgg99", vgg_weights)


def test_features_before_the_relu_are_vgg54_once_the_relu_is_applied(vgg_weights):
    before = build_feature_extractor("vgg54-prerelu", vgg_weights)
    after = build_feature_extractor("vgg54", vgg_weights)
    assert before.trainable_weights == []
    rgb = np.random.default_rng(1).uniform(-1, 1, size=(1, 48, 48, 3)).astype("float32")
    pre = before.predict_on_batch(rgb)
    assert pre.shape == (1, 3, 3, 512) and pre.min() < 0  # negative values the ReLU would drop
    np.testing.assert_allclose(np.maximum(pre, 0), after.predict_on_batch(rgb), atol=1e-4)
