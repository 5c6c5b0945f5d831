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


# The scale: ``data/conventions.py`` lists the scales and the default; a generator's own scale
# is in its file (``models/description.py``). Elsewhere no module-level ``SCALE`` constant, and
# no literal integer passed or defaulted as ``scale``, ``crop_border``, ``border`` or ``period``.
SCALE_OWNER = "data/conventions.py"
SCALE_NAMES = {"SCALE", "SCALES", "DEFAULT_SCALE"}
SCALE_KEYWORDS = {"scale", "crop_border", "border", "period"}
SCALE_VALUES = {2, 4, 8}  # a constant named ..._SCALE with one of these is a scale, spelled


def scale_spellings(path):
    """``line text`` for each place in ``path`` that spells a scale instead of asking for it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def literal_int(node):
        return (
            isinstance(node, ast.Constant)
            and isinstance(node.value, int)
            and not isinstance(node.value, bool)
            and node.value > 1
        )

    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {
                target.attr if isinstance(target, ast.Attribute) else target.id
                for target in targets
                if isinstance(target, (ast.Name, ast.Attribute))
            }
            if names & SCALE_NAMES:
                found.append(f"{node.lineno} defines {sorted(names & SCALE_NAMES)[0]}")
            elif node.value is not None and literal_int(node.value):
                # PAPER_SCALE = 4, crop_border: int = 4 (a dataclass field), self.scale = 4
                value = node.value.value
                spelled = sorted(
                    name
                    for name in names
                    if name in SCALE_KEYWORDS or (name.endswith("SCALE") and value in SCALE_VALUES)
                )
                found += [f"{node.lineno} {name} = {node.value.value}" for name in spelled]
        elif isinstance(node, ast.Call) and not _gradio_layout(node):
            for keyword in node.keywords:
                if keyword.arg in SCALE_KEYWORDS and literal_int(keyword.value):
                    found.append(f"{node.lineno} {keyword.arg}={keyword.value.value}")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
            positional = arguments.posonlyargs + arguments.args
            first = len(positional) - len(arguments.defaults)
            defaults = list(zip(positional[first:], arguments.defaults, strict=True))
            defaults += [
                (arg, default)
                for arg, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
                if default is not None
            ]
            for arg, default in defaults:
                if arg.arg in SCALE_KEYWORDS and literal_int(default):
                    found.append(f"{node.lineno} def {node.name}({arg.arg}={default.value})")
    return found


def _gradio_layout(call):
    """``gr.Column(scale=2)``: Gradio's ``scale`` is a column's width share, not an SR scale."""
    func = call.func
    return isinstance(func, ast.Attribute) and getattr(func.value, "id", None) == "gr"


def test_only_data_conventions_spells_the_scale():
    spelled_here = []
    for path in scanned_files():
        name = path.relative_to(REPO_ROOT).as_posix()
        if name != SCALE_OWNER:
            spelled_here += [f"{name}:{where}" for where in scale_spellings(path)]
    assert spelled_here == []


def test_the_scale_scan_sees_what_it_looks_for(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "SCALE = 4\n"
        "def f(x, scale=4, *, border=2):\n    return g(x, crop_border=4, period=scale)\n"
        "def h(x, scale=conventions.DEFAULT_SCALE, copies=1):\n    return g(x, scale=1)\n"
        "gr.Column(scale=2)\n"
        "PAPER_SCALE = 4\nFEATURES_PER_SCALE = 18\n"
        "class C:\n    crop_border: int = 4\n    blocks: int = 16\n"
    )
    found = scale_spellings(sample)
    assert sorted(found, key=lambda where: int(where.split()[0])) == [
        "1 defines SCALE",
        "2 def f(scale=4)",
        "2 def f(border=2)",
        "3 crop_border=4",
        "7 PAPER_SCALE = 4",
        "10 crop_border = 4",
    ]
