"""The two training stages, and the Trainer that runs one from its config to its checkpoints.

- ``pretrain``: SRResNet, the generator alone with a pixel MSE (the paper's first stage).
- ``gan``: alternating ``train_on_batch`` calls: the discriminator on one batch holding real
  HR (label 1, with optional noise) and G(LR) (label 0), then the combined model (content +
  1e-3 adversarial) with the discriminator frozen.

Keras 3 fixes a model's trainable variables when its train function is traced, so the
discriminator's flag is set before each call (``models.gan.discriminator_trainable``); the
tests compare weights before and after each kind of step to prove D learns in its own step and
stays frozen, BatchNorm statistics included, in the generator's.

Ctrl-C and SIGTERM are stop requests (``runtime.stop``), checked between steps: the current step
finishes, a checkpoint is written (without validation, so stopping takes seconds) unless one
was just written, and ``Interrupted`` names it.

The module stays whole at a little over 400 lines: it is one job, a run from config to
checkpoints. The ``Trainer``'s methods share one run's state (networks, optimisers, data, logs,
step) and the two stages differ only in the step function each calls; the parts that stand
alone already have their own modules (checkpoints, logs, validation, schedules, networks).
"""

import dataclasses
import math
import shutil
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from data.catalog import data_dir as resolve_data_dir
from data.degradations import degrader
from data.pairs import PairSource, Prefetcher, validation_pairs
from data.resolve import resolve_training_set
from evaluation.perceptual import require_lpips_weights
from models.gan import discriminator_trainable, gan_inputs, gan_targets
from models.precision import PRECISIONS, choose_precision, float32_copy
from runtime import atomic, rundir
from runtime.errors import UserError
from training import checkpoints, distribute, logs
from training.collapse import DiscriminatorWatch
from training.config import Config
from training.networks import (
    averaged_generator,
    build_networks,
    check_config,
    check_generator_scale,
    require_vgg_weights,
)
from training.schedules import learning_rate_at
from training.validation import validate


