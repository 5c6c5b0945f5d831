"""Seconds per training step, raw and through train.py's loop (issue: within 5%).

Prints, for the full-size models (16 blocks, batch 16, HR 96, VGG54):
  1. the raw pretraining step: generator.train_on_batch in a plain loop;
  2. the raw GAN step: training.loop.gan_step (G forward, D on real and fake, VGG on HR, the
     combined model) in a plain loop on one fixed batch;
  3. train.py end to end (training.loop.train on the embedded sample photos) over 50 steps of
     each stage, from the per-step timestamps in history.csv, tracing steps excluded.

With ``--profile``: the GAN step taken apart, each part timed alone the way gan_step calls it
(G's forward pass, D's step on real and fake, VGG on HR, the combined model's step, the
targets, the data loader's batch), beside the whole GAN step and the pretraining step, in the
``auto`` precision; it prints milliseconds per part and the GAN/pretraining ratio.

With ``--precision``: the raw steps of both stages in float32 and in the ``auto`` choice (or
the precisions given), built side by side in one process and timed in alternating rounds, so
a change in the machine's load counts against both; it prints each round and the ratios.

    python benchmarks/train_benchmark.py [--steps 50] [--vgg-weights PATH]
    python benchmarks/train_benchmark.py --precision [float32 auto] [--rounds 3]
    python benchmarks/train_benchmark.py --profile [--raw-steps 10] [--consistency-weight 10]
"""

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.machine import describe_cpu
from models.precision import choose_precision
from training.config import resolve_config
from training.loop import gan_step, pretrain_step, real_labels, train
from training.networks import build_networks

WARMUP = 3


def raw_seconds_per_step(step, steps):
    for _ in range(WARMUP):
        step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - started) / steps


def end_to_end_seconds_per_step(history_csv):
    with open(history_csv, newline="") as handle:
        seconds = [float(row["seconds"]) for row in csv.DictReader(handle)]
    # seconds[i] is when step i finished; skip the warm-up steps that include tracing.
    return (seconds[-1] - seconds[WARMUP - 1]) / (len(seconds) - WARMUP)


