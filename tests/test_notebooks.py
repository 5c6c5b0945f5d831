"""Both notebooks run end to end in quick mode (SRGAN_QUICK=1), each on its own.

They are executed in memory with nbclient and never written back; everything they write goes
to a temporary folder (SRGAN_NOTEBOOK_OUT), which is what the checks read.
"""

import csv
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from PIL import Image

from evaluation.perceptual import require_lpips_weights
from inference.weights import DEFAULT_WEIGHTS
from runtime.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO_ROOT / "notebooks"
SHARED_DATASETS = Path(os.environ.get("SRGAN_SHARED_DIR", REPO_ROOT.parent / "shared")) / "datasets"


def execute(name, out, comparison_runs=None):
    """Run a notebook in quick mode; ``comparison_runs`` stands for the committed comparison
    runs (by default a folder without any, so the notebook trains its tiny pair)."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    env = {
        **os.environ,
        "SRGAN_QUICK": "1",
        "SRGAN_NOTEBOOK_OUT": str(out),
        "SRGAN_DATA_DIR": str(out / "data"),
        "SRGAN_BENCHMARK_DIR": str(SHARED_DATASETS),
        "SRGAN_COMPARISON_RUNS": str(comparison_runs or out / "no_comparison_runs"),
    }
    # As a user's Jupyter would: each notebook's first cell picks its own oneDNN default.
    env.pop("TF_ENABLE_ONEDNN_OPTS", None)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        # Per cell. Scoring the quick pair's checkpoints on Set5 and Set14 took over 300 s on a
        # 2-core AMD EPYC with AVX2 only (the same before and after this session's changes).
        timeout=1200,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute(env=env)  # raises CellExecutionError, with the cell, if any cell fails
    return notebook


def outputs(notebook, kind):
    """Every output of MIME type ``kind`` (text/markdown, image/png...) in cell order."""
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if kind in output.get("data", {}):
                found.append(output["data"][kind])
    return found


def printed(notebook):
    """Everything the cells printed (stdout and stderr), in cell order."""
    return "".join(
        output.get("text", "")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    )


def lpips_weights_found():
    try:
        require_lpips_weights()
    except UserError:
        return False
    return True


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_pixelshuffle_vs_upsampling_runs_quickly_and_compares_both(tmp_path):
    notebook = execute("pixelshuffle_vs_upsampling.ipynb", tmp_path)
    tables = "\n".join(outputs(notebook, "text/markdown"))
    for method in ("| Pixel Shuffle | sample | 3 |", "| UpSampling2D | sample | 3 |"):
        assert method in tables  # the report-shaped table, one row per epoch
    assert "checkerboard energy" in tables
    assert len(outputs(notebook, "image/png")) >= 4  # loss, PSNR, outputs, artefacts
    assert Image.open(tmp_path / "comparison.png").size[0] > 600
    summary = read_rows(tmp_path / "comparison.csv")
    assert [row["upsample"] for row in summary] == ["pixelshuffle", "upsampling"]
    # The full-size generators the README lists (16 blocks, PReLU).
    assert [int(row["parameters_16_blocks"]) for row in summary] == [1_554_883, 1_333_315]
    assert all(float(row["seconds_per_step"]) > 0 for row in summary)


@pytest.mark.skipif(not (SHARED_DATASETS / "Set5").is_dir(), reason="needs ../shared/datasets")
def test_pixelshuffle_vs_upsampling_reads_exported_runs_and_states_a_verdict(runs, tmp_path):
    """What the committed notebook does: no training, the exported runs' scores per step, and
    a conclusion computed from them."""
    from evaluation.benchmark import resolve_datasets
    from evaluation.run_export import export_run

    exported = tmp_path / "exported"
    set5 = resolve_datasets(["Set5"], str(SHARED_DATASETS))
    for run in runs.values():
        export_run(run, exported, set5)
    notebook = execute("pixelshuffle_vs_upsampling.ipynb", tmp_path / "out", exported)
    text = printed(notebook)
    assert "pixelshuffle: reading" in text and "upsampling: reading" in text
    assert "steps, validation PSNR-Y" not in text  # nothing was trained
    assert not (tmp_path / "out" / "exported").exists()
    tables = "\n".join(outputs(notebook, "text/markdown"))
    assert "| Set5 PSNR / SSIM |" in tables  # the method x step table
    assert "| Pixel Shuffle | " in tables and "| UpSampling2D | " in tables
    assert "At step 4, pixel shuffle minus UpSampling2D in PSNR-Y:" in tables
    assert "s/step." in tables
    summary = read_rows(tmp_path / "out" / "comparison.csv")
    assert [int(row["steps"]) for row in summary] == [4, 4]


def test_results_runs_on_its_own_with_both_tables(tmp_path):
    notebook = execute("results.ipynb", tmp_path)
    tables = "\n".join(outputs(notebook, "text/markdown"))
    assert "- `srresnet_x4`: [model card](../weights/srresnet_x4.md)" in tables
    assert "| Pixel Shuffle | sample |" in tables and "| UpSampling2D | sample |" in tables
    assert "| SRGAN (Ledig et al.) | 29.40 / 0.8472 | 26.02 / 0.7397 | 25.16 / 0.6688 |" in tables
    assert len(read_rows(tmp_path / "report.csv")) == 6  # 2 runs x 3 epochs
    assert Image.open(tmp_path / "psnr_vs_epoch.png").size[0] > 300
    if not (SHARED_DATASETS / "Set5").is_dir():
        pytest.skip(f"{SHARED_DATASETS} is absent: the benchmark part showed paper rows only")
    rows = read_rows(tmp_path / "benchmark.csv")
    assert rows[0]["method"] == "Bicubic"
    bicubic = {row["dataset"]: row for row in rows if row["method"] == "Bicubic"}
    assert float(bicubic["Set5"]["psnr_y"]) == pytest.approx(28.43, abs=0.005)
    assert "| Bicubic | 28.43 / 0.81" in tables
    # The shipped models, on Set5 alone in quick mode, beside bicubic and the paper's rows.
    assert "| srresnet_x4 | " in tables
    shipped = {(row["method"], row["dataset"]): row for row in read_rows(tmp_path / "shipped.csv")}
    names = ["Bicubic"] + [path.stem for path in DEFAULT_WEIGHTS.values() if path.is_file()]
    assert "srresnet_x4" in names and set(shipped) == {(name, "Set5") for name in names}
    bicubic, srresnet = shipped["Bicubic", "Set5"], shipped["srresnet_x4", "Set5"]
    assert float(bicubic["psnr_y"]) == pytest.approx(28.43, abs=0.005)
    assert float(srresnet["psnr_y"]) > float(bicubic["psnr_y"])
    plot = tmp_path / "perception_distortion.png"
    if not lpips_weights_found():
        assert "python -m models.lpips fetch" in printed(notebook)
        assert "lpips" not in srresnet and not plot.exists()
        return
    assert "| Set5 LPIPS |" in tables
    assert all(0 < float(row["lpips"]) < 1 for row in shipped.values())
    assert float(srresnet["lpips"]) < float(bicubic["lpips"])
    assert Image.open(plot).size[0] > 300


COMMITTED_RUNS = NOTEBOOKS / "results" / "upsamplers"


def committed_runs():
    from evaluation.runs import latest_runs, read_run

    return {read_run(path).config["upsample"]: path for path in latest_runs(COMMITTED_RUNS)}


def test_the_committed_comparison_is_a_fair_5000_step_one_and_the_notebook_shows_its_verdict():
    """The committed notebook's figures come from these runs: the same recipe for both
    upsamplers, at least 5,000 steps, and the conclusion printed is the one they give now."""
    import json

    from evaluation.comparison import verdict
    from evaluation.run_export import read_scores

    runs = committed_runs()
    assert set(runs) == {"pixelshuffle", "upsampling"}
    configs = {name: json.loads((path / "config.json").read_text()) for name, path in runs.items()}
    differ = {
        key
        for key in configs["pixelshuffle"]
        if configs["pixelshuffle"][key] != configs["upsampling"][key]
    }
    assert differ <= {"upsample", "run_dir"}
    scores = {name: read_scores(path) for name, path in runs.items()}
    assert all(rows[-1]["step"] >= 5000 for rows in scores.values())
    notebook = nbformat.read(NOTEBOOKS / "pixelshuffle_vs_upsampling.ipynb", as_version=4)
    shown = "\n".join(outputs(notebook, "text/markdown"))
    assert verdict(scores, ["Set5", "Set14"]) in shown
    assert outputs(notebook, "image/png"), "the notebook is committed with its figures"
    results = nbformat.read(NOTEBOOKS / "results.ipynb", as_version=4)
    assert outputs(results, "image/png") and "| srresnet_x4 |" in "\n".join(
        outputs(results, "text/markdown")
    )


@pytest.mark.skipif(not (SHARED_DATASETS / "Set5").is_dir(), reason="needs ../shared/datasets")
def test_the_committed_scores_are_what_the_committed_generators_score():
    from evaluation.benchmark import evaluate, load_method, resolve_datasets
    from evaluation.run_export import read_scores

    set5 = resolve_datasets(["Set5"], str(SHARED_DATASETS))
    for name, path in committed_runs().items():
        final = read_scores(path)[-1]
        scored = evaluate([load_method(path, name)], set5, progress=False)
        assert scored.mean(name, "Set5", "psnr_y") == pytest.approx(final["Set5_psnr_y"], abs=0.01)
