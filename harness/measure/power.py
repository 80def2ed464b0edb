"""The power of an interval verdict on a drop: what it can detect, and what would decide it.

A drop check FAILs when the whole interval lies above the limit (``low > limit``). The interval's
lower half-width ``estimate - low`` is the sampling spread at the size it was measured at, so at
that size the smallest drop that FAILs (rather than comes out inconclusive) is about
``limit + (estimate - low)``: the minimum detectable drop. A half-width shrinks as ``1/sqrt(n)``
in the number of resampled units (val images), so an inconclusive verdict is decided at about
``n * (half-width / distance to the limit)^2`` units. Both are read off the measured interval, not
assumed from a model of the metric.
"""

from __future__ import annotations

import math

from harness.measure.stats import Interval

__all__ = ["deciding_size", "detectable_drop"]


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
    return max(interval.n, math.ceil(interval.n * (half / abs(gap)) ** 2))
