"""Train SRGAN or SRResNet: ``python train.py --dataset DF2K --upsample pixelshuffle``.

A thin CLI: it parses flags into a ``training.config.Config`` (a preset, then the flags given)
and calls ``training.loop.train``. Run ``python train.py --help`` for every option.
"""

import argparse
import sys
from pathlib import Path

from data.degradations import DEGRADATIONS
from models.options import ADVERSARIAL_LOSSES
from models.precision import PRECISIONS
from runtime import cli, rundir
from runtime.errors import UserError
from training.config import (
    CONTENT_LOSSES,
    PAIR_MODES,
    PIXEL_LOSSES,
    PRESETS,
    STAGES,
    read_config,
    resolve_config,
    validate,
)
from training.schedules import SCHEDULES


def none_or(kind):
    """Parse ``none`` as None (to clear a preset's value), anything else as ``kind``."""

    def parse(text):
        return None if text.lower() == "none" else kind(text)

    return parse


def build_parser(*, defaults=True):
    """train.py's flags. ``defaults=False`` gives every flag the default ``argparse.SUPPRESS``,
    so that ``parse_args`` returns only the flags given (see ``given_flags``)."""
    parser = argparse.ArgumentParser(
        description="Train SRGAN (Ledig et al. 2017) for 4x super-resolution.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )

    def arg(*names, **options):
        if not defaults:
            options["default"] = argparse.SUPPRESS
        return parser.add_argument(*names, **options)

    arg(
        "--preset",
        default="report",
        choices=sorted(PRESETS),
        help="report: whole images at 224/56, batch 10; paper: 96x96 crops, batch 16; "
        "cpu-budget: the paper's networks and crops, cosine schedule for ~5,000 steps; "
        "real-world: the paper's networks on real-world degraded LR (--degradation real), a "
        "PSNR stage then a GAN stage from --init-generator",
    )
    arg(
        "--stage",
        choices=STAGES,
        help="pretrain: SRResNet with MSE; gan: SRGAN "
        "(default: the preset's: gan for report, pretrain for paper)",
    )
    arg("--dataset", help="DIV2K, Flickr2K, DF2K, sample (embedded, no download) or a folder")
    arg("--data-dir", help="where datasets are downloaded and cached (env SRGAN_DATA_DIR)")
    arg("--download", action="store_true", help="download the dataset first if it is missing")
    arg("--upsample", choices=("pixelshuffle", "upsampling"))
    arg("--upsample-activation", choices=("prelu", "leaky_relu"))
    arg("--blocks", type=int, help="residual blocks in the generator (paper: 16)")
    arg("--pairs", choices=PAIR_MODES, help="resize whole images, or take random crops")
    arg("--hr-size", type=int, help="HR size (crop side or resize target); LR is a quarter")
    arg(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="random flips and 90-degree rotations",
    )
    arg("--batch-size", type=int)
    arg("--epochs", type=int)
    arg("--steps-per-epoch", type=none_or(int), help="default: one pass over the images")
    arg("--learning-rate", type=float)
    arg("--beta-1", type=float)
    arg(
        "--schedule",
        choices=SCHEDULES,
        help="learning rate: constant, step (x0.1 from --lr-decay-step) or cosine (to "
        "--min-learning-rate at the last step) (default: the preset's)",
    )
    arg("--lr-decay-step", type=none_or(int), help="learning rate x0.1 from this step on")
    arg("--warmup-steps", type=int, help="cosine: linear warm-up steps")
    arg("--min-learning-rate", type=float, help="cosine: the rate at the run's last step")
    arg(
        "--degradation",
        choices=DEGRADATIONS,
        help="how LR is made from HR: bicubic (the paper's clean MATLAB downscale) or real "
        "(blur, resizes, noise and JPEG, twice: Real-ESRGAN's model, for real photos)",
    )
    arg(
        "--content-loss",
        choices=CONTENT_LOSSES,
        help="gan stage: VGG19 features compared (vgg54: the paper's, after block5_conv4's ReLU; "
        "vgg54-prerelu: before it, as ESRGAN) or mse (pixels)",
    )
    arg("--pixel-loss", choices=PIXEL_LOSSES, help="pretrain stage: mse (the paper's) or l1")
    arg(
        "--ema",
        type=none_or(float),
        metavar="DECAY",
        help="validate and save the generator's exponential moving average, e.g. 0.999 "
        "(the raw weights are kept for --resume); none: off",
    )
    arg(
        "--adversarial",
        choices=ADVERSARIAL_LOSSES,
        help="gan stage: bce (the paper's) or ragan (ESRGAN's relativistic average GAN: D says "
        "whether an image looks more real than the other kind on average)",
    )
    arg("--adversarial-weight", type=float)
    arg(
        "--consistency-weight",
        type=float,
        help="gan stage: add this weight times the MSE of G(LR) and HR average-pooled 4x4, "
        "which keeps colour and brightness where the LR puts them (default 0: the paper's loss)",
    )
    arg(
        "--pixel-weight",
        type=float,
        help="gan stage: add this weight times the L1 of G(LR) and HR (ESRGAN: 1e-2; default 0)",
    )
    arg(
        "--grid-weight",
        type=float,
        help="gan stage: add this weight times the MSE of the 4x4 sub-pixel phase means of "
        "G(LR) and HR per 16-pixel tile, a penalty on the pixel-shuffle grid (default 0)",
    )
    arg("--label-noise", type=float, help="real labels drawn from [1 - noise, 1]")
    arg("--init-generator", help="generator .keras file or run directory to start from")
    arg("--vgg-weights", help="path of vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5")
    arg("--seed", type=int)
    arg(
        "--precision",
        choices=PRECISIONS,
        help="float32, or mixed bfloat16/float16 (float32 weights); auto: bfloat16 on a GPU or "
        "a CPU with native bf16 (AVX512_BF16, AMX), else float32 (default: auto)",
    )
    arg("--checkpoint-every", type=int, help="epochs between checkpoints")
    arg("--keep-checkpoints", type=int)
    arg("--validation-images", type=none_or(int))
    arg("--validation-crop", type=none_or(int))
    arg("--run-dir", help="default: runs/<time>_<stage>_<upsample>_b<blocks>_<dataset>_<preset>")
    arg(
        "--resume",
        nargs="?",
        const=True,
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR (or --run-dir) from its latest checkpoint",
    )
    arg("--summary", action="store_true", help="print the Keras summaries and exit")
    arg("--no-progress", action="store_true", help="no progress bar (for logs)")
    return parser


NOT_CONFIG = {"preset", "stage", "download", "resume", "summary", "no_progress"}


def config_from_args(args, argv, *, check_paths=True):
    overrides = {
        key: value
        for key, value in vars(args).items()
        if key not in NOT_CONFIG and value is not None
    }
    # Flags whose value may be "none" are overrides even when they parse to None.
    given = given_flags(argv)
    for flag in ("steps_per_epoch", "lr_decay_step", "validation_images", "validation_crop", "ema"):
        if "--" + flag.replace("_", "-") in given:
            overrides[flag] = getattr(args, flag)
    return resolve_config(args.preset, args.stage, overrides, check_paths=check_paths)


# What --resume takes beside it: where the run is, how long it goes on, and where this
# machine keeps the data and the VGG19 file. Everything else is the run's config.json.
RESUME_FLAGS = {"--resume", "--run-dir", "--epochs", "--no-progress", "--data-dir", "--vgg-weights"}


def given_flags(argv):
    """The flags in ``argv`` by their full names, as argparse matched them: argparse takes any
    unambiguous prefix of a flag (``--steps-per none`` is ``--steps-per-epoch none``), which a
    scan of ``argv`` for the full names would miss."""
    given = build_parser(defaults=False).parse_args(argv)
    return {"--" + dest.replace("_", "-") for dest in vars(given)}


def resumed_config(args, argv=()):
    run_dir = Path(args.resume if isinstance(args.resume, str) else args.run_dir or "")
    if not str(run_dir) or str(run_dir) == ".":
        raise UserError("--resume needs a run directory: --resume RUN_DIR")
    refused = sorted({flag for flag in given_flags(argv) if flag not in RESUME_FLAGS})
    if refused:
        raise UserError(
            f"--resume continues the run as its {rundir.CONFIG} says; {', '.join(refused)} cannot "
            "change it (only --epochs, --data-dir and --vgg-weights can): start a new run with "
            "--init-generator to train on from it differently"
        )
    config_file = run_dir / rundir.CONFIG
    if not config_file.is_file():
        raise UserError(f"nothing to resume: {config_file} does not exist")
    config = read_config(config_file)
    for flag in ("epochs", "data_dir", "vgg_weights"):
        if getattr(args, flag) is not None:
            setattr(config, flag, getattr(args, flag))
    validate(config, check_paths=False)  # --epochs -1 is refused as for a new run
    return config, run_dir


def print_summaries(config):
    from training.networks import build_networks

    networks = build_networks(config)
    for model in (networks.generator, networks.discriminator, networks.gan):
        if model is not None:
            model.summary(expand_nested=False)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    if args.resume:
        config, run_dir = resumed_config(args, argv)
    else:
        config = config_from_args(args, argv)
        run_dir = None
    if args.summary:
        print_summaries(config)
        return 0
    if args.download:
        from data.download import fetch

        fetch(config.dataset, config.data_dir)
    from training.loop import Interrupted, train

    try:
        result = train(
            config, run_dir=run_dir, resume=bool(args.resume), progress=not args.no_progress
        )
    except Interrupted as stopped:
        print(f"stopped; resume with: python train.py --resume {stopped.checkpoint.parent.parent}")
        return 130
    if result.validation:
        print(f"done: {result.step} steps; validation PSNR-Y {result.validation['psnr_y']:.2f} dB")
    else:  # its last checkpoint was saved by a stop, without validation
        print(f"done: {result.step} steps (the last checkpoint has no validation)")
    written = (rundir.HISTORY, rundir.LOSS_PLOT, f"{rundir.SAMPLES}/", rundir.VALIDATION)
    written += (f"{rundir.CHECKPOINTS}/", rundir.GENERATOR)
    print(f"results in {result.run_dir}: {', '.join(written)}")
    return 0


if __name__ == "__main__":
    cli.exit_with(cli.run(main))
