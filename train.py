"""Train SRGAN or SRResNet: ``python train.py --dataset DF2K --upsample pixelshuffle``.

A thin CLI: it parses flags into a ``training.config.Config`` (a preset, then the flags given:
``training.arguments``, which the launcher reads command lines with too), adds ``--resume``'s
rule and calls ``training.loop.train``. Run ``python train.py --help`` for every option.
"""

import sys
from pathlib import Path

from runtime import cli, rundir
from runtime.errors import UserError
from training.arguments import build_parser, config_from_args, given_flags
from training.config import read_config, validate

# What --resume takes beside it: where the run is, how long it goes on, and where this
# machine keeps the data and the VGG19 file. Everything else is the run's config.json.
RESUME_FLAGS = {"--resume", "--run-dir", "--epochs", "--no-progress", "--data-dir", "--vgg-weights"}


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
