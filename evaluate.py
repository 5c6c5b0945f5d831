"""Score models on the SR benchmarks: ``python evaluate.py runs/a runs/b --datasets Set5 Set14``.

A thin CLI over the ``evaluation`` package. It prints the paper's table (bicubic first, then
each model, PSNR / SSIM on the Y channel and LPIPS per dataset, NIQE with ``--niqe``), one per
scale when the models' own scales differ (each file says its scale), and, with
``--report-table``, the student report's table read from training runs. With no model and
``--perceptual none`` it prints the bicubic baseline without TensorFlow in about a second;
LPIPS loads Keras and its AlexNet (a few seconds more).
"""

import argparse
from pathlib import Path

from data.conventions import DEFAULT_SCALE, SCALES, shave_border
from data.degradations import DEGRADATIONS
from evaluation.benchmark import (
    BICUBIC,
    DEFAULT_DATASETS,
    bicubic_method,
    combine,
    evaluate,
    load_methods,
    resolve_datasets,
    split_model_spec,
    tables_by_scale,
)
from evaluation.figures import comparison_figure, perception_distortion_figure, save_figure
from evaluation.perceptual import perceptual_metrics
from evaluation.runs import choose_checkpoint, read_run, report_rows, score_checkpoints
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
from models.precision import PRECISIONS
from runtime import cli
from runtime.errors import UserError

NO_LPIPS = "or pass --perceptual none to score without LPIPS"
CHOICE_DATASET = "Set5"  # the chosen-checkpoint rule's benchmark (issue 17)


def crop_argument(text):
    try:
        x, y, size = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y,SIZE in HR pixels, not {text!r}") from None
    return x, y, size


