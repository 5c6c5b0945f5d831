"""Upscale images: ``python upscale.py photo.jpg holidays/ -o out/``.

A thin CLI over the ``inference`` package. The scale is the chosen generator's own (its file
says it: ``models.description``), x4 for the shipped ones. It takes files and folders, names
outputs predictably (``<stem>_x4.png``, by the scale), never overwrites an input and never an
existing output unless asked, and keeps going past a bad file: each one gets one ``error:``
line, and the exit code says at the end whether any failed (1) or nothing could start (2).
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

from data.images import output_suffix
from inference.tiling import DEFAULT_TILE_PAD, output_name_suffix, upscale
from inference.weights import load_generator, resolve_weights
from models.precision import PRECISIONS
from runtime import cli, stop
from runtime.errors import UserError
from runtime.names import name_part

FORMATS = ("png", "jpg", "webp", "tif", "bmp")


def build_parser():
    parser = argparse.ArgumentParser(
        description="Super-resolve images with a trained SRGAN or SRResNet generator, by the "
        "scale of the chosen generator (x4 for the shipped ones)."
    )
    arg = parser.add_argument
    arg("inputs", nargs="+", metavar="INPUT", help="image files and/or folders of images")
    arg(
        "-o",
        "--output",
        required=True,
        help="the output file when there is exactly one input file; otherwise a folder",
    )
    arg(
        "--weights",
        help="a generator .keras file, a training run folder, or the name of a file in "
        "weights/. srgan (the default): sharp invented texture, for clean photos; srresnet: "
        "the most faithful, smooth where detail is missing; real: for blurred, noisy or "
        "JPEG-compressed photos (phone pictures, images from the web), once it ships. "
        "Without it: srgan, or srresnet while srgan does not ship",
    )
    arg(
        "--tile",
        type=int,
        help="largest tile side in LR pixels; 0 never tiles (default: chosen from the image size)",
    )
    arg(
        "--tile-pad",
        type=int,
        default=DEFAULT_TILE_PAD,
        help="LR pixels of real context around each tile (default: %(default)s, the "
        "generator's whole receptive field, so tiles leave no seams)",
    )
    arg(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="what the generator computes in (default: %(default)s: bfloat16 on a GPU or a "
        "CPU with native bf16 (AVX512_BF16, AMX), 1.8x as fast there, else float32); "
        "bfloat16/float16: mixed precision, the output conv float32 (same weights; the shipped "
        "SRResNet's Set5 PSNR-Y within 0.002 dB of float32); float32: exact, the same on "
        "every machine (evaluate.py's tables use it)",
    )
    arg(
        "--self-ensemble",
        action="store_true",
        help="average the answers to the 8 flips and rotations of each image (x8 "
        "self-ensemble: higher PSNR but softer, SRGAN's texture most; 8 times slower)",
    )
    arg("--recursive", action="store_true", help="also take images in sub-folders of a folder")
    arg(
        "--suffix",
        help="added to each input's name (default: _x and the generator's scale, _x4 for the "
        "shipped ones)",
    )
    arg(
        "--format",
        choices=FORMATS,
        help="output format (default: the input's when it can hold the image losslessly "
        "and its mode, else png; JPEG input gives png to avoid a second lossy step)",
    )
    arg("--overwrite", action="store_true", help="replace outputs that already exist")
    arg("--no-progress", dest="progress", action="store_false", help="no progress bars")
    return parser


def collect_inputs(inputs, recursive):
    """(source file, sub-folder its output goes to) for each input, each file once.

    A folder's images keep their relative sub-folder, so ``--recursive`` never sends two
    ``a.png`` from different folders to the same output name. Missing paths stay in the list:
    decoding them gives their one-line error in turn, with the other inputs still processed.
    """
    from data.images import list_images

    jobs, seen, errors = [], set(), []
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            found = list_images(path, recursive=recursive)
            if not found:
                errors.append(f"{path}: no images in this folder")
            entries = [(image, image.parent.relative_to(path)) for image in found]
        else:
            entries = [(path, Path())]
        for source, subfolder in entries:
            key = os.path.realpath(source)
            if key not in seen:
                seen.add(key)
                jobs.append((source, subfolder))
    return jobs, errors


def prepare_folder(folder):
    """Create ``folder`` and prove it takes files, so an unusable output stops the run at once."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(
            f"{folder}: exists and is not a folder; cannot write outputs there"
        ) from None
    except OSError as error:
        raise UserError(f"{folder}: cannot create the output folder ({_reason(error)})") from None
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UserError(f"{folder}: cannot write to the output folder ({_reason(error)})") from None


