"""File-name parts a user gives (upscale.py's ``--suffix``, export.py's ``--name``): a part of
one name, never a path. ``--suffix "/../../x"`` would otherwise write outside ``-o``."""

import os

from runtime.errors import UserError


def name_part(text: str, flag: str) -> str:
    """``text`` when it can only name a file inside the output folder, else a ``UserError``."""
    separators = {"/", os.sep, os.altsep} - {None}
    if any(sep in text for sep in separators) or "\0" in text:
        raise UserError(f"{flag} {text!r}: a part of a file name, without / (outputs stay in -o)")
    if text in (".", ".."):
        raise UserError(f"{flag} {text!r}: not a file name")
    return text
