"""Imports go one way (ARCHITECTURE.md): each package imports only the layers below it.

From the bottom: runtime/, data/ and models/; then inference/ (upscaling), evaluation/
(scoring), training/ (its validation calls evaluation's scorer), export/ (checked by inference
and evaluation); the tools (train.py, evaluate.py, upscale.py, export.py, app.py) on top.
benchmarks/, notebooks/ and tests/ may import anything.

Every ``.py`` of the packages is read with ``ast``, module-level and function-level imports
alike: an import that waits inside a function still ties the layers together, it only fails
later. Within the bottom layer, runtime/ imports nothing of ours (every program uses it), data/
only runtime/, and models/ only ``data.conventions`` (the networks turn the generator's range
into levels as everything else does).
"""

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

LAYERS = {
    "runtime": 0,
    "data": 0,
    "models": 0,
    "inference": 1,
    "evaluation": 2,
    "training": 3,
    "export": 4,
}
# What each bottom-layer package may import of the others (a module, or a whole package).
BOTTOM = {
    "runtime": (),
    "data": ("runtime",),
    "models": ("data.conventions",),
}
# The tools a package must never import (``import export`` is the export/ package, so export.py
# cannot be imported by its name at all).
TOOLS = {"train", "evaluate", "upscale", "app"}


def imports_of(path, root=REPO_ROOT):
    """(line, imported module) for every import in ``path``, relative ones made absolute."""
    package = path.relative_to(root).with_suffix("").parts
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module
            yield node.lineno, module
            # ``from data import conventions`` imports data.conventions.
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def within(module, allowed):
    return any(module == name or module.startswith(name + ".") for name in allowed)


def wrong_way(importer, module):
    """Why ``importer``'s package must not import ``module``, or None."""
    top = module.split(".")[0]
    if top in TOOLS:
        return f"imports the tool {top}.py"
    if top not in LAYERS or top == importer:
        return None
    if LAYERS[top] > LAYERS[importer]:
        return f"imports {top}/, a layer above it"
    if LAYERS[top] == LAYERS[importer]:
        if LAYERS[top] > 0:
            return f"imports {top}/, a layer beside it"
        if not within(module, BOTTOM[importer]) and module != top:
            return f"imports {module}; of the bottom layer it may import only {BOTTOM[importer]}"
    return None


def violations():
    found = []
    for package in LAYERS:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            for line, module in imports_of(path):
                why = wrong_way(package, module)
                if why:
                    found.append(f"{path.relative_to(REPO_ROOT)}:{line} {why}")
    return sorted(set(found))


def test_every_import_goes_down():
    assert violations() == []


@pytest.mark.parametrize(
    ("importer", "module", "wrong"),
    [
        ("evaluation", "training.logs", True),
        ("evaluation", "inference.weights", False),
        ("inference", "evaluation.metrics", True),
        ("training", "train", True),
        ("export", "evaluation.benchmark", False),
        ("data", "runtime.errors", False),
        ("runtime", "data.images", True),
        ("models", "data.conventions", False),
        ("models", "data.images", True),
        ("models", "runtime.errors", True),
        ("inference", "numpy", False),
    ],
)
def test_the_rule(importer, module, wrong):
    assert (wrong_way(importer, module) is not None) == wrong


def test_function_level_and_relative_imports_are_seen(tmp_path):
    folder = tmp_path / "evaluation"
    folder.mkdir()
    source = folder / "sample.py"
    source.write_text("def f():\n    import training.logs\nfrom . import runs\n")
    found = set(imports_of(source, root=tmp_path))
    assert (2, "training.logs") in found and (3, "evaluation.runs") in found