def _reason(error):
    return getattr(error, "strerror", None) or str(error)


class Upscaler:
    """One run over many inputs: counts what was written, skipped or failed."""

    def __init__(self, args, generator, input_files):
        self.args = args
        self.generator = generator
        self.input_files = input_files  # real paths, never to be overwritten
        self.claimed = {}  # output real path -> the input it comes from
        self.written = self.skipped = self.failed = 0

    def say(self, line):
        from tqdm import tqdm

        tqdm.write(line, file=sys.stderr)

    def fail(self, message):
        self.say(f"error: {message}")
        self.failed += 1

    def run(self, source, destination_of):
        """Upscale ``source`` into the file ``destination_of(pixels)`` names."""
        from data.images import decode_image, write_image

        pixels = decode_image(source)
        destination = destination_of(pixels)
        key = os.path.realpath(destination)
        if key in self.input_files:
            self.fail(f"{source}: its output {destination} is an input; skipped")
            return
        if key in self.claimed:
            self.fail(f"{source}: its output {destination} is also {self.claimed[key]}'s; skipped")
            return
        self.claimed[key] = source
        if destination.exists() and not self.args.overwrite:
            self.say(f"skipped: {destination} exists (pass --overwrite to replace it)")
            self.skipped += 1
            return
        destination.parent.mkdir(parents=True, exist_ok=True)
        result = upscale(
            pixels,
            self.generator,
            tile=self.args.tile,
            tile_pad=self.args.tile_pad,
            progress=self.args.progress,
            self_ensemble=self.args.self_ensemble,
        )
        write_image(destination, result)
        self.written += 1


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.tile is not None and args.tile < 0:
        parser.error("--tile must be 0 (never tile) or a positive size")
    if args.tile_pad < 0:
        parser.error("--tile-pad must be at least 0")
    if args.suffix is not None:
        name_part(args.suffix, "--suffix")

    from data.images import IMAGE_SUFFIXES

    weights = resolve_weights(args.weights)
    output = Path(args.output)
    jobs, errors = collect_inputs(args.inputs, args.recursive)
    single = (
        len(args.inputs) == 1
        and not Path(args.inputs[0]).is_dir()
        and not output.is_dir()
        and output.suffix != ""
    )
    if single and output.suffix.lower() not in IMAGE_SUFFIXES:
        raise UserError(
            f"{output}: cannot write {output.suffix}; use one of {', '.join(IMAGE_SUFFIXES)}"
        )
    prepare_folder(output.parent if single else output)
    generator = load_generator(weights, args.precision)
    name_suffix = output_name_suffix(generator) if args.suffix is None else args.suffix
    if args.precision == "auto":
        from models.precision import choose_precision

        chosen = choose_precision("auto")
        exact = "" if chosen == "float32" else "; --precision float32 for exact float32"
        print(f"precision: {chosen} (auto{exact})", file=sys.stderr)

    from tqdm import tqdm

    input_files = {os.path.realpath(source) for source, _ in jobs}
    upscaler = Upscaler(args, generator, input_files)
    for message in errors:
        upscaler.fail(message)

    def destination_in(subfolder, source):
        def name(pixels):
            extension = output_suffix(source, pixels, args.format)
            return output / subfolder / f"{source.stem}{name_suffix}{extension}"

        return name

    bar = tqdm(jobs, unit="image", disable=True if not args.progress else None)
    for source, subfolder in bar:
        stop.check()  # Ctrl-C or SIGTERM: stop between images; every output is whole
        destination_of = (lambda pixels: output) if single else destination_in(subfolder, source)
        try:
            upscaler.run(source, destination_of)
        except UserError as error:  # data.images.ImageError names the file itself
            upscaler.fail(str(error))
        except OSError as error:
            upscaler.fail(f"{source}: {_reason(error)}")
        except MemoryError:
            upscaler.fail(f"{source}: out of memory; try a smaller --tile")
    bar.close()

    where = output if single else f"{output}{os.sep}"
    summary = f"{upscaler.written} written to {where}"
    if upscaler.skipped:
        summary += f", {upscaler.skipped} skipped"
    if upscaler.failed:
        summary += f", {upscaler.failed} failed"
    print(summary, file=sys.stderr)
    return 1 if upscaler.failed else 0


if __name__ == "__main__":
    cli.exit_with(cli.run(main, one_op_at_a_time=True))