class TrainingDiverged(UserError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class Interrupted(Exception):
    """Training stopped by Ctrl-C or SIGTERM (``runtime.stop``) after saving a checkpoint."""

    def __init__(self, checkpoint):
        super().__init__(f"interrupted; checkpoint saved at {checkpoint}")
        self.checkpoint = checkpoint


def real_labels(config, step, batch_size):
    """Targets for real images: 1, or drawn from [1 - noise, 1] (the report's label noise).

    Seeded by (seed, step) so a resumed run draws the same labels.
    """
    labels = np.ones((batch_size, 1), np.float32)
    if config.label_noise:
        rng = np.random.default_rng([config.seed, step, 2])
        labels -= rng.uniform(0, config.label_noise, size=labels.shape).astype(np.float32)
    return labels


def pretrain_step(networks, lr, hr, name="g_mse"):
    """One SRResNet update; the loss is logged as ``name`` (g_mse, or g_l1 with --pixel-loss)."""
    logs_ = networks.generator.train_on_batch(lr, hr, return_dict=True)
    return {name: float(logs_["loss"])}


def gan_step(networks, lr, hr, real, predict=None):
    """One SRGAN update: D on one batch of real and fake images, then G through the combined
    model. ``predict(model, x)``: how G's and VGG's outputs are computed (default
    ``model.predict_on_batch(x)``; a distributed worker's own rows, ``training.distribute``).

    D sees the real and the generated images in the same batch (as Keras's own DCGAN example
    does), not in two calls. With two single-class batches, D's BatchNorm normalises each class
    by its own batch statistics in D's step, but by the moving statistics in G's step (a frozen
    BatchNorm runs in inference mode): D learned to tell the batches apart (losses ~1e-8 within
    300 steps, measured on the paper preset) while the D that G trained against still said ~0.5
    for fakes, so G's adversarial signal came from a network nobody was training. One mixed
    batch gives D batch statistics that its moving averages match, so both steps see one D.
    """
    generator, discriminator = networks.generator, networks.discriminator
    predict = predict or distribute.SINGLE.predict
    sr = predict(generator, lr)
    images = np.concatenate([hr, np.asarray(sr, hr.dtype)])
    labels = np.concatenate([real, np.zeros_like(real)])
    with discriminator_trainable(discriminator, True):
        d = discriminator.train_on_batch(images, labels, return_dict=True)
    if networks.feature_extractor is not None:
        content_target = predict(networks.feature_extractor, hr)
    else:
        content_target = hr
    gan = networks.gan
    targets = gan_targets(gan, hr, content_target)
    with discriminator_trainable(discriminator, False):
        result = gan.train_on_batch(gan_inputs(gan, lr, hr), targets, return_dict=True)
    losses = {
        "d_real": float(d["real_loss"]),
        "d_fake": float(d["fake_loss"]),
        "d_real_accuracy": float(d["real_accuracy"]),
        "d_fake_accuracy": float(d["fake_accuracy"]),
        "g_total": float(result["loss"]),
    }
    # g_content, g_adversarial, then the extra terms the run has (g_consistency, g_pixel,
    # g_grid): one column each in history.csv.
    losses.update({f"g_{name}": float(result[f"{name}_loss"]) for name in gan.output_names})
    return losses


@dataclasses.dataclass
class RunResult:
    run_dir: Path
    step: int
    validation: dict | None
    history_csv: Path


class Trainer:
    """One run: data, networks, the step loop, checkpoints, validation and logs."""

    def __init__(self, config, run_dir, *, resume=False, progress=True, on_step=None, worker=None):
        self.config = config
        # Several processes under tf.distribute, or this one alone (training/distribute.py).
        self.worker = worker or distribute.SINGLE
        self.worker.check_batch_size(config.batch_size)
        self.run_dir = Path(run_dir)
        self.progress_enabled = progress
        self.on_step = on_step
        self.step = 0
        self._rate = None  # the learning rate last assigned (none yet: a resume restores one)
        self.best_psnr = None
        self.restored_validation = None
        self.last_checkpoint = None
        # The cheap checks first, so a typo fails in a second and writes nothing.
        self.data_root = resolve_data_dir(config.data_dir)
        dataset = resolve_training_set(config.dataset, self.data_root)
        check_config(config)
        if config.stage == "gan" and config.content_loss != "mse":
            require_vgg_weights(config.vgg_weights)
        # The GAN stage's validation adds LPIPS (chosen by it later): no weights, no start.
        self.lpips_weights = None
        if config.stage == "gan":
            hint = "the GAN stage scores its validation with LPIPS"
            self.lpips_weights = str(require_lpips_weights(hint))
        if config.precision == "auto":
            config.precision = choose_precision("auto")  # written to config.json next
        config.precision = self.worker.from_chief(config.precision, PRECISIONS)
        self._prepare_run_dir(resume)
        self._log(f"run directory: {self.run_dir}")
        self._log(f"precision: {config.precision}")
        self._load_data(dataset)
        with self.worker.scope():  # mirrored variables, optimiser state included
            self.networks = build_networks(config)
            self.worker.prepare(self.networks)
            if resume:
                self._restore()

    # -- set-up ---------------------------------------------------------------------------
    def _prepare_run_dir(self, resume):
        config_file = self.run_dir / rundir.CONFIG
        # Only a complete checkpoint makes a run: a folder with nothing but a temporary one
        # is a run killed before its first save, and starts over.
        if not resume and rundir.latest_checkpoint(self.run_dir) is not None:
            raise UserError(
                f"{self.run_dir} already holds a run; pass --resume to continue it, "
                "or choose another --run-dir"
            )
        if not self.worker.is_chief:
            return  # only the chief writes the run directory
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise UserError(f"--run-dir {self.run_dir}: exists and is not a folder")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic.write_text(config_file, self.config.to_json())

    def _log(self, message):
        if not self.worker.is_chief:
            return
        with open(self.run_dir / rundir.LOG, "a") as handle:
            handle.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")

    def _load_data(self, dataset):
        config = self.config
        root = self.data_root
        # Crops are cut from whole-image pairs, one cache per scale; resized pairs are one per
        # HR size, their keys telling the scales apart (data.pairs).
        kind = config.hr_size if config.pairs == "resize" else f"x{config.scale}"
        cache = root / "cache" / f"{config.pairs}_{kind}"
        degrade = degrader(config.degradation, config.scale)
        self.source = PairSource(
            dataset.train,
            mode=config.pairs,
            hr_size=config.hr_size,
            scale=config.scale,
            cache_dir=cache,
            augment=config.augment,
            progress=self.progress_enabled,
            degrade=degrade,
        )
        self.validation, skipped_validation = validation_pairs(
            dataset.validation,
            mode=config.pairs,
            hr_size=config.hr_size,
            scale=config.scale,
            crop=config.validation_crop,
            limit=config.validation_images,
            degrade=degrade,
            seed=config.seed,
        )
        if not self.validation:
            # Every held-out image was unusable: monitor on training images rather than nothing.
            unusable = {item.path for item in self.source.skipped}
            self.validation, _ = validation_pairs(
                [path for path in dataset.train if path not in unusable],
                mode=config.pairs,
                hr_size=config.hr_size,
                scale=config.scale,
                crop=config.validation_crop,
                limit=config.validation_images or 1,
            )
            self._log("no usable validation image: validating on training images instead")
        skipped = self.source.skipped + skipped_validation
        for item in skipped:
            self._log(f"skipped {item.path}: {item.reason}")
        self.skipped_images = len(skipped)
        self._log(
            f"dataset {dataset.name}: {len(self.source)} training images, "
            f"{len(self.validation)} validation images, {len(skipped)} skipped"
        )
        if skipped:
            print(f"skipped {len(skipped)} unusable images (listed in {self.run_dir / rundir.LOG})")
        self.steps_per_epoch = config.steps_per_epoch or self.source.steps_per_epoch(
            config.batch_size
        )
        self.total_steps = config.epochs * self.steps_per_epoch

    def _say(self, message):
        """One line for the person at the terminal, and the same in run.log."""
        if self.worker.is_chief:
            print(message, flush=True)
        self._log(message)

    def _restore(self):
        def damaged(path, reason):
            self._say(f"checkpoint {path.name} is damaged ({reason}); trying the one before it")

        latest = checkpoints.intact_checkpoint(self.run_dir, on_damaged=damaged)
        if latest is None:
            # Killed (or out of disk) before its first checkpoint was complete: nothing was
            # kept, so the run starts again from its config, as the first command would.
            self._say(f"{self.run_dir} has no complete checkpoint: starting it over from step 0")
            return
        state, optimizer_arrays = checkpoints.read_checkpoint(latest)
        # Weights first, optimisers last, from optimizers.npz: loading a .keras file without
        # an optimiser (what float32_copy saves) into a model whose optimiser is already built
        # resets that optimiser's state. Older checkpoints' files carry one, which load_weights
        # skips while the optimiser is unbuilt.
        for name, model in self.networks.models_to_save().items():
            # With --ema, generator.keras holds the averages; training goes on from the raw
            # weights beside them.
            raw = latest / rundir.model_file(rundir.raw_name(name))
            source = raw if raw.exists() else latest / rundir.model_file(name)
            if name == "generator":  # a config.json edited by hand: say so in one line
                hint = f"{rundir.CONFIG} does not say the scale its checkpoints were trained at"
                check_generator_scale(source, self.config.scale, hint)
            with warnings.catch_warnings():
                # The files hold no optimiser (its state is in optimizers.npz, loaded below);
                # Keras warns that it skips the one the compiled model has.
                warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
                model.load_weights(source)
        for name, (optimizer, variables) in self.networks.optimizers().items():
            checkpoints.restore_optimizer(optimizer, variables, optimizer_arrays[name])
        self.step = int(state["step"])
        self.best_psnr = state.get("best_psnr_y")
        self.restored_validation = state.get("validation")  # what a finished run reports
        self.last_checkpoint = latest
        self._log(f"resumed from {latest} at step {self.step}")

    # -- the loop -------------------------------------------------------------------------
    def _set_learning_rate(self, step):
        """Called every step; assigns only when the rate changes, so a constant schedule costs
        one comparison, not a read of each optimiser's variable."""
        rate = learning_rate_at(self.config, step, self.total_steps)
        if rate == self._rate:
            return
        for optimizer, _ in self.networks.optimizers().values():
            optimizer.learning_rate.assign(rate)
        self._rate = rate

    def train(self):
        config = self.config
        start = self.step
        chief = self.worker.is_chief
        history = (
            logs.CsvLog(self.run_dir / rundir.HISTORY, resume_step=start)
            if chief
            else distribute.Discard()
        )
        watch = DiscriminatorWatch()  # starts empty on resume: a window refills in minutes
        board = (
            logs.TensorBoard(self.run_dir / rundir.TENSORBOARD) if chief else distribute.Discard()
        )
        description = f"{config.stage} {config.upsample}"
        bar = logs.Progress(
            total=self.total_steps,
            initial=start,
            batch_size=config.batch_size,
            description=description,
            enabled=self.progress_enabled and chief,
        )
        prefetch = Prefetcher(
            self.source,
            seed=config.seed,
            batch_size=config.batch_size,
            steps_per_epoch=self.steps_per_epoch,
            start=start,
            stop=self.total_steps,
        )
        started = time.perf_counter()
        validation = self.restored_validation  # a resumed run that is already done says it
        try:
            for step, lr, hr in prefetch:
                self.worker.check_stop()  # a request made during the last checkpoint: no save
                lr, hr = self.worker.local(lr), self.worker.local(hr)  # all of it in one process
                self._set_learning_rate(step)  # a pure function of the step: exact on resume
                if config.stage == "pretrain":
                    losses = pretrain_step(self.networks, lr, hr, f"g_{config.pixel_loss}")
                else:
                    real = self.worker.local(real_labels(config, step, config.batch_size))
                    losses = gan_step(self.networks, lr, hr, real, self.worker.predict)
                if not all(math.isfinite(value) for value in losses.values()):
                    shown = ", ".join(f"{k}={v:.4g}" for k, v in losses.items())
                    kept = self.last_checkpoint or "none yet"
                    raise TrainingDiverged(
                        f"loss is not finite at step {step} ({shown}); stopped without saving; "
                        f"last good checkpoint: {kept}; try a lower --learning-rate"
                    )
                self.step = step + 1
                epoch = step // self.steps_per_epoch
                history.write(
                    {
                        "step": step,
                        "epoch": epoch,
                        "seconds": round(time.perf_counter() - started, 3),
                        **losses,
                    }
                )
                board.scalars(step, losses)
                warning = watch.update(step, losses)
                if warning:
                    bar.write(warning)
                    self._log(warning)
                bar.update(losses, warning="D collapsed" if watch.collapsed else None)
                if self.on_step is not None:
                    self.on_step(self, step, losses)
                self.worker.check_stop()  # between steps: never inside TensorFlow
                if self.step % self.steps_per_epoch == 0:
                    finished_epochs = self.step // self.steps_per_epoch
                    last = self.step == self.total_steps
                    if finished_epochs % config.checkpoint_every == 0 or last:
                        history.flush()
                        validation = self._checkpoint(finished_epochs, board, bar)
        except KeyboardInterrupt:
            prefetch.close()
            history.flush()
            if self._checkpoint_step() == self.step:
                saved = self.last_checkpoint  # stopped right after a checkpoint
            else:  # no validation: a stop should take seconds, and the next checkpoint has it
                saved = self._save(self.step // self.steps_per_epoch, validation=None)
            message = f"interrupted at step {self.step}; checkpoint saved: {saved}"
            bar.write(message)
            self._log(message)  # run.log tells where a stopped run ends, not only stdout
            raise Interrupted(saved) from None
        finally:
            prefetch.close()
            history.close()
            board.close()
            bar.close()
        if self.last_checkpoint is None or self._checkpoint_step() != self.step:
            validation = self._checkpoint(self.step // self.steps_per_epoch, board=None, bar=None)
        return RunResult(self.run_dir, self.step, validation, self.run_dir / rundir.HISTORY)

    def _checkpoint_step(self):
        return rundir.checkpoint_step(self.last_checkpoint) if self.last_checkpoint else -1

    # -- checkpoints and validation -------------------------------------------------------
    def _check_finite_weights(self):
        for model in self.networks.models_to_save().values():
            for weight in model.weights:
                if not np.all(np.isfinite(keras.ops.convert_to_numpy(weight))):
                    raise TrainingDiverged(
                        f"{model.name} weight {weight.path} is not finite at step {self.step}; "
                        f"stopped without saving; last good checkpoint: "
                        f"{self.last_checkpoint or 'none yet'}; try a lower --learning-rate"
                    )

    def _checkpoint(self, epoch, board, bar):
        self._check_finite_weights()
        if not self.worker.is_chief:  # the chief validates and saves (training/distribute.py)
            self._save(epoch, validation=None)
            return None
        generator = averaged_generator(self.networks)  # the generator itself without --ema
        metrics, srs = validate(generator, self.validation, lpips_weights=self.lpips_weights)
        if self.best_psnr is None or metrics["psnr_y"] > self.best_psnr:
            self.best_psnr = metrics["psnr_y"]
        row = {"step": self.step, "epoch": epoch, **{k: round(v, 4) for k, v in metrics.items()}}
        validation_log = logs.CsvLog(self.run_dir / rundir.VALIDATION, resume_step=self.step)
        validation_log.write(row)
        validation_log.close()
        if board is not None:
            board.scalars(self.step, {f"validation/{k}": v for k, v in metrics.items()})
            board.flush()
        rows = [(lr, sr, hr) for (_, lr, hr), sr in zip(self.validation, srs, strict=True)][
            : self.config.sample_images
        ]
        logs.save_sample_grid(self.run_dir / rundir.SAMPLES / f"epoch_{epoch:04d}.png", rows)
        logs.plot_losses(self.run_dir / rundir.HISTORY, self.run_dir / rundir.LOSS_PLOT)
        saved = self._save(epoch, validation=metrics, averaged=generator)
        message = (
            f"epoch {epoch} step {self.step}: validation PSNR-Y {metrics['psnr_y']:.2f} dB, "
            f"SSIM-Y {metrics['ssim_y']:.4f}"
            + (f", LPIPS {metrics['lpips']:.4f}" if "lpips" in metrics else "")
            + f"; checkpoint {saved.name}"
        )
        self._log(message)
        if bar is not None:
            bar.write(message)
        return metrics

    def _save(self, epoch, validation, averaged=None):
        """A checkpoint; with --ema its generator.keras holds the averaged weights (what
        validation scored and what people use) and generator_raw.keras the raw ones (what a
        resume trains on from)."""
        if not self.worker.is_chief:  # where the chief writes it
            self.last_checkpoint = rundir.checkpoint_dir(self.run_dir, self.step)
            return self.last_checkpoint
        state = {
            "epoch": epoch,
            "best_psnr_y": self.best_psnr,
            "validation": validation,
            "skipped_images": self.skipped_images,
        }
        optimizers = {name: opt for name, (opt, _) in self.networks.optimizers().items()}
        # Float32 files whatever the training precision: they load alike everywhere.
        models = {k: float32_copy(m) for k, m in self.networks.models_to_save().items()}
        if self.config.ema is not None:
            models[rundir.raw_name("generator")] = models["generator"]
            models["generator"] = float32_copy(averaged or averaged_generator(self.networks))
        saved = checkpoints.save_checkpoint(
            self.run_dir,
            step=self.step,
            models=models,
            optimizers=optimizers,
            state=state,
            keep=self.config.keep_checkpoints,
        )
        # The run's current generator, where evaluate.py and upscale.py look first.
        with atomic.replacing(self.run_dir / rundir.GENERATOR) as temporary:
            shutil.copyfile(saved / rundir.GENERATOR, temporary)
        self.last_checkpoint = saved
        return saved


def train(config: Config, *, run_dir=None, resume=False, progress=True, on_step=None):
    """Run (or resume) training; returns the run directory, final step and validation."""
    worker = distribute.worker_from_environment()  # first: before TensorFlow starts
    if worker.distributed and not (run_dir or config.run_dir):
        raise UserError(
            "a distributed run needs --run-dir (or --resume RUN_DIR), the same for every "
            "worker, on a filesystem they all see"
        )
    run_dir = Path(run_dir or config.run_dir or Path("runs") / rundir.default_run_name(config))
    with worker.collective_errors(run_dir):
        trainer = Trainer(
            config, run_dir, resume=resume, progress=progress, on_step=on_step, worker=worker
        )
        return trainer.train()