def build_parser():
    parser = argparse.ArgumentParser(
        description="Evaluate super-resolution with the SR papers' protocol (PSNR/SSIM on Y, "
        "a border of the scale shaved, official bicubic LR) and LPIPS, each model at its own "
        "scale (one table per scale).",
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
    arg(
        "--scale",
        type=int,
        choices=SCALES,
        help="the bicubic baseline's scale when no MODEL is given (default: "
        f"{DEFAULT_SCALE}); a model is always scored at its own scale",
    )
    arg("--rgb", action="store_true", help="also report PSNR on RGB, as the student report did")
    arg(
        "--perceptual",
        choices=("lpips", "none"),
        default="lpips",
        help="lpips (default): LPIPS v0.1 AlexNet beside PSNR/SSIM, lower is better; "
        "none: PSNR/SSIM only (no TensorFlow for the bicubic baseline)",
    )
    arg(
        "--niqe",
        action="store_true",
        help="also NIQE of each SR image (no reference; lower is better; slower)",
    )
    arg(
        "--paper",
        action="store_true",
        help="add Ledig et al.'s published rows to the x4 table (they publish x4 only)",
    )
    arg("--tile", type=int, help="largest tile side in LR pixels for models (default: automatic)")
    arg(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        help="what every model computes in (default: %(default)s, exact and reproducible "
        "tables); bfloat16/float16: mixed precision with the same weights, the output conv "
        "float32, its rows labelled 'NAME (bfloat16)'; auto: bfloat16 on a GPU or a CPU with "
        "native bf16 (AVX512_BF16, AMX), else float32",
    )
    arg(
        "--degradation",
        choices=DEGRADATIONS,
        default="bicubic",
        help="bicubic (default): the protocol's LR (the official files where they ship); real: "
        "LR made from each HR by the real-world model of data/degradations.py (blur, noise, "
        "JPEG), the same for every model given --seed",
    )
    arg("--seed", type=int, default=0, help="--degradation real's draws (default: 0)")
    arg(
        "--self-ensemble",
        action="store_true",
        help="add a 'NAME+' row after each model's: the mean of its answers to the 8 flips and "
        "rotations of each image (EDSR's x8 self-ensemble; 8 times slower)",
    )
    arg(
        "--save-images",
        metavar="DIR",
        help="write DIR/<dataset>/<method>/<image>.png (DIR/x<scale>/... for models of "
        "several scales)",
    )
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
        "--pd-plot",
        metavar="PATH",
        help="write the perception-distortion plot: PSNR-Y against LPIPS of every method and "
        "checkpoint scored, one panel per dataset (PNG, PDF, SVG)",
    )
    arg(
        "--report-table",
        action="store_true",
        help="print the student report's table (method x data x epoch -> validation PSNR-Y) "
        "from the runs given as MODEL",
    )
    arg(
        "--report-checkpoints",
        action="store_true",
        help="with --report-table: also score every checkpoint still on disk on --datasets "
        "(both generators of an --ema run's: the average and the raw weights), "
        f"and name the chosen one (lowest {CHOICE_DATASET} LPIPS whose {CHOICE_DATASET} PSNR-Y "
        "is at least bicubic's)",
    )
    arg(
        "--rank-by",
        choices=("lpips", "psnr"),
        help="with --report-table: rows best first, by the first --datasets benchmark when "
        "checkpoints are scored, else by the runs' own validation",
    )
    arg("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return parser


def check_outputs(args):
    """Refuse an unwritable output before minutes of work, not after."""
    for option in ("figure", "csv", "json", "pd_plot"):
        value = getattr(args, option)
        if value and not Path(value).parent.is_dir():
            flag = option.replace("_", "-")
            raise UserError(f"--{flag} {value}: folder {Path(value).parent} does not exist")
    for option in ("figure_image", "figure_crop"):
        if getattr(args, option) and not args.figure:
            raise UserError(f"--{option.replace('_', '-')} goes with --figure")
    for option in ("report_checkpoints", "rank_by"):
        if getattr(args, option) and not args.report_table:
            raise UserError(f"--{option.replace('_', '-')} goes with --report-table")
    for option in ("niqe", "pd_plot"):
        if getattr(args, option) and args.perceptual == "none":
            raise UserError(
                f"--{option.replace('_', '-')} needs the perceptual scores; drop --perceptual none"
            )
    if args.pd_plot and args.report_table and not (args.datasets or args.report_checkpoints):
        raise UserError("--pd-plot needs scores: give --datasets or --report-checkpoints")
    if args.report_table and not args.models:
        raise UserError("--report-table needs run directories as MODEL arguments")
    if args.tile is not None and args.tile < 0:
        raise UserError("--tile must be 0 (never tile) or a positive size")
    if args.self_ensemble and not args.models:
        raise UserError("--self-ensemble needs a model: bicubic has no ensemble")
    if args.scale is not None and args.models:
        raise UserError("--scale goes without MODEL: each model is scored at its own scale")


def check_one_scale(args, tables):
    """--figure and --pd-plot draw one scale: refuse models of several before any scoring."""
    if len(tables) < 2:
        return
    scales = " and ".join(f"x{methods[0].scale}" for methods in tables)
    for option in ("figure", "pd_plot"):
        if getattr(args, option):
            raise UserError(
                f"--{option.replace('_', '-')} draws one scale, and the models are {scales}: "
                "give the models of one scale"
            )


def describe_scale(scale) -> str:
    """The caption's first line: the scale and the shave every score of the table takes."""
    return (
        f"x{scale} super-resolution: PSNR (dB) / SSIM on the Y channel (BT.601), "
        f"{shave_border(scale)}-pixel border shaved"
    )


def describe_perceptual(perceptual, scale=DEFAULT_SCALE) -> str:
    scores = ["LPIPS (v0.1, AlexNet, on RGB)"]
    if perceptual.niqe:
        scores.append("NIQE (no reference, on Y)")
    if perceptual.grid:
        scores.append(
            f"Grid ({scale}-pixel grid peaks in the spectrum, log10; HR photos score near 0)"
        )
    listed = f"{', '.join(scores[:-1])} and {scores[-1]}" if len(scores) > 1 else scores[0]
    return f"{listed}, same shave: lower is better"


def print_benchmark(args, result, perceptual):
    """One scale's table under the lines that say its scale, shave, scores and LR."""
    print(describe_scale(result.scale))
    if perceptual is not None:
        print(describe_perceptual(perceptual, result.scale))
    if args.self_ensemble and args.models:
        print("NAME+: the model's x8 self-ensemble (mean over flips and rotations)")
    if args.degradation == "bicubic":
        print(f"({describe_lr(result.datasets)})")
    else:
        print(f"(LR made by data/degradations.py's {args.degradation} model, seed {args.seed})")
    print()
    print(benchmark_table(result, paper=args.paper))


def describe_ranking(rank_by, dataset) -> str:
    metric = {"lpips": "LPIPS, lowest first", "psnr": "PSNR-Y, highest first"}[rank_by]
    where = f"{dataset} benchmark" if dataset else "validation"
    return f"Ranked by {where} {metric}; rows without that score last."


def report_choice(report, datasets, results, scale):
    """Print and return the checkpoint ``choose_checkpoint`` picks (issue 17's rule), against
    bicubic at the checkpoints' ``scale``."""
    dataset = next((d for d in datasets if d.name == CHOICE_DATASET), None)
    if dataset is None:
        print(f"Chosen checkpoint: none (the rule needs {CHOICE_DATASET} in --datasets).")
        return None
    result = next((r for r in results if r.scale == scale and BICUBIC in r.methods), None)
    if result is None:
        result = evaluate([bicubic_method(scale)], [dataset], progress=False)
    floor = result.mean(BICUBIC, CHOICE_DATASET, "psnr_y")
    chosen = choose_checkpoint(report, floor, CHOICE_DATASET)
    rule = (
        f"lowest {CHOICE_DATASET} LPIPS whose {CHOICE_DATASET} PSNR-Y is at least "
        f"bicubic's {floor:.2f} dB"
    )
    if chosen is None:
        print(f"Chosen checkpoint ({rule}): none qualifies.")
        return None
    print(
        f"Chosen checkpoint ({rule}): {chosen['run']} step {chosen['step']}"
        + (f" {chosen['weights']} weights" if chosen.get("weights") else "")
        + ", "
        f"LPIPS {chosen[CHOICE_DATASET + '_lpips']:.4f}, "
        f"PSNR-Y {chosen[CHOICE_DATASET + '_psnr_y']:.2f} dB ({chosen['checkpoint']})"
    )
    return chosen


def main(argv=None):
    args = build_parser().parse_args(argv)
    check_outputs(args)
    run_benchmark = not args.report_table or bool(args.datasets)
    dataset_names = args.datasets or list(DEFAULT_DATASETS)

    runs = None
    if args.report_table:
        runs = [read_run(split_model_spec(m)[1]) for m in args.models]
    needs_data = run_benchmark or args.report_checkpoints
    scale = args.scale or DEFAULT_SCALE
    datasets = resolve_datasets(dataset_names, args.data_dir, scale=scale) if needs_data else []
    perceptual = None
    if needs_data and args.perceptual != "none":
        cli.import_keras_quietly()  # LPIPS is a Keras model; its weights are checked first
        perceptual = perceptual_metrics(lpips=True, niqe=args.niqe, grid=True, hint=NO_LPIPS)

    results = []  # one Evaluation per scale, smallest first
    if run_benchmark:
        if args.models:
            cli.import_keras_quietly()
        models = load_methods(
            args.models, bicubic=False, precision=args.precision, self_ensemble=args.self_ensemble
        )
        tables = tables_by_scale(models, scale)
        check_one_scale(args, tables)
        for methods in tables:
            images = args.save_images
            if images and len(tables) > 1:  # bicubic at each scale: DIR/x2/..., DIR/x4/...
                images = Path(images) / f"x{methods[0].scale}"
            result = evaluate(
                methods,
                datasets,
                rgb=args.rgb,
                tile=args.tile,
                save_images=images,
                figure_image=args.figure_image,
                keep_figure=bool(args.figure),
                progress=args.progress,
                perceptual=perceptual,
                degradation=args.degradation,
                seed=args.seed,
            )
            if results:
                print()
            results.append(result)
            print_benchmark(args, result, perceptual)

    report = chosen = checkpoints = None
    if runs is not None:
        report = report_rows(runs)
        columns = []
        if args.report_checkpoints:
            cli.import_keras_quietly()
            checkpoints = score_checkpoints(
                runs, report, datasets, tile=args.tile, progress=args.progress,
                perceptual=perceptual, precision=args.precision,
            )  # fmt: skip
            columns = [dataset.name for dataset in datasets]
        if results:
            print()
        print(f"Training runs: {REPORT_NOTE}.")
        if columns:
            where = f" at x{checkpoints.scale}" if checkpoints is not None else ""
            print(
                f"Benchmark columns: checkpoints still on disk, scored{where} on "
                f"{', '.join(columns)}."
            )
        if args.rank_by:
            print(describe_ranking(args.rank_by, columns[0] if columns else None))
        print()
        print(report_table(report, columns, rank_by=args.rank_by))
        if args.report_checkpoints and perceptual is not None:
            print()
            at = checkpoints.scale if checkpoints is not None else DEFAULT_SCALE
            chosen = report_choice(report, datasets, results, at)

    written = []
    if args.figure and results:
        (result,) = results  # check_one_scale: one scale
        written.append(
            save_figure(comparison_figure(result.figure, crop=args.figure_crop), args.figure)
        )
    if args.pd_plot:
        scored = combine(*results, *([checkpoints] if checkpoints is not None else []))
        written.append(save_figure(perception_distortion_figure(scored), args.pd_plot))
    if args.csv:
        if results:
            summary = [row for result in results for row in result.summary()]
            written.append(write_csv(args.csv, summary))
            per_image = sibling(args.csv, "per_image")
            written.append(write_csv(per_image, [row for r in results for row in r.per_image]))
        if report is not None:
            path = sibling(args.csv, "report") if results else args.csv
            written.append(write_csv(path, report))
    if args.json:
        written.append(write_json(args.json, json_document(results, report, chosen=chosen)))
    if args.save_images and results:
        written.append(Path(args.save_images))
    if written:
        print()
        for path in written:
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    cli.exit_with(cli.run(main, needs_keras=False, one_op_at_a_time=True))
