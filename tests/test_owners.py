"""Each convention has one owner (issue 32): no other module spells its values.

The image conventions (the generator's value ranges, the BT.601 luma weights) belong to
``data/conventions.py``; the run directory's file names (``step_NNNNNNN``, ``generator.keras``,
``generator_raw.keras``, ``config.json``, the CSV logs, a checkpoint's files) to
``runtime/rundir.py``. The check reads the code with ``ast``: numbers, and strings that are
not docstrings (messages, f-string parts, globs). Docstrings and comments may name a value to
explain it; code that computes with one, or writes one into a file, must ask its owner.

Scanned: the library packages, the tools and benchmarks/. Not tests/: a test spells the values
on purpose, as the independent expectation the owner is checked against.
"""

import ast
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("runtime", "models", "data", "inference", "evaluation", "training", "export")
TOOLS = ("train.py", "evaluate.py", "upscale.py", "export.py", "app.py")

# The value range ((x + 1) * 127.5, x / 127.5 - 1) and BT.601's luma weights, both forms.
CONVENTION_NUMBERS = {127.5, 0.299, 0.587, 0.114, 65.481, 128.553, 24.966}
CONVENTION_OWNER = "data/conventions.py"

# Every file a run directory holds by name; ``step_`` followed by no letter is a checkpoint's
# name (``step_0000100``, the glob ``step_*``, an f-string's ``step_``), not ``step_seconds``.
RUN_DIR_FILES = (
    "generator.keras",
    "generator_raw.keras",
    "config.json",
    "history.csv",
    "validation.csv",
    "state.json",
    "optimizers.npz",
    "loss.png",
    "run.log",
)
RUN_DIR_FOLDERS = {"checkpoints", "samples", "tensorboard"}  # as a whole string
CHECKPOINT_NAME = re.compile(r"\bstep_(?![a-z])")
RUN_DIR_OWNER = "runtime/rundir.py"


def scanned_files():
    files = [path for package in SCANNED for path in sorted((REPO_ROOT / package).rglob("*.py"))]
    files += [REPO_ROOT / name for name in TOOLS]
    files += sorted((REPO_ROOT / "benchmarks").glob("*.py"))
    return [path for path in files if path.is_file()]


def _docstrings(tree):
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, kinds) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def code_constants(path):
    """(line, value) of every number and non-docstring string in ``path``'s code."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or id(node) in docstrings:
            continue
        if isinstance(node.value, (int, float, str)) and not isinstance(node.value, bool):
            yield node.lineno, node.value


def spelled(owner, spells):
    """``file:line value`` for each constant outside ``owner`` that ``spells(value)``."""
    found = []
    for path in scanned_files():
        name = path.relative_to(REPO_ROOT).as_posix()
        if name == owner:
            continue
        found += [
            f"{name}:{line} {value!r}" for line, value in code_constants(path) if spells(value)
        ]
    return found


def spells_a_convention(value):
    if isinstance(value, str):
        return any(str(number) in value for number in CONVENTION_NUMBERS)
    return value in CONVENTION_NUMBERS


def spells_a_run_dir_name(value):
    if not isinstance(value, str):
        return False
    return (
        any(name in value for name in RUN_DIR_FILES)
        or value in RUN_DIR_FOLDERS
        or CHECKPOINT_NAME.search(value) is not None
    )


def test_only_data_conventions_spells_the_value_range_and_the_luma_weights():
    assert spelled(CONVENTION_OWNER, spells_a_convention) == []


def test_only_runtime_rundir_spells_the_run_directory_s_names():
    assert spelled(RUN_DIR_OWNER, spells_a_run_dir_name) == []


def test_the_scan_sees_what_it_looks_for(tmp_path):
    """The scanner finds numbers and f-string parts, and passes over docstrings."""
    sample = tmp_path / "sample.py"
    sample.write_text('"""(x + 1) * 127.5"""\nx = y * 127.5\nz = f"* 0.299 {y}"\n')
    values = [value for _, value in code_constants(sample)]
    assert 127.5 in values and "* 0.299 " in values
    assert "(x + 1) * 127.5" not in values
    assert spells_a_run_dir_name("step_*") and spells_a_run_dir_name(".step_1.tmp")
    assert spells_a_run_dir_name("no generator.keras here") and spells_a_run_dir_name("samples")
    assert not spells_a_run_dir_name("step_seconds") and not spells_a_run_dir_name("samples/s")
