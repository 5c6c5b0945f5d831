"""Name parts from the command line never become paths out of the output folder."""

import pytest

import upscale
from runtime import cli
from runtime.errors import UserError
from runtime.names import name_part
from tests.tool_support import load_tool


@pytest.mark.parametrize("text", ["/../../x", "../x", "a/b", "..", ".", "x\0y"])
def test_anything_that_could_leave_the_folder_is_refused(text):
    with pytest.raises(UserError, match="--suffix"):
        name_part(text, "--suffix")


@pytest.mark.parametrize("text", ["_x4", "-sr", "", "..x", "a.b"])
def test_plain_parts_pass(text):
    assert name_part(text, "--suffix") == text


def test_upscale_and_export_refuse_them_before_any_work(tmp_path, capsys):
    source = tmp_path / "a.png"
    source.write_bytes(b"")
    argv = [str(source), "-o", str(tmp_path / "out"), "--suffix", "/../../x"]
    assert cli.run(upscale.main, argv) == 2
    assert "--suffix '/../../x'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    argv = [str(tmp_path / "g.keras"), "-o", str(tmp_path / "exp"), "--name", "../../x"]
    assert cli.run(load_tool("export").main, argv) == 2
    assert "--name '../../x'" in capsys.readouterr().err
