import numpy as np

from training.collapse import DiscriminatorWatch


def feed(watch, d_real, d_fake, start=0):
    return [
        (start + step, message)
        for step, (real, fake) in enumerate(zip(d_real, d_fake, strict=True))
        if (message := watch.update(start + step, {"d_real": real, "d_fake": fake}))
    ]


def test_a_collapsed_discriminator_is_reported_once():
    rng = np.random.default_rng(0)
    # 300 healthy steps, then D certain about everything (losses ~1e-3) for 600 steps.
    d_real = np.concatenate([rng.uniform(0.1, 0.9, 300), rng.uniform(1e-4, 3e-3, 600)])
    d_fake = np.concatenate([rng.uniform(0.1, 0.9, 300), rng.uniform(1e-4, 3e-3, 600)])
    watch = DiscriminatorWatch(window=200)
    warnings = feed(watch, d_real, d_fake)
    assert len(warnings) == 1
    step, message = warnings[0]
    assert step == 300 + 100  # 101 of the window's 200 steps collapsed: its median is
    assert "collapse" in message and f"step {step}" in message
    assert watch.collapsed


def test_a_healthy_history_with_spikes_is_not_reported():
    rng = np.random.default_rng(1)
    d_real = rng.uniform(0.05, 1.2, 2000)
    d_fake = rng.uniform(0.05, 1.2, 2000)
    # Long stretches where D wins on fakes only, and isolated tiny losses on both.
    d_fake[500:1200] = 1e-3
    d_real[::7] = 1e-4
    d_fake[::7] = 1e-4
    watch = DiscriminatorWatch(window=200)
    assert feed(watch, d_real, d_fake) == []
    assert not watch.collapsed


def test_it_rearms_after_the_discriminator_recovers():
    low, high = [1e-3] * 300, [0.5] * 300
    watch = DiscriminatorWatch(window=100)
    warnings = feed(watch, low + high + low, low + high + low)
    assert [step for step, _ in warnings] == [99, 650]  # the first needs a full window


def test_pretraining_losses_are_ignored():
    watch = DiscriminatorWatch(window=10)
    assert all(watch.update(step, {"g_mse": 1e-4}) is None for step in range(50))
    assert not watch.collapsed


def test_a_collapse_with_spikes_is_still_reported():
    """As measured: median D loss ~1e-4, yet 27% of the steps above the threshold."""
    rng = np.random.default_rng(2)
    d_real = rng.uniform(1e-6, 1e-3, 1000)
    d_fake = rng.uniform(1e-7, 1e-3, 1000)
    spikes = rng.random(1000) < 0.3
    d_real[spikes] = rng.uniform(0.02, 0.5, spikes.sum())
    watch = DiscriminatorWatch(window=500)
    warnings = feed(watch, d_real, d_fake)
    assert [step for step, _ in warnings] == [499]
