"""models/ must run on any Keras backend: no TensorFlow, no Lambda, nothing of ours imported."""

import ast
from pathlib import Path

import pytest

MODELS = sorted((Path(__file__).resolve().parents[1] / "models").glob("*.py"))


def imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module or ""


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_models_import_only_keras_and_the_standard_library(path):
    for module in imported_modules(path):
        top = module.split(".")[0]
        assert top not in {"tensorflow", "tf", "torch", "jax", "data", "training", "runtime"}, (
            f"{path.name} imports {module}"
        )
    assert "Lambda(" not in path.read_text()
