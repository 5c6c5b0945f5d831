"""Presets as data, and how command-line flags override them.

A run is fully described by a ``Config``. A preset is a dict of values for some of its fields;
``resolve_config`` starts from the defaults, applies the preset (and the preset's values for the
chosen stage), then the user's overrides. The resolved config is written to the run directory,
so a run can be repeated or resumed from it alone.
"""

import dataclasses
import json
import types
from pathlib import Path

from data import conventions
from data.degradations import DEGRADATIONS
from models.options import ADVERSARIAL_LOSSES, CONTENT_LAYERS
from models.precision import PRECISIONS
from runtime.errors import UserError
from training.schedules import SCHEDULES

STAGES = ("pretrain", "gan")
CONTENT_LOSSES = (*CONTENT_LAYERS, "mse")
PIXEL_LOSSES = ("mse", "l1")
PAIR_MODES = ("resize", "crop")

# Ledig et al. 2017: random 96x96 HR crops (24x24 LR), flips and 90-degree rotations, batch
# 16, PReLU throughout, no label noise; validated on 192x192 centre crops. Shared by the
# presets that train the paper's networks.
PAPER_TRAINING = {
    "stage": "pretrain",
    "pairs": "crop",
    "hr_size": 96,
    "augment": True,
    "batch_size": 16,
    "steps_per_epoch": 1000,
    "upsample_activation": "prelu",
    "label_noise": 0.0,
    "validation_crop": 192,
}

PRESETS = {
    # The student report: whole images resized (bicubic) to 224x224 HR and 56x56 LR, batch 10,
    # one GAN stage, LeakyReLU after the pixel shuffles (its 1,554,755-parameter summary), and
    # small random noise on the "real" labels.
    "report": {
        "stage": "gan",
        "pairs": "resize",
        "hr_size": 224,
        "augment": False,
        "batch_size": 10,
        "epochs": 100,
        "steps_per_epoch": None,
        "upsample_activation": "leaky_relu",
        "label_noise": 0.1,
        "checkpoint_every": 5,
        "validation_crop": None,
    },
    # Ledig et al. 2017: Adam lr 1e-4 beta1 0.9. SRResNet: 10^6 updates; SRGAN: 10^5 at 1e-4
    # then 10^5 at 1e-5.
    "paper": {
        **PAPER_TRAINING,
        "checkpoint_every": 10,
        "stages": {
            "pretrain": {"epochs": 1000},
            "gan": {"epochs": 200, "schedule": "step", "lr_decay_step": 100_000},
        },
    },
    # The paper's networks, crops and batch on a budget of one CPU session (about 5,000 steps):
    # benchmarks/budget_comparison.py measured, at 1,500 steps from scratch on the real photos,
    # a 100-step warm-up to 5e-4 then cosine to 1e-6 ahead of the paper's constant 1e-4 by
    # 0.8 dB on Set5, of constant 5e-4 and of an L1 loss; EMA 0.999 ruined so short a run from
    # scratch (its average still holds the random start), so pretraining goes without it. The
    # GAN stage starts from a trained SRResNet, where an average of recent weights only smooths
    # the adversarial noise (ESRGAN, BasicSR), and keeps the paper's 1e-4 with a gentle cosine.
    "cpu-budget": {
        **PAPER_TRAINING,
        "checkpoint_every": 1,
        "keep_checkpoints": 20,
        "schedule": "cosine",
        "min_learning_rate": 1e-6,
        "stages": {
            "pretrain": {"epochs": 5, "learning_rate": 5e-4, "warmup_steps": 100},
            "gan": {"epochs": 5, "learning_rate": 1e-4, "ema": 0.999},
        },
    },
    # For real photos (issue 31): the paper's networks and crops on LR made by the real-world
    # degradation model. Real-ESRGAN's two stages, from the shipped SRResNet: a PSNR stage on
    # degraded pairs (their Real-ESRNet: L1, Adam 2e-4, EMA 0.999), then a GAN stage from it.
    # Its GAN loss is the shipped SRGAN's, the recipe benchmarks/gan_comparison.py chose (the
    # paper's + LR consistency 10 + the grid penalty at 300: weights/srgan_x4.md).
    "real-world": {
        **PAPER_TRAINING,
        "degradation": "real",
        "checkpoint_every": 1,
        "keep_checkpoints": 20,
        "schedule": "cosine",
        "min_learning_rate": 1e-6,
        "ema": 0.999,
        "stages": {
            "pretrain": {
                "epochs": 10,
                "learning_rate": 2e-4,
                "warmup_steps": 100,
                "pixel_loss": "l1",
            },
            "gan": {
                "epochs": 10,
                "learning_rate": 1e-4,
                "consistency_weight": 10.0,
                "grid_weight": 300.0,
            },
        },
    },
}


