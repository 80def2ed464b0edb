"""Minimum detectable drop and the val size that decides an inconclusive verdict."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from harness.checks import check_map_drop
from harness.config.budgets import Budget
from harness.measure.power import MAX_SEEDS, deciding_size, detectable_drop
from harness.measure.stats import Interval, Verdict, verdict
from harness.metrics import SEED_UNIT


def test_the_minimum_detectable_drop_is_the_limit_plus_the_lower_half_width() -> None:
    interval = Interval(0.0143, 0.0090, 0.0203, 0.95, 200)
    assert detectable_drop(interval, 0.01) == pytest.approx(0.0153)
    # A drop that large, measured with the same spread, fails; anything smaller does not.
    shifted = lambda d: Interval(d, d - 0.0053, d + 0.006, 0.95, 200)
    assert verdict(shifted(0.0154), 0.01, higher_is_better=False) is Verdict.FAIL
    assert verdict(shifted(0.0152), 0.01, higher_is_better=False) is Verdict.INCONCLUSIVE


def test_the_deciding_size_shrinks_the_interval_off_the_limit() -> None:
    interval = Interval(0.0353, 0.018, 0.052, 0.95, 200)  # the pruned drop against a 0.02 budget
    n = deciding_size(interval, 0.02)
    assert n == math.ceil(200 * (0.0173 / 0.0153) ** 2)
    half = 0.0173 * math.sqrt(200 / n)
    assert 0.0353 - half >= 0.02 - 1e-9  # at that size the same drop FAILs


def test_a_drop_below_the_limit_is_decided_by_its_upper_half_width() -> None:
    assert deciding_size(Interval(0.005, 0.0, 0.015, 0.95, 100), 0.01) == 400


@pytest.mark.parametrize("interval", [Interval(0.01, 0.0, 0.02, 0.95, 100), Interval(0.02, 0.0, 0.03, 0.95)])
def test_no_size_when_on_the_limit_or_unknown(interval: Interval) -> None:
    assert deciding_size(interval, 0.01) is None


def test_accuracy_checks_report_their_power() -> None:
    inconclusive = check_map_drop(
        Budget(max_map_drop=0.02), "v", 0.5, 0.5353, None, Interval(0.0353, 0.018, 0.052, 0.95, 200)
    )
    assert inconclusive.inconclusive and inconclusive.deciding_n is not None and inconclusive.deciding_n > 200
    assert inconclusive.detectable == pytest.approx(0.0373)
    assert "minimum detectable drop 0.0373 at 200 val images" in inconclusive.message
    assert f"about {inconclusive.deciding_n} val images would decide it" in inconclusive.message
    passed = check_map_drop(Budget(), "v", 0.6, 0.6, None, Interval(0.0, 0.0, 0.0, 0.95, 200))
    assert passed.ok and passed.detectable == 0.01 and passed.deciding_n is None


def test_a_simulated_val_set_of_the_deciding_size_decides() -> None:
    """Per-image drops with the spread of the interval: at the deciding size the mean's interval
    no longer straddles the limit."""
    rng = np.random.default_rng(0)
    per_image = rng.normal(0.0353, 0.0173 * math.sqrt(200) / 1.96, 200)
    n = deciding_size(Interval(0.0353, 0.018, 0.052, 0.95, 200), 0.02)
    assert n is not None
    bigger = rng.normal(0.0353, per_image.std(), 4 * n)
    half = 1.96 * bigger.std() / math.sqrt(len(bigger))
    assert bigger.mean() - half > 0.02


def test_seeds_to_decide_count_the_t_quantile_falling() -> None:
    """Two seeds, half-width 0.048 around a drop of -0.0005 against 0.02 (the fresh clone's pruned
    drop): sqrt-scaling alone would ask for 12 seeds; with t(1) = 12.7 falling to t(2) = 4.3 three
    seeds already decide it."""
    interval = Interval(-0.0005, -0.0485, 0.0476, 0.95, 2, SEED_UNIT)
    assert deciding_size(interval, 0.02) == 3
    assert deciding_size(dataclasses.replace(interval, unit="val images"), 0.02) == 12
    far = Interval(0.0079, -0.0428, 0.0586, 0.95, 2, SEED_UNIT)  # KD's gain against its 0.01 bar
    n = deciding_size(far, 0.01)
    assert n is not None and 20 < n < MAX_SEEDS  # 31: the gain sits 0.0021 from its bar
    half = (0.0586 - 0.0079) * (stats.t.ppf(0.975, n - 1) / stats.t.ppf(0.975, 1)) * math.sqrt(2 / n)
    assert half <= 0.01 - 0.0079 + 1e-12
