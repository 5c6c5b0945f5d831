import pytest

from runtime import atomic


def test_write_bytes_replaces_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    atomic.write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("kept")
    with pytest.raises(RuntimeError), atomic.replacing(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "kept"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_missing_folder_raises_oserror(tmp_path):
    with pytest.raises(OSError):
        atomic.write_text(tmp_path / "no" / "such.txt", "x")


def test_save_model_replaces_a_keras_file_and_leaves_no_temporary(tmp_path):
    import keras

    path = tmp_path / "models" / "m.keras"
    for units in (2, 3):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units)])
        assert atomic.save_model(model, path) == path
    assert [entry.name for entry in path.parent.iterdir()] == ["m.keras"]
    assert keras.models.load_model(path).output_shape == (None, 3)
