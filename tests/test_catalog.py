"""data/catalog.py: names, the data dir, sizes and checksums."""

from __future__ import annotations

from data import catalog
from data.catalog import CATALOG, data_dir

# --- names and the data dir ----------------------------------------------------------------


def test_data_dir_prefers_the_argument_then_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SRGAN_DATA_DIR", str(tmp_path / "env"))
    assert data_dir(None) == tmp_path / "env"
    assert data_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("SRGAN_DATA_DIR")
    assert data_dir(None) == catalog.DEFAULT_DATA_DIR
    assert data_dir("~/sr").is_absolute()


def test_catalog_names_are_case_insensitive_and_checksums_well_formed():
    assert catalog.lookup("df2k") is CATALOG["DF2K"]
    assert catalog.lookup("b100") is CATALOG["BSD100"]
    assert catalog.lookup("URBAN100") is CATALOG["Urban100"]
    for spec in CATALOG.values():
        for remote in spec.files:
            assert remote.url.endswith("/" + remote.filename)
            assert remote.sha256 is None or len(remote.sha256) == 64
            assert remote.md5 is None or len(remote.md5) == 32
            assert remote.sha256 or remote.md5  # every archive is checked by a digest
    assert catalog.download_size(CATALOG["DIV2K"]) == 4_258_017_526
    assert not CATALOG["DF2K"].files
    assert [f.filename for f in catalog.unique_files(CATALOG["DF2K"])] == [
        "DIV2K_train_HR.zip",
        "DIV2K_valid_HR.zip",
        "DIV2K_train_LR_bicubic_X4.zip",
        "DIV2K_valid_LR_bicubic_X4.zip",
        "Flickr2K.tar",
    ]
