"""Notice when the discriminator wins outright, the known way SRGAN trainings fail.

Users of krasserm's, leftthomas's and the Keras-SRGAN code report the same story: D's losses on
real and on fake images both fall to about zero, D is certain about every image, and G's
adversarial gradient (through a saturated sigmoid) carries no more information, so G stops
improving while the run goes on burning hours. The losses are noisy step to step, and a
collapsed D still has spikes: in a measured collapse (two single-class D batches, see
training/loop.py gan_step) the median loss was ~1e-4 but 27% of steps went above 0.01. So the
watch looks at the median, over a window of recent steps, of each step's larger D loss: it fires
when that median is under the threshold, says so once, and re-arms when D has clearly
recovered (the median back above ten times the threshold).
"""

import collections
import statistics

COLLAPSE_LOSS = 0.01  # BCE under 0.01: D gives the right class a probability above 0.99
COLLAPSE_WINDOW = 500  # steps: about a quarter of an hour of GAN training on 2 cores
RECOVERED = 10  # re-arm once the median is back above this many times the threshold


class DiscriminatorWatch:
    """Feed it every step's losses; ``update`` returns a warning once per collapse."""

    def __init__(self, *, threshold=COLLAPSE_LOSS, window=COLLAPSE_WINDOW):
        self.threshold = threshold
        self.window = window
        self._recent = collections.deque(maxlen=window)
        self._warned = False

    @property
    def median(self):
        return statistics.median(self._recent) if self._recent else None

    @property
    def collapsed(self):
        """Whether the last ``window`` steps look collapsed (false until a window has passed)."""
        return len(self._recent) == self.window and self.median < self.threshold

    def update(self, step, losses):
        """The warning text when a collapse starts at ``step``, else None (pretraining: None)."""
        if "d_real" not in losses or "d_fake" not in losses:
            return None
        self._recent.append(max(losses["d_real"], losses["d_fake"]))
        if not self.collapsed:
            if self._warned and self.median > RECOVERED * self.threshold:
                self._warned = False  # D recovered: a later collapse is news again
            return None
        if self._warned:
            return None
        self._warned = True
        return (
            f"warning: discriminator collapse at step {step}: the median of max(d_real, d_fake) "
            f"over the last {self.window} steps is {self.median:.2g}, under {self.threshold:g}; "
            "G gets almost no adversarial signal. Compare the checkpoints' LPIPS before training "
            "on; --label-noise 0.1 or resuming from an earlier checkpoint usually helps"
        )
