"""Notice when the discriminator wins outright, the known way SRGAN trainings fail.

Users of krasserm's, leftthomas's and the Keras-SRGAN code report the same story: D's losses on
real and on fake images both fall to about zero, D is certain about every image, and G's
adversarial gradient (through a saturated sigmoid) carries no more information, so G stops
improving while the run goes on burning hours. The losses are noisy step to step, so the watch
looks at a window of recent steps rather than at one: it fires when nearly every step in the
window had both D losses under the threshold, says so once, and re-arms when D recovers.
"""

import collections

COLLAPSE_LOSS = 0.01  # BCE under 0.01: D gives the right class a probability above 0.99
COLLAPSE_WINDOW = 500  # steps: about a quarter of an hour of GAN training on 2 cores
COLLAPSE_SHARE = 0.95  # of the window's steps under the threshold


class DiscriminatorWatch:
    """Feed it every step's losses; ``update`` returns a warning once per collapse."""

    def __init__(self, *, threshold=COLLAPSE_LOSS, window=COLLAPSE_WINDOW, share=COLLAPSE_SHARE):
        self.threshold = threshold
        self.window = window
        self.share = share
        self._recent = collections.deque(maxlen=window)
        self._warned = False

    @property
    def collapsed(self):
        """Whether the last ``window`` steps look collapsed (false until a window has passed)."""
        full = len(self._recent) == self.window
        return full and sum(self._recent) >= self.share * self.window

    def update(self, step, losses):
        """The warning text when a collapse starts at ``step``, else None (pretraining: None)."""
        if "d_real" not in losses or "d_fake" not in losses:
            return None
        self._recent.append(max(losses["d_real"], losses["d_fake"]) < self.threshold)
        if not self.collapsed:
            if self._warned and sum(self._recent) < self.share * len(self._recent) / 2:
                self._warned = False  # D recovered: a later collapse is news again
            return None
        if self._warned:
            return None
        self._warned = True
        return (
            f"warning: discriminator collapse at step {step}: d_real and d_fake under "
            f"{self.threshold:g} in {sum(self._recent)} of the last {self.window} steps; G gets "
            "almost no adversarial signal. Compare the checkpoints' LPIPS before training on; "
            "--label-noise 0.1 or resuming from an earlier checkpoint usually helps"
        )
