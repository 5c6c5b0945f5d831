"""How a training run goes: presets, networks, the two stages, validation, checkpoints, logs."""
