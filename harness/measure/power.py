"""The power of an interval verdict on a drop: what it can detect, and what would decide it.

A drop check FAILs when the whole interval lies above the limit (``low > limit``). The interval's
lower half-width ``estimate - low`` is the sampling spread at the size it was measured at, so at
that size the smallest drop that FAILs (rather than comes out inconclusive) is about
``limit + (estimate - low)``: the minimum detectable drop. A half-width shrinks as ``1/sqrt(n)``
in the number of resampled units (val images), so an inconclusive verdict is decided at about
``n * (half-width / distance to the limit)^2`` units. Over training seeds the half-width is a
Student t one, ``t(n - 1) * sd / sqrt(n)``: the deciding seed count also counts the quantile's
fall (12.7 at two seeds, 4.3 at three, 95 %). Both are read off the measured interval, not
assumed from a model of the metric.
"""

from __future__ import annotations

import math

from harness.measure.stats import Interval
from harness.metrics import SEED_UNIT

__all__ = ["MAX_SEEDS", "deciding_size", "detectable_drop"]

MAX_SEEDS = 1000
"""The most seeds :func:`deciding_size` reports for an interval over training seeds."""


def detectable_drop(interval: Interval, limit: float) -> float:
    """The smallest drop that would FAIL against ``limit`` at the interval's size."""
    return limit + (interval.estimate - interval.low)


def deciding_size(interval: Interval, limit: float) -> int | None:
    """About how many units (val images) would make an inconclusive drop verdict PASS or FAIL;
    None when the interval's size is unknown or the estimate sits exactly on the limit."""
    if interval.n is None:
        return None
    gap = interval.estimate - limit
    half = interval.estimate - interval.low if gap > 0 else interval.high - interval.estimate
    if gap == 0 or half <= 0:
        return None if gap == 0 else interval.n
    if interval.unit == SEED_UNIT and interval.n >= 2:
        return _deciding_seeds(interval.n, half / abs(gap), interval.confidence)
    return max(interval.n, math.ceil(interval.n * (half / abs(gap)) ** 2))


def _deciding_seeds(seeds: int, ratio: float, confidence: float) -> int:
    """Seeds at which a Student t half-width, ``ratio`` times the distance to the limit at ``seeds``,
    shrinks to that distance: it scales as ``t(m - 1) / sqrt(m)`` (the per-seed spread held), so
    the t quantile's fall with more seeds counts too. Capped at :data:`MAX_SEEDS`."""
    from scipy.stats import t as student_t  # scipy comes with Ultralytics; not needed at import

    q = 0.5 + confidence / 2.0
    scale = ratio * math.sqrt(seeds) / float(student_t.ppf(q, seeds - 1))
    for m in range(seeds, MAX_SEEDS + 1):
        if scale * float(student_t.ppf(q, m - 1)) / math.sqrt(m) <= 1.0:
            return m
    return MAX_SEEDS
