"""The frozen VGG19 feature extractor behind the perceptual (content) loss.

SRGAN's content loss compares VGG19 feature maps of the generated and the real HR image
(Ledig et al. 2017, eq. 5). The extractor takes images in the generator's [-1, 1] RGB range and
does VGG's own preprocessing inside the model, then scales the features by 1/12.75 as the paper
does so the loss is on the scale of a pixel MSE.

The ImageNet weights are never optional: a content loss on random VGG features trains a
generator to match noise. ``find_vgg_weights`` looks for the official Keras file and stops with
one clear line when it cannot be found.
"""

import hashlib
import os
from pathlib import Path

import keras

from models.layers import VGGPreprocess
from models.options import CONTENT_LAYERS, PRE_ACTIVATION

VGG19_WEIGHTS_FILENAME = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG19_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/" + VGG19_WEIGHTS_FILENAME
)
# The hash keras.applications.vgg19 itself checks for the file above.
VGG19_WEIGHTS_MD5 = "253f8cb515780f3b799900260a226db6"
WEIGHTS_ENV = "SRGAN_VGG_WEIGHTS"
URL_ENV = "SRGAN_VGG_WEIGHTS_URL"

FEATURE_SCALE = 1.0 / 12.75


class MissingVGGWeights(FileNotFoundError):
    """The ImageNet VGG19 file could not be found, downloaded or verified."""


def file_md5(path, chunk_size=1 << 20):
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _verified(path):
    path = Path(path)
    md5 = file_md5(path)
    if md5 != VGG19_WEIGHTS_MD5:
        raise MissingVGGWeights(
            f"{path} is not the official Keras VGG19 notop file "
            f"(md5 {md5}, expected {VGG19_WEIGHTS_MD5}); delete it or point {WEIGHTS_ENV} "
            "at the right file"
        )
    return path


def keras_cache_path():
    """Where ``keras.applications`` keeps downloaded weights ($KERAS_HOME/models or ~/.keras)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models" / VGG19_WEIGHTS_FILENAME


def find_vgg_weights(path=None, *, download=True):
    """The verified path of the VGG19 ImageNet weights.

    Order: ``path`` (``--vgg-weights``), the ``SRGAN_VGG_WEIGHTS`` environment variable, the
    Keras cache, then the official download into the Keras cache (``SRGAN_VGG_WEIGHTS_URL``
    replaces the URL, for a mirror). Raises ``MissingVGGWeights`` with a one-line explanation.
    """
    explicit = path or os.environ.get(WEIGHTS_ENV)
    if explicit:
        explicit = Path(explicit).expanduser()
        if not explicit.is_file():
            raise MissingVGGWeights(
                f"VGG19 weights not found at {explicit}; give the path of "
                f"{VGG19_WEIGHTS_FILENAME} (md5 {VGG19_WEIGHTS_MD5})"
            )
        return _verified(explicit)
    cached = keras_cache_path()
    if cached.is_file():
        return _verified(cached)
    if download:
        url = os.environ.get(URL_ENV) or VGG19_WEIGHTS_URL
        try:
            # get_file falls back to /tmp/.keras when the cache folder does not exist yet.
            cached.parent.mkdir(parents=True, exist_ok=True)
            fetched = keras.utils.get_file(
                VGG19_WEIGHTS_FILENAME,
                url,
                cache_subdir="models",
                file_hash=VGG19_WEIGHTS_MD5,
                cache_dir=str(cached.parent.parent),
            )
            return _verified(fetched)
        except MissingVGGWeights:
            raise
        except Exception as error:  # network errors come in many types; all mean the same here
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise MissingVGGWeights(
                f"cannot download the VGG19 weights ({reason}); put {VGG19_WEIGHTS_FILENAME} "
                f"in {cached.parent}/ or pass --vgg-weights PATH (or set {WEIGHTS_ENV})"
            ) from None
    raise MissingVGGWeights(
        f"VGG19 weights not found: put {VGG19_WEIGHTS_FILENAME} in {cached.parent}/ "
        f"or pass --vgg-weights PATH (or set {WEIGHTS_ENV})"
    )


def build_feature_extractor(layer="vgg54", weights_path=None, *, download=True):
    """Frozen VGG19 cut at ``layer`` (a key of CONTENT_LAYERS or a Keras layer name).

    Input: RGB in [-1, 1], any size. Output: the layer's feature maps times 1/12.75 (for the
    ``PRE_ACTIVATION`` choices, before the layer's ReLU).
    """
    layer_name = CONTENT_LAYERS.get(layer, layer)
    weights = find_vgg_weights(weights_path, download=download)
    vgg = keras.applications.VGG19(
        include_top=False, weights=str(weights), input_shape=(None, None, 3)
    )
    try:
        cut = vgg.get_layer(layer_name)
    except ValueError:
        names = ", ".join(sorted(CONTENT_LAYERS))
        raise ValueError(f"unknown VGG layer {layer!r}; choose from {names}") from None
    if layer in PRE_ACTIVATION:
        trunk = keras.Model(vgg.input, _pre_activation(vgg, cut), name=f"vgg19_{layer}")
    else:
        trunk = keras.Model(vgg.input, cut.output, name=f"vgg19_{layer_name}")
    trunk.trainable = False
    image = keras.Input(shape=(None, None, 3), name="sr_or_hr")
    x = VGGPreprocess(name="vgg_preprocess", dtype="float32")(image)
    x = trunk(x)
    features = keras.layers.Rescaling(FEATURE_SCALE, name="feature_scale", dtype="float32")(x)
    extractor = keras.Model(image, features, name=f"{layer}_features")
    extractor.trainable = False
    return extractor


def _pre_activation(vgg, conv):
    """``conv``'s output before its ReLU: Keras's VGG19 fuses the activation into each
    Conv2D, so the layer is applied again as a linear copy with the same weights."""
    linear = keras.layers.Conv2D(
        conv.filters, conv.kernel_size, padding=conv.padding, name=f"{conv.name}_prerelu"
    )
    features = linear(conv.input)
    linear.set_weights(conv.get_weights())
    return features
