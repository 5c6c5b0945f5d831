"""The comparison notebook's conclusion follows from the scores it is given."""

import pytest

from evaluation.comparison import common_step, margins, verdict


def scores(shuffle, upsampling, steps=(1000, 2000)):
    """Two runs' checkpoint rows; the last step carries the given Set5 / Set14 PSNR-Y."""

    def rows(final):
        earlier = [{"step": s, "Set5_psnr_y": 20.0, "Set14_psnr_y": 19.0} for s in steps[:-1]]
        last = {"step": steps[-1], "Set5_psnr_y": final[0], "Set14_psnr_y": final[1]}
        return [*earlier, last]

    return {"pixelshuffle": rows(shuffle), "upsampling": rows(upsampling)}


def test_the_gaps_are_taken_at_the_last_step_both_runs_reached():
    given = scores((30.0, 27.0), (29.5, 26.8))
    given["pixelshuffle"].append({"step": 3000, "Set5_psnr_y": 40.0, "Set14_psnr_y": 40.0})
    assert common_step(given) == 2000
    step, gaps = margins(given, ["Set5", "Set14"])
    assert step == 2000
    assert gaps == pytest.approx({"Set5": 0.5, "Set14": 0.2})


@pytest.mark.parametrize(
    ("shuffle", "upsampling", "expected"),
    [
        ((30.6, 27.6), (30.0, 27.0), "this agrees with the student report"),
        ((30.3, 27.3), (30.0, 27.0), "with a smaller margin"),
        ((31.5, 28.5), (30.0, 27.0), "with a larger margin"),
        ((30.0, 27.0), (30.4, 27.3), "**UpSampling2D wins**, by 0.35 dB"),
        ((30.05, 27.0), (30.0, 27.05), "**A tie**"),
        ((30.5, 26.5), (30.0, 27.0), "**No clear winner**"),
    ],
)
def test_the_verdict_names_the_winner_and_compares_with_the_report(shuffle, upsampling, expected):
    text = verdict(scores(shuffle, upsampling), ["Set5", "Set14"])
    assert expected in text
    assert text.startswith("At step 2,000, pixel shuffle minus UpSampling2D in PSNR-Y:")


def test_runs_without_a_shared_step_or_scores_are_refused():
    with pytest.raises(ValueError, match="share no"):
        verdict(scores((30, 27), (30, 27), steps=(1000,)) | {"upsampling": []}, ["Set5"])
    with pytest.raises(ValueError, match="no PSNR-Y on BSD100"):
        verdict(scores((30, 27), (29, 26)), ["BSD100"])