@dataclasses.dataclass
class Config:
    """Everything that decides what a run does. Field comments name the flag."""

    preset: str = "report"
    stage: str = "gan"  # --stage
    dataset: str = "sample"  # --dataset: DIV2K, Flickr2K, DF2K, sample, or a folder
    data_dir: str | None = None  # --data-dir
    upsample: str = "pixelshuffle"  # --upsample: pixelshuffle | upsampling
    upsample_activation: str = "prelu"  # --upsample-activation: prelu | leaky_relu
    blocks: int = 16  # --blocks
    # --scale: 2, 4 (the paper's) or 8. Runs written before it had a scale were all x4, so a
    # config.json without one reads as the default.
    scale: int = conventions.DEFAULT_SCALE
    pairs: str = "resize"  # --pairs: resize (whole images) | crop (random crops)
    degradation: str = "bicubic"  # --degradation: bicubic (the paper's) | real (data/degradations)
    hr_size: int = 224  # --hr-size
    augment: bool = False  # --augment / --no-augment
    batch_size: int = 10  # --batch-size
    epochs: int = 100  # --epochs
    steps_per_epoch: int | None = None  # --steps-per-epoch; None: one pass over the images
    learning_rate: float = 1e-4  # --learning-rate
    beta_1: float = 0.9  # --beta-1
    schedule: str = "constant"  # --schedule: constant | step | cosine (training/schedules.py)
    lr_decay_step: int | None = None  # --lr-decay-step: learning rate x0.1 from this step on
    warmup_steps: int = 0  # --warmup-steps (cosine): linear warm-up to --learning-rate
    min_learning_rate: float = 0.0  # --min-learning-rate (cosine): the rate at the last step
    content_loss: str = "vgg54"  # --content-loss: vgg54 | vgg22 | vgg33 | vgg54-prerelu | mse
    pixel_loss: str = "mse"  # --pixel-loss (pretrain): mse (the paper's) | l1
    # --ema DECAY: validate and save the generator's exponential moving average (None: off).
    ema: float | None = None
    adversarial: str = "bce"  # --adversarial: bce (the paper's) | ragan (ESRGAN's)
    adversarial_weight: float = 1e-3  # --adversarial-weight
    # --consistency-weight (GAN stage; 0: the paper's loss): MSE of G(LR) and HR pooled 4x4.
    consistency_weight: float = 0.0
    pixel_weight: float = 0.0  # --pixel-weight (GAN stage; 0: off): L1 of G(LR) and HR
    grid_weight: float = 0.0  # --grid-weight (GAN stage; 0: off): MSE of sub-pixel phase means
    # --coherent-grid-weight (GAN stage; 0: off): the same, one tile for the whole HR crop.
    coherent_grid_weight: float = 0.0
    label_noise: float = 0.0  # --label-noise: real labels drawn from [1 - noise, 1]
    init_generator: str | None = None  # --init-generator: weights to start the GAN stage from
    # --init-discriminator: D's weights from a GAN checkpoint (None: D starts afresh).
    init_discriminator: str | None = None
    # --init-across-scales: an --init-generator of another scale gives the layers both have.
    init_across_scales: bool = False
    vgg_weights: str | None = None  # --vgg-weights
    seed: int = 0  # --seed
    # --precision: auto | float32 | bfloat16 | float16 (models/precision.py). A run resolves
    # auto when it starts and writes its choice into config.json, so a resume keeps it.
    precision: str = "auto"
    checkpoint_every: int = 1  # --checkpoint-every (epochs)
    keep_checkpoints: int = 2  # --keep-checkpoints
    validation_images: int | None = 10  # --validation-images (None: all)
    validation_crop: int | None = None  # --validation-crop: centre-crop HR to at most this
    sample_images: int = 3  # no flag (config.json): rows of the LR / SR / HR grid in samples/
    run_dir: str | None = None  # --run-dir

    @property
    def lr_size(self):
        return self.hr_size // self.scale

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        return cls.from_values(json.loads(text))

    @classmethod
    def from_values(cls, values):
        """A config from config.json's parsed values; older runs' missing fields filled in."""
        values = dict(values)
        known = {field.name for field in dataclasses.fields(cls)}
        if "schedule" not in values:
            # Written before schedules had a name: a decay step meant the step schedule.
            values["schedule"] = "step" if values.get("lr_decay_step") else "constant"
        values.setdefault("precision", "float32")  # runs before --precision were float32
        # Runs before --scale were x4, as files saved before generators recorded their scale
        # read (models.description): both go by the default scale, the only one built then.
        values.setdefault("scale", conventions.DEFAULT_SCALE)
        return cls(**{key: value for key, value in values.items() if key in known})


