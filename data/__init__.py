"""Where images come from and how LR/HR training pairs are made."""
