"""Write files so that a reader (or a crash) never sees half of one.

Every output of the project (images, checkpoints, CSV logs, caches, tables) goes through here:
the bytes go to a temporary file in the same folder, are flushed to disk, and the file is
renamed over the destination, which POSIX makes atomic. A process killed at any moment leaves
either the old file or the new one, never a truncated mix.
"""

import contextlib
import os
import secrets
import shutil
import tempfile
from pathlib import Path


def temporary_sibling(path):
    """A fresh hidden name beside ``path`` (same folder, so the rename cannot cross disks)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


@contextlib.contextmanager
def replacing(path):
    """Yield a temporary path to write; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    temporary = temporary_sibling(path)
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_bytes(path, data):
    """Write ``data`` to ``path`` atomically and durably; OSError propagates to the caller."""
    with replacing(path) as temporary:
        # os.open with 0o666 lets the umask decide the permissions, as for any new file.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    return Path(path)


def write_text(path, text):
    return write_bytes(path, text.encode())


def save_model(model, path):
    """``model.save(path)`` atomically, for a Keras model and a ``.keras`` path.

    Keras writes only names that end in ``.keras``, so a hidden temporary name will not do:
    the file is saved under its own name in a temporary folder beside ``path``, then renamed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        model.save(folder / path.name)
        os.replace(folder / path.name, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return path