def _allowed_types(field):
    kinds = field.type.__args__ if isinstance(field.type, types.UnionType) else (field.type,)
    return kinds + ((int,) if float in kinds else ())  # JSON writes 1.0 as 1 only by hand


def check_field_types(values, source):
    """A UserError naming the first value whose type its field cannot take (a bool is no
    number here, though Python's bool is an int)."""
    for field in dataclasses.fields(Config):
        if field.name not in values:
            continue
        value, allowed = values[field.name], _allowed_types(field)
        wrong_bool = isinstance(value, bool) and bool not in allowed
        if wrong_bool or not isinstance(value, allowed):
            names = " or ".join("null" if kind is type(None) else kind.__name__ for kind in allowed)
            raise UserError(f"{source}: {field.name} is {value!r}, which is not {names}")


def read_config(path):
    """The ``Config`` of a run's ``config.json``, checked as a new one is: a one-line
    ``UserError`` for a file that is not JSON, not an object, or holds a value its field cannot
    take, instead of a traceback deep in Keras."""
    path = Path(path)
    try:
        values = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserError(f"{path} is not a readable config ({reason})") from None
    if not isinstance(values, dict):
        raise UserError(f"{path} holds {type(values).__name__}, not a config (a JSON object)")
    check_field_types(values, path)
    config = Config.from_values(values)
    if config.preset not in PRESETS:
        raise UserError(f"{path}: unknown preset {config.preset!r}")
    validate(config, check_paths=False)  # a resume takes weights from its checkpoints
    return config


def field_names():
    return [field.name for field in dataclasses.fields(Config)]


def resolve_config(preset="report", stage=None, overrides=None, *, check_paths=True):
    """Defaults, then the preset, then the preset's stage values, then ``overrides``.

    ``overrides`` holds only the values the user gave (``None`` means "not given", except for
    fields whose override is explicitly ``None``-able, which flags express as 0 or "none").
    ``check_paths=False`` resolves a documented command (a model card's) without the files it
    names having to exist here.
    """
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    values = {key: value for key, value in PRESETS[preset].items() if key != "stages"}
    stage = stage or values.get("stage", "gan")
    if stage not in STAGES:
        raise UserError(f"unknown stage {stage!r}; choose from {', '.join(STAGES)}")
    values.update(PRESETS[preset].get("stages", {}).get(stage, {}))
    values.update({"preset": preset, "stage": stage})
    unknown = set(overrides or {}) - set(field_names())
    if unknown:
        raise ValueError(f"unknown config fields: {sorted(unknown)}")
    if "lr_decay_step" in (overrides or {}) and "schedule" not in overrides:
        # --lr-decay-step alone chooses the step schedule, --lr-decay-step none the constant.
        values["schedule"] = "step" if overrides["lr_decay_step"] else "constant"
    values.update(overrides or {})
    config = Config(**values)
    validate(config, check_paths=check_paths)
    return config