def compare_precisions(args, lr, hr):
    """Raw steps per precision, alternating rounds in one process; prints the ratios."""
    precisions = [choose_precision(p) if p == "auto" else p for p in args.precision]
    print(f"{describe_cpu()}; auto = {choose_precision('auto')}", flush=True)
    for stage in args.stages:
        config = resolve_config(
            "paper", stage, {"dataset": "sample", "vgg_weights": args.vgg_weights}
        )
        steps = {}
        for precision in dict.fromkeys(precisions):
            config.precision = precision
            networks = build_networks(config)
            labels = real_labels(config, 0, len(lr))
            if stage == "pretrain":
                steps[precision] = lambda n=networks: pretrain_step(n, lr, hr)
            else:
                steps[precision] = lambda n=networks, y=labels: gan_step(n, lr, hr, y)
            for _ in range(WARMUP):  # tracing, outside the timed rounds
                steps[precision]()
        count = args.raw_steps if stage == "pretrain" else max(3, args.raw_steps // 3)
        times = {precision: [] for precision in steps}
        for round_index in range(args.rounds):
            for precision, step in steps.items():
                started = time.perf_counter()
                for _ in range(count):
                    step()
                times[precision].append((time.perf_counter() - started) / count)
            line = ", ".join(f"{p} {t[-1]:.3f} s" for p, t in times.items())
            print(f"{stage:8s} round {round_index + 1}: {line} per step", flush=True)
        base = precisions[0]
        for precision in list(steps)[1:]:
            ratios = [t / b for t, b in zip(times[precision], times[base], strict=True)]
            print(
                f"{stage:8s} {precision} / {base}: {min(times[precision]):.3f} / "
                f"{min(times[base]):.3f} s best = {min(times[precision]) / min(times[base]):.2f}; "
                f"per round {', '.join(f'{r:.2f}' for r in ratios)}",
                flush=True,
            )


def timed(part, repeats):
    """Median seconds of ``part()`` over ``repeats`` calls after the warm-up."""
    for _ in range(WARMUP):
        part()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        part()
        seconds.append(time.perf_counter() - started)
    return float(np.median(seconds))


def profile_gan_step(args, lr, hr):
    """Each part of training.loop.gan_step timed alone, in the order the step runs them."""
    from data.catalog import data_dir
    from data.pairs import PairSource
    from data.resolve import resolve_training_set
    from models.gan import discriminator_trainable, gan_inputs, gan_targets

    overrides = {"vgg_weights": args.vgg_weights, "consistency_weight": args.consistency_weight}
    config = resolve_config("paper", "gan", overrides)
    print(f"{describe_cpu()}; precision {choose_precision(config.precision)}", flush=True)
    n = args.raw_steps
    pretraining = build_networks(resolve_config("paper", "pretrain"))
    first = "pretraining step (G alone, for the ratio)"
    parts = {first: timed(lambda: pretrain_step(pretraining, lr, hr), n)}
    del pretraining
    networks = build_networks(config)
    generator, discriminator = networks.generator, networks.discriminator
    real = real_labels(config, 0, len(hr))
    gan_step(networks, lr, hr, real)  # traces every function once
    sr = generator.predict_on_batch(lr)
    images = np.concatenate([hr, np.asarray(sr, hr.dtype)])
    labels = np.concatenate([real, np.zeros_like(real)])
    content = networks.feature_extractor.predict_on_batch(hr)
    targets = gan_targets(networks.gan, hr, content)

    def d_step():
        with discriminator_trainable(discriminator, True):
            discriminator.train_on_batch(images, labels)

    def g_step():
        with discriminator_trainable(discriminator, False):
            networks.gan.train_on_batch(gan_inputs(networks.gan, lr, hr), targets)

    parts["G forward (SR for D's step)"] = timed(lambda: generator.predict_on_batch(lr), n)
    parts["D step (real + fake, 32 images)"] = timed(d_step, n)
    parts["VGG on HR (content target)"] = timed(
        lambda: networks.feature_extractor.predict_on_batch(hr), n
    )
    parts["targets (numpy)"] = timed(lambda: gan_targets(networks.gan, hr, content), n)
    parts["combined step (G + VGG on SR + D frozen)"] = timed(g_step, n)
    dataset = resolve_training_set("sample", data_dir(os.environ.get("SRGAN_DATA_DIR")))
    with tempfile.TemporaryDirectory() as cache:
        source = PairSource(
            dataset.train, mode="crop", hr_size=96, cache_dir=cache, augment=True, progress=False
        )
        parts["data: one batch (loader thread, overlapped)"] = timed(
            lambda: source.batch(0, 0, 0, len(hr)), n
        )
    whole = timed(lambda: gan_step(networks, lr, hr, real), n)
    pretraining = parts[first]
    for name, seconds in parts.items():
        print(f"{name:45s} {seconds * 1000:8.1f} ms")
    inside = sum(v for k, v in parts.items() if not k.startswith(("pretraining", "data")))
    print(f"{'sum of the parts gan_step runs':45s} {inside * 1000:8.1f} ms")
    print(f"{'whole GAN step (training.loop.gan_step)':45s} {whole * 1000:8.1f} ms")
    print(f"GAN step / pretraining step: {whole / pretraining:.2f}x (target: at most 3.5x)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--raw-steps", type=int, default=20)
    parser.add_argument("--vgg-weights")
    parser.add_argument(
        "--precision",
        nargs="*",
        metavar="P",
        help="compare raw steps in these precisions (none given: float32 auto)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stages", nargs="+", default=["pretrain", "gan"])
    parser.add_argument("--profile", action="store_true", help="the GAN step taken apart")
    parser.add_argument("--consistency-weight", type=float, default=10.0, help="with --profile")
    args = parser.parse_args()
    batch = 16
    rng = np.random.default_rng(0)
    lr = rng.uniform(size=(batch, 24, 24, 3)).astype("float32")
    hr = rng.uniform(-1, 1, size=(batch, 96, 96, 3)).astype("float32")
    if args.profile:
        profile_gan_step(args, lr, hr)
        return
    if args.precision is not None:
        args.precision = args.precision or ["float32", "auto"]
        compare_precisions(args, lr, hr)
        return
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for stage in ("pretrain", "gan"):
            overrides = {
                "dataset": "sample",
                "vgg_weights": args.vgg_weights,
                "epochs": 1,
                "steps_per_epoch": args.steps,
                "validation_images": 1,
                "data_dir": os.environ.get("SRGAN_DATA_DIR"),
            }
            config = resolve_config("paper", stage, overrides)
            networks = build_networks(config)
            if stage == "pretrain":
                raw = raw_seconds_per_step(
                    lambda n=networks: pretrain_step(n, lr, hr), args.raw_steps
                )
            else:
                labels = real_labels(config, 0, batch)
                raw = raw_seconds_per_step(
                    lambda n=networks, y=labels: gan_step(n, lr, hr, y), max(5, args.raw_steps // 2)
                )
            del networks
            started = time.perf_counter()
            result = train(config, run_dir=Path(scratch) / stage, progress=False)
            wall = time.perf_counter() - started
            loop = end_to_end_seconds_per_step(result.history_csv)
            results[stage] = (raw, loop, wall)
            print(
                f"{stage:8s} raw step {raw:.3f} s ({batch / raw:.1f} img/s) | train.py "
                f"{loop:.3f} s/step ({batch / loop:.1f} img/s), {loop / raw - 1:+.1%} vs raw | "
                f"{args.steps} steps end to end incl. set-up, tracing, checkpoint: {wall:.0f} s",
                flush=True,
            )
    worst = max(loop / raw - 1 for raw, loop, _ in results.values())
    print(f"largest train.py overhead over its raw step: {worst:+.1%} (target: within +5%)")


if __name__ == "__main__":
    main()
