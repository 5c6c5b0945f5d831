"""The verdict of the pixel shuffle vs UpSampling2D comparison, stated from its own figures.

The notebook's conclusion must follow from the numbers it shows, whatever the runs turn out to
be, so it is computed here rather than written by hand: both upsamplers' benchmark PSNR-Y at
the last step they both reached, which one is ahead on each benchmark and by how much, and
whether that agrees with the student report (pixel shuffle ahead by 0.5-0.8 dB).
"""

from __future__ import annotations

import math

# The report's finding: pixel shuffle ahead by 0.5-0.8 dB (e.g. 26.9 vs 26.3 dB, DF2K, 500
# epochs).
REPORT_MARGIN_DB = (0.5, 0.8)
# One seed per upsampler: a gap this small could change sign with another seed, so it is
# called a tie rather than a win.
TIE_DB = 0.1
NAMES = {"pixelshuffle": "pixel shuffle", "upsampling": "UpSampling2D"}


def common_step(scores: dict[str, list[dict]]) -> int:
    """The last checkpoint step both upsamplers have scores for."""
    steps = [{row["step"] for row in rows} for rows in scores.values()]
    shared = set.intersection(*steps) if steps else set()
    if not shared:
        raise ValueError("the two runs share no scored checkpoint step")
    return max(shared)


def margins(scores: dict[str, list[dict]], datasets: list[str]) -> tuple[int, dict[str, float]]:
    """(step, {dataset: pixel shuffle's PSNR-Y minus UpSampling2D's}) at the common step."""
    step = common_step(scores)
    at = {name: next(r for r in rows if r["step"] == step) for name, rows in scores.items()}
    gaps = {}
    for dataset in datasets:
        key = f"{dataset}_psnr_y"
        shuffle, upsampling = at["pixelshuffle"].get(key), at["upsampling"].get(key)
        if shuffle is not None and upsampling is not None:
            gaps[dataset] = float(shuffle) - float(upsampling)
    return step, {name: gap for name, gap in gaps.items() if not math.isnan(gap)}


def verdict(scores: dict[str, list[dict]], datasets: list[str]) -> str:
    """A paragraph of Markdown: who wins, by how much, and against the report's margin."""
    step, gaps = margins(scores, datasets)
    if not gaps:
        raise ValueError(f"no PSNR-Y on {', '.join(datasets)} for both upsamplers")
    each = ", ".join(f"{gap:+.2f} dB on {name}" for name, gap in gaps.items())
    head = f"At step {step:,}, pixel shuffle minus UpSampling2D in PSNR-Y: {each}."
    low, high = REPORT_MARGIN_DB
    report = f"the student report's {low}-{high} dB lead for pixel shuffle"
    if all(gap > TIE_DB for gap in gaps.values()):
        mean = sum(gaps.values()) / len(gaps)
        if low <= mean <= high:
            tail = (
                f"**Pixel shuffle wins**, by {mean:.2f} dB on average: this agrees with {report}."
            )
        else:
            size = "smaller" if mean < low else "larger"
            tail = (
                f"**Pixel shuffle wins**, by {mean:.2f} dB on average: the report's direction, "
                f"with a {size} margin than {report}."
            )
    elif all(gap < -TIE_DB for gap in gaps.values()):
        mean = -sum(gaps.values()) / len(gaps)
        tail = f"**UpSampling2D wins**, by {mean:.2f} dB on average: this disagrees with {report}."
    elif all(abs(gap) <= TIE_DB for gap in gaps.values()):
        tail = (
            f"**A tie**: every gap is within {TIE_DB} dB, less than one seed's runs can settle; "
            f"this does not reproduce {report}."
        )
    else:
        tail = (
            f"**No clear winner**: the benchmarks disagree (or a gap is within {TIE_DB} dB); "
            f"this does not reproduce {report}."
        )
    return f"{head} {tail}"
