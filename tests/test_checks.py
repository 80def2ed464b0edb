"""Interval bars of the studies: a difference over training seeds against a bound."""

from __future__ import annotations

from harness.checks import check_interval_bound
from harness.measure.seeds import SEED_UNIT
from harness.measure.stats import Interval


def _gain(estimate: float, low: float, high: float) -> Interval:
    return Interval(estimate, low, high, 0.95, 2, SEED_UNIT)


def test_a_gain_bound_fails_only_when_the_whole_interval_is_below_it() -> None:
    fail = check_interval_bound("kd_gain", "s", "KD gain", _gain(-0.02, -0.03, -0.01), 0.01, at_most=False)
    assert fail.failed and "beyond limit 0.01" in fail.message and fail.metric == "map50_95"
    ok = check_interval_bound("kd_gain", "s", "KD gain", _gain(0.03, 0.02, 0.04), 0.01, at_most=False)
    assert ok.ok and not ok.inconclusive and ok.detectable is None  # a gain has no "detectable drop"


def test_an_inconclusive_seed_interval_says_how_many_seeds_would_decide_it() -> None:
    check = check_interval_bound(
        "kd_gain", "s", "KD gain", _gain(0.0113, -0.05, 0.07), 0.01, at_most=False, inconclusive_fails=True
    )
    assert check.inconclusive and check.failed  # the policy decides the test, the verdict stays inconclusive
    assert check.deciding_unit == SEED_UNIT and check.deciding_n is not None and check.deciding_n > 2
    assert f"about {check.deciding_n} training seeds would decide it" in check.message


def test_a_drop_bound_reports_its_detectable_drop_in_seeds() -> None:
    check = check_interval_bound(
        "kd_reference_drop", "s", "KD drop", _gain(0.005, -0.001, 0.012), 0.01, at_most=True
    )
    assert check.inconclusive and check.detectable is not None
    assert "minimum detectable drop 0.0160 at 2 training seeds" in check.message


def test_an_unmeasured_difference_fails_the_bar() -> None:
    check = check_interval_bound("kd_gain", "s", "KD gain", None, 0.01, at_most=False)
    assert check.failed and "not checked" in check.message
