"""Intervals and verdicts: the paired-block latency interval and its false-alarm / detection rates."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.measure.stats import (
    Interval,
    Verdict,
    false_alarm_bound,
    paired_block_speedup,
    percentile_interval,
    verdict,
)

BLOCK = 5


def _timings(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """Latency-like samples: a floor plus right-skewed noise, with slow drift shared by both sides."""
    return scale * (0.010 + rng.lognormal(-7.0, 0.6, size=n))


def _pair(rng: np.random.Generator, slowdown: float, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    drift = np.repeat(1.0 + 0.03 * rng.standard_normal(n // BLOCK), BLOCK)
    return _timings(rng, n, slowdown) * drift, _timings(rng, n, 1.0) * drift


@given(st.floats(0.5, 2.0), st.floats(0.0, 0.5), st.floats(0.0, 0.5), st.booleans())
def test_verdict_three_ways(estimate: float, below: float, above: float, higher: bool) -> None:
    interval = Interval(estimate, estimate - below, estimate + above, 0.99)
    limit = 1.0
    got = verdict(interval, limit, higher_is_better=higher)
    good_low, good_high = (interval.low, interval.high) if higher else (-interval.high, -interval.low)
    bound = limit if higher else -limit
    if good_low >= bound:
        assert got is Verdict.PASS
    elif good_high < bound:
        assert got is Verdict.FAIL
    else:
        assert got is Verdict.INCONCLUSIVE


def test_verdict_limit_touching_the_interval_passes() -> None:
    assert verdict(Interval(1.1, 1.0, 1.2, 0.99), 1.0, True) is Verdict.PASS
    assert verdict(Interval(0.9, 0.8, 1.0, 0.99), 1.0, False) is Verdict.PASS


def test_interval_rejects_inverted_bounds_and_bad_confidence() -> None:
    with pytest.raises(ValueError, match="low"):
        Interval(1.0, 1.2, 1.1, 0.99)
    with pytest.raises(ValueError, match="confidence"):
        percentile_interval(1.0, np.ones(10), 1.0)


def test_interval_is_the_geometric_mean_of_block_ratios() -> None:
    rng = np.random.default_rng(1)
    cand, ref = _pair(rng, 1.0)
    a = paired_block_speedup(cand, ref, BLOCK)
    assert a.low <= a.estimate <= a.high
    blocks = np.median(ref.reshape(-1, BLOCK), 1) / np.median(cand.reshape(-1, BLOCK), 1)
    assert a.estimate == pytest.approx(np.exp(np.mean(np.log(blocks))))


def test_interval_rejects_too_few_blocks_and_mismatched_sides() -> None:
    with pytest.raises(ValueError, match="at least 3 blocks"):
        paired_block_speedup([0.01] * 10, [0.01] * 10, BLOCK)
    with pytest.raises(ValueError, match="differ"):
        paired_block_speedup([0.01] * 15, [0.01] * 20, BLOCK)
    with pytest.raises(ValueError, match="positive"):
        paired_block_speedup([0.0] * 15, [0.01] * 15, BLOCK)


def test_aa_false_alarms_at_most_one_percent() -> None:
    """The same distribution on both sides, limit 1.0x: at most 1 % of 300 comparisons fail."""
    rng = np.random.default_rng(7)
    fails = sum(
        verdict(paired_block_speedup(*_pair(rng, 1.0), BLOCK), 1.0, True) is Verdict.FAIL for i in range(300)
    )
    assert fails <= 3


def test_ten_percent_slowdown_caught_in_95_percent() -> None:
    """A candidate 10 % slower than the reference fails a 1.0x minimum speedup in >= 95 % of trials."""
    rng = np.random.default_rng(11)
    caught = sum(
        verdict(paired_block_speedup(*_pair(rng, 1.1), BLOCK), 1.0, True) is Verdict.FAIL for i in range(100)
    )
    assert caught >= 95


def test_false_alarm_bound() -> None:
    assert false_alarm_bound(0, 100) == pytest.approx(0.0295, abs=1e-3)
    assert false_alarm_bound(100, 100) == 1.0
    with pytest.raises(ValueError):
        false_alarm_bound(3, 2)
