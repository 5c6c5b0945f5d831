"""app.py's command line: bad flags and addresses are one line, before anything is served."""

import socket

import pytest

import app
from runtime.errors import UserError


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "0"], "--port must be between 1 and 65535"),
        (["--port", "70000"], "--port must be between 1 and 65535"),
        (["--max-megapixels", "0"], "--max-megapixels must be positive"),
        (["--precision", "int4"], "invalid choice"),
    ],
)
def test_bad_flags_are_refused_by_the_parser(argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        app.main(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_an_empty_weights_folder_is_one_line(tmp_path):
    with pytest.raises(UserError, match=r"no generator \.keras files to offer"):
        app.main(["--weights-dir", str(tmp_path)])


def test_a_port_in_use_is_one_line_before_gradio_starts(tmp_path):
    (tmp_path / "g.keras").write_bytes(b"")
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        with pytest.raises(UserError) as caught:
            app.main(["--weights-dir", str(tmp_path), "--port", str(port)])
    assert str(caught.value) == (
        f"127.0.0.1:{port}: cannot serve there (Address already in use); "
        "pick another --port or --host"
    )
