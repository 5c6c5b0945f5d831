"""Score models on the SR benchmarks: ``python evaluate.py runs/a runs/b --datasets Set5 Set14``.

A thin CLI over the ``evaluation`` package. It prints the paper's table (bicubic first, then
each model, PSNR / SSIM on the Y channel per dataset) and, with ``--report-table``, the student
report's table read from training runs. With no model it prints the bicubic baseline, which
needs no TensorFlow and takes a few seconds for Set5 and Set14.
"""

import argparse
import sys
from pathlib import Path

from evaluation.benchmark import (
    DEFAULT_DATASETS,
    SCALE,
    evaluate,
    load_methods,
    resolve_datasets,
    split_model_spec,
)
from evaluation.figures import comparison_figure, save_figure
from evaluation.runs import read_run, report_rows, score_checkpoints
from evaluation.tables import (
    REPORT_NOTE,
    benchmark_table,
    describe_lr,
    json_document,
    report_table,
    sibling,
    write_csv,
    write_json,
)
from runtime import cli
from runtime.errors import UserError


def crop_argument(text):
    try:
        x, y, size = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y,SIZE in HR pixels, not {text!r}") from None
    return x, y, size


def build_parser():
    parser = argparse.ArgumentParser(
        description="Evaluate x4 super-resolution with the SR papers' protocol "
        "(PSNR/SSIM on Y, 4-pixel shave, official bicubic LR).",
        epilog="Give the MODELs before --datasets, which takes every name after it. "
        "Example: python evaluate.py runs/a best=runs/b --datasets Set5 Set14 --paper",
    )
    arg = parser.add_argument
    arg(
        "models",
        nargs="*",
        metavar="MODEL",
        help="run directories, checkpoint folders or .keras files; NAME=PATH sets the label "
        "(none: the bicubic baseline only)",
    )
    arg(
        "--datasets",
        nargs="+",
        metavar="NAME",
        help="Set5, Set14, BSD100, Urban100, DIV2K (its validation set), sample, or folders "
        f"(default: {' '.join(DEFAULT_DATASETS)}; with --report-table alone: none)",
    )
    arg("--data-dir", help="where the datasets lie (default: datasets/ or $SRGAN_DATA_DIR)")
    arg("--rgb", action="store_true", help="also report PSNR on RGB, as the student report did")
    arg("--paper", action="store_true", help="add Ledig et al.'s published rows to the table")
    arg("--tile", type=int, help="largest tile side in LR pixels for models (default: automatic)")
    arg("--save-images", metavar="DIR", help="write DIR/<dataset>/<method>/<image>.png")
    arg("--figure", metavar="PATH", help="write a side-by-side comparison figure (PNG, PDF, SVG)")
    arg("--figure-image", metavar="NAME", help="its image: NAME or DATASET/NAME (default: first)")
    arg(
        "--figure-crop",
        type=crop_argument,
        metavar="X,Y,SIZE",
        help="the zoomed square, in HR pixels (default: the most detailed one)",
    )
    arg(
        "--csv",
        metavar="PATH",
        help="write the table as CSV; PATH_per_image.csv and PATH_report.csv beside it",
    )
    arg("--json", metavar="PATH", help="write everything (summary, per image, report) as JSON")
    arg(
        "--report-table",
        action="store_true",
        help="print the student report's table (method x data x epoch -> validation PSNR-Y) "
        "from the runs given as MODEL",
    )
    arg(
        "--report-checkpoints",
        action="store_true",
        help="with --report-table: also score every checkpoint still on disk on --datasets",
    )
    arg("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return parser


def check_outputs(args):
    """Refuse an unwritable output before minutes of work, not after."""
    for option in ("figure", "csv", "json"):
        value = getattr(args, option)
        if value and not Path(value).parent.is_dir():
            raise UserError(f"--{option} {value}: folder {Path(value).parent} does not exist")
    for option in ("figure_image", "figure_crop"):
        if getattr(args, option) and not args.figure:
            raise UserError(f"--{option.replace('_', '-')} goes with --figure")
    if args.report_checkpoints and not args.report_table:
        raise UserError("--report-checkpoints goes with --report-table")
    if args.report_table and not args.models:
        raise UserError("--report-table needs run directories as MODEL arguments")
    if args.tile is not None and args.tile < 0:
        raise UserError("--tile must be 0 (never tile) or a positive size")


def main(argv=None):
    args = build_parser().parse_args(argv)
    check_outputs(args)
    run_benchmark = not args.report_table or bool(args.datasets)
    dataset_names = args.datasets or list(DEFAULT_DATASETS)

    runs = None
    if args.report_table:
        runs = [read_run(split_model_spec(m)[1]) for m in args.models]
    needs_data = run_benchmark or args.report_checkpoints
    datasets = resolve_datasets(dataset_names, args.data_dir) if needs_data else []

    result = None
    if run_benchmark:
        if args.models:
            cli.import_keras_quietly()
        methods = load_methods(args.models)
        result = evaluate(
            methods,
            datasets,
            rgb=args.rgb,
            tile=args.tile,
            save_images=args.save_images,
            figure_image=args.figure_image,
            keep_figure=bool(args.figure),
            progress=args.progress,
        )
        print(
            f"x{SCALE} super-resolution: PSNR (dB) / SSIM on the Y channel (BT.601), "
            "4-pixel border shaved"
        )
        print(f"({describe_lr(datasets)})")
        print()
        print(benchmark_table(result, paper=args.paper))

    report = None
    if runs is not None:
        report = report_rows(runs)
        columns = []
        if args.report_checkpoints:
            cli.import_keras_quietly()
            score_checkpoints(runs, report, datasets, tile=args.tile, progress=args.progress)
            columns = [dataset.name for dataset in datasets]
        if result is not None:
            print()
        print(f"Training runs: {REPORT_NOTE}.")
        if columns:
            print(f"Benchmark columns: checkpoints still on disk, scored on {', '.join(columns)}.")
        print()
        print(report_table(report, columns))

    written = []
    if args.figure and result is not None:
        written.append(
            save_figure(comparison_figure(result.figure, crop=args.figure_crop), args.figure)
        )
    if args.csv:
        if result is not None:
            written.append(write_csv(args.csv, result.summary()))
            per_image = sibling(args.csv, "per_image")
            written.append(write_csv(per_image, result.per_image))
        if report is not None:
            path = sibling(args.csv, "report") if result is not None else args.csv
            written.append(write_csv(path, report))
    if args.json:
        written.append(write_json(args.json, json_document(result, report)))
    if args.save_images and result is not None:
        written.append(Path(args.save_images))
    if written:
        print()
        for path in written:
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main, needs_keras=False, one_op_at_a_time=True))
