"""train.py's flags, and how a command line becomes a ``Config``: a preset, then the flags given.

A library rather than part of train.py so that the launcher (``training.launch``) reads a
command line exactly as train.py does (abbreviated flags, ``none``) without importing a tool.
train.py itself only adds ``--resume``'s rule and runs the training.
"""

import argparse

from data import conventions
from data.degradations import DEGRADATIONS
from models.options import ADVERSARIAL_LOSSES
from models.precision import PRECISIONS
from training.config import (
    CONTENT_LOSSES,
    PAIR_MODES,
    PIXEL_LOSSES,
    PRESETS,
    STAGES,
    resolve_config,
)
from training.schedules import SCHEDULES


def none_or(kind):
    """Parse ``none`` as None (to clear a preset's value), anything else as ``kind``."""

    def parse(text):
        return None if text.lower() == "none" else kind(text)

    return parse


class PresetDefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, except None: such a flag takes the preset's value (its help
    says which), and "(default: None)" after "(default 0)" would contradict it."""

    def _get_help_string(self, action):
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def build_parser(*, defaults=True):
    """train.py's flags. ``defaults=False`` gives every flag the default ``argparse.SUPPRESS``,
    so that ``parse_args`` returns only the flags given (see ``given_flags``)."""
    parser = argparse.ArgumentParser(
        description="Train SRGAN (Ledig et al. 2017) for 2x, 4x or 8x super-resolution.",
        formatter_class=PresetDefaultsFormatter,
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
    arg(
        "--scale",
        type=int,
        choices=conventions.SCALES,
        help="upscaling factor, one x2 upsampling stage per factor of two (the paper's is 4); "
        "--hr-size must be a multiple of it (default: 4)",
    )
    arg("--pairs", choices=PAIR_MODES, help="resize whole images, or take random crops")
    arg("--hr-size", type=int, help="HR size (crop side or resize target); LR is it / --scale")
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
        help="gan stage: add this weight times the MSE of G(LR) and HR average-pooled over "
        "--scale x --scale pixels, which keeps colour and brightness where the LR puts them "
        "(default 0: the paper's loss)",
    )
    arg(
        "--pixel-weight",
        type=float,
        help="gan stage: add this weight times the L1 of G(LR) and HR (ESRGAN: 1e-2; default 0)",
    )
    arg(
        "--grid-weight",
        type=float,
        help="gan stage: add this weight times the MSE of the sub-pixel phase means (period "
        "--scale) of G(LR) and HR per tile of 4 x --scale pixels, a penalty on the "
        "pixel-shuffle grid (default 0)",
    )
    arg(
        "--coherent-grid-weight",
        type=float,
        help="gan stage: the same with one tile for the whole HR crop, a penalty on the part "
        "of the grid that keeps its phase across the crop, which texture unlike HR's does not "
        "press on (default 0)",
    )
    arg("--label-noise", type=float, help="real labels drawn from [1 - noise, 1]")
    arg("--init-generator", help="generator .keras file or run directory to start from")
    arg(
        "--init-discriminator",
        help="gan stage: the discriminator's weights from a GAN run's checkpoint (or its run: "
        "the newest), to branch a run with another loss without a fresh D (default: D from "
        "scratch)",
    )
    arg(
        "--init-across-scales",
        action=argparse.BooleanOptionalAction,
        help="let --init-generator be of another scale: the layers both generators have "
        "(head, body, the first upsampling stages, output conv) take its weights by name, the "
        "others keep their initialisation, as EDSR starts x3 and x4 from its x2 model",
    )
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
    arg(
        "--run-dir",
        help="default: runs/<time>_<stage>_x<scale>_<upsample>_b<blocks>_<dataset>_<preset>",
    )
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


def given_flags(argv):
    """The flags in ``argv`` by their full names, as argparse matched them: argparse takes any
    unambiguous prefix of a flag (``--steps-per none`` is ``--steps-per-epoch none``), which a
    scan of ``argv`` for the full names would miss."""
    given = build_parser(defaults=False).parse_args(argv)
    return {"--" + dest.replace("_", "-") for dest in vars(given)}
