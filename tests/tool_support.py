"""The ``export.py`` tool as a module, for tests that call its ``main``.

``import export`` is the ``export/`` package (a package wins over a module of the same name), so
the tool beside it is loaded from its file, as ``python export.py`` runs it.
"""

import importlib.util
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def load_tool(name):
    """The top-level tool ``<name>.py``, loaded from its file as module ``<name>_tool``."""
    spec = importlib.util.spec_from_file_location(f"{name}_tool", REPO_ROOT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
