"""Learning-rate schedules as a pure function of the step, so a resumed run needs no state.

- ``constant``: the paper's SRResNet recipe (Adam 1e-4 for every step).
- ``step``: the paper's SRGAN recipe: the rate, then a tenth of it from ``lr_decay_step`` on.
- ``cosine``: for a fixed step budget, the shape that converges fastest for the same number of
  steps (Li et al., *Budgeted Training*, ICLR 2020; the cosine configs of BasicSR and ESRGAN):
  a linear warm-up over ``warmup_steps``, then half a cosine from ``learning_rate`` down to
  ``min_learning_rate`` exactly at the run's last step.

The total is the run's ``epochs * steps_per_epoch``, so extending a resumed run with
``--epochs`` stretches the cosine from that point on: the steps already taken keep the rates
they had, and the rest of the curve is the one of the longer run.
"""

import math

SCHEDULES = ("constant", "step", "cosine")


def learning_rate_at(config, step, total_steps):
    """The rate for the update that takes the run from ``step`` to ``step + 1``."""
    if config.schedule == "step":
        if config.lr_decay_step and step >= config.lr_decay_step:
            return config.learning_rate * 0.1
        return config.learning_rate
    if config.schedule == "constant":
        return config.learning_rate
    if config.schedule != "cosine":
        raise ValueError(f"unknown schedule {config.schedule!r}")
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    decay_steps = max(total_steps - config.warmup_steps - 1, 1)
    progress = min((step - config.warmup_steps) / decay_steps, 1.0)
    low = config.min_learning_rate
    return low + (config.learning_rate - low) * 0.5 * (1 + math.cos(math.pi * progress))
