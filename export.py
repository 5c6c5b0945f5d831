"""Export a generator: ``python export.py WEIGHTS --format savedmodel tflite onnx -o DIR``.

A thin CLI over ``export.files``. Each file (a folder for SavedModel) is written atomically
beside a sidecar ``<file>.json`` that says how to call it; ``--quantize float16 int8`` adds
TFLite variants. With Set5 under ``--data-dir`` (or ``--psnr-dataset``), every sidecar gets
its PSNR-Y there beside Keras's; the scale (x2, x4, x8) is the generator file's own. A weights
file that is not a loadable generator is one ``error:`` line and exit code 2.
"""

import argparse
import sys

from runtime import cli
from runtime.names import name_part

DEFAULT_PSNR_DATASET = "Set5"


def build_parser():
    from export.convert import FORMATS, QUANTIZATIONS
    from export.serving import INPUT_DTYPES

    parser = argparse.ArgumentParser(
        description="Export a trained generator to SavedModel, TFLite (LiteRT) and/or ONNX."
    )
    arg = parser.add_argument
    arg(
        "weights",
        metavar="WEIGHTS",
        help="a generator .keras file, a training run folder, or srgan/srresnet (shipped)",
    )
    arg("-o", "--output", required=True, metavar="DIR", help="folder for the exported files")
    arg(
        "--format",
        nargs="+",
        choices=FORMATS,
        default=list(FORMATS),
        help="formats to write (default: all)",
    )
    arg(
        "--quantize",
        nargs="+",
        choices=QUANTIZATIONS,
        default=[],
        help="TFLite variants besides float32: float16 weights, int8 dynamic range",
    )
    arg(
        "--input-dtype",
        choices=INPUT_DTYPES,
        default="uint8",
        help="what the graph takes: uint8 RGB 0-255, or float32 RGB in [0, 1] "
        "(default: %(default)s); it always returns float32 levels in [0, 255]",
    )
    arg(
        "--input-size",
        metavar="HxW",
        help="fix the input height and width (default: dynamic in every format)",
    )
    arg("--name", help="stem of the files (default: the weights' name)")
    arg("--overwrite", action="store_true", help="replace exports that already exist")
    arg(
        "--psnr-dataset",
        metavar="NAME_OR_DIR",
        help=f"score every export there against Keras (default: {DEFAULT_PSNR_DATASET} when it "
        "is under --data-dir)",
    )
    arg("--data-dir", help="where datasets are (default: datasets/ or $SRGAN_DATA_DIR)")
    arg("--no-psnr", action="store_true", help="score on no dataset")
    return parser


def main(argv=None):
    from export.files import export_generator, parse_size
    from inference.weights import resolve_weights

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quantize and "tflite" not in args.format:
        parser.error("--quantize makes TFLite variants: add tflite to --format")
    size = None
    if args.input_size:
        try:
            size = parse_size(args.input_size)
        except ValueError as error:
            parser.error(f"--input-size: {error}")
        if args.psnr_dataset:
            parser.error("--psnr-dataset needs dynamic sizes: drop --input-size")

    if args.name is not None:
        name_part(args.name, "--name")
        if not args.name:
            parser.error("--name must not be empty")
    weights = resolve_weights(args.weights)
    export_generator(
        weights,
        args.output,
        formats=args.format,
        quantize=args.quantize,
        input_dtype=args.input_dtype,
        input_size=size,
        name=args.name,
        overwrite=args.overwrite,
        psnr_dataset=None if args.no_psnr else args.psnr_dataset or DEFAULT_PSNR_DATASET,
        psnr_required=args.psnr_dataset is not None,
        data_dir=args.data_dir,
        say=lambda line: print(line, file=sys.stderr),
    )
    return 0


if __name__ == "__main__":
    cli.exit_with(cli.run(main))
