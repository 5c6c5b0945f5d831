"""How a training run goes: presets, the two stages, checkpoints and logs."""