def validate(config, *, check_paths=True):
    """Refuse values that would fail later, deep inside Keras, with one clear line now."""
    if config.stage not in STAGES:
        raise UserError(f"unknown stage {config.stage!r}; choose from {', '.join(STAGES)}")
    if config.content_loss not in CONTENT_LOSSES:
        raise UserError(
            f"unknown content loss {config.content_loss!r}; choose from {', '.join(CONTENT_LOSSES)}"
        )
    if config.pixel_loss not in PIXEL_LOSSES:
        raise UserError(
            f"unknown pixel loss {config.pixel_loss!r}; choose from {', '.join(PIXEL_LOSSES)}"
        )
    if config.pixel_loss != "mse" and config.stage != "pretrain":
        raise UserError("--pixel-loss is for the pretrain stage; the GAN stage's is --content-loss")
    if config.adversarial not in ADVERSARIAL_LOSSES:
        raise UserError(
            f"unknown adversarial loss {config.adversarial!r}; "
            f"choose from {', '.join(ADVERSARIAL_LOSSES)}"
        )
    for name in ("consistency_weight", "pixel_weight", "grid_weight", "coherent_grid_weight"):
        flag, value = f"--{name.replace('_', '-')}", getattr(config, name)
        if not value >= 0:  # NaN too
            raise UserError(f"{flag} must be 0 or more; got {value}")
        if value and config.stage != "gan":
            raise UserError(f"{flag} is for the gan stage (pretraining is a pixel loss)")
    if config.ema is not None and not 0 < config.ema < 1:
        raise UserError(f"--ema must be in (0, 1), e.g. 0.999; got {config.ema}")
    if config.degradation not in DEGRADATIONS:
        raise UserError(
            f"unknown degradation {config.degradation!r}; choose from {', '.join(DEGRADATIONS)}"
        )
    if config.degradation != "bicubic" and config.pairs != "crop":
        raise UserError("--degradation real degrades random crops: use --pairs crop")
    if config.pairs not in PAIR_MODES:
        raise UserError(f"unknown pairs mode {config.pairs!r}; choose from {', '.join(PAIR_MODES)}")
    if config.upsample not in ("pixelshuffle", "upsampling"):
        raise UserError(f"unknown upsample {config.upsample!r}; choose pixelshuffle or upsampling")
    if config.upsample_activation not in ("prelu", "leaky_relu"):
        raise UserError(f"unknown upsample activation {config.upsample_activation!r}")
    try:
        conventions.check_scale(config.scale)
    except ValueError as error:
        raise UserError(f"--{error}") from None
    if config.hr_size % config.scale:
        raise UserError(
            f"--hr-size {config.hr_size} is not a multiple of --scale {config.scale}: "
            "the LR crop would not be whole pixels"
        )
    if config.hr_size < 16 or config.hr_size % 16:
        raise UserError(f"--hr-size must be a positive multiple of 16, got {config.hr_size}")
    for name in ("blocks", "batch_size", "epochs", "checkpoint_every", "keep_checkpoints"):
        if getattr(config, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")
    if config.steps_per_epoch is not None and config.steps_per_epoch < 1:
        raise UserError("--steps-per-epoch must be at least 1")
    if not 0 <= config.label_noise < 1:
        raise UserError("--label-noise must be in [0, 1)")
    if config.learning_rate <= 0:
        raise UserError("--learning-rate must be positive")
    if config.precision not in PRECISIONS:
        raise UserError(
            f"unknown precision {config.precision!r}; choose from {', '.join(PRECISIONS)}"
        )
    if config.schedule not in SCHEDULES:
        raise UserError(f"unknown schedule {config.schedule!r}; choose from {', '.join(SCHEDULES)}")
    if config.schedule == "step" and not config.lr_decay_step:
        raise UserError("--schedule step needs --lr-decay-step")
    if config.warmup_steps < 0:
        raise UserError("--warmup-steps must be at least 0")
    if not 0 <= config.min_learning_rate < config.learning_rate:
        raise UserError("--min-learning-rate must be in [0, --learning-rate)")
    if check_paths and config.init_generator and not Path(config.init_generator).exists():
        raise UserError(f"--init-generator: {config.init_generator} does not exist")
    if config.init_discriminator and config.stage != "gan":
        raise UserError("--init-discriminator is for the gan stage (pretraining has no D)")
    if check_paths and config.init_discriminator and not Path(config.init_discriminator).exists():
        raise UserError(f"--init-discriminator: {config.init_discriminator} does not exist")
