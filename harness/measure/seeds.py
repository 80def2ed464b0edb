"""Intervals for claims about training outcomes: training-seed noise and val-image noise together.

A KD gain, a pruning recovery or a multi-scale row compares two *trained* models. One training
seed's difference mixes the effect with that seed's luck (KD's gain over its control was +0.0113
on average over four seeds with an SD of 0.0066), and a bootstrap over val images alone does not
see that luck. Here each of R seeds gives a pair (treated, control) trained with that seed, both
scored on the same val images, and the interval of the mean paired difference combines two
independent parts in quadrature:

- the seeds: a Student t half-width ``t(R-1) * sd / sqrt(R)`` of the R per-seed differences (a
  bootstrap over two or three seeds would be far too narrow; with few seeds the t quantile is
  large, and the interval says honestly how little R seeds decide);
- the images: a paired percentile bootstrap of the seed mean over the val images (the same image
  draw for every model, so image difficulty still cancels).

With one seed the seed spread is unmeasured: the interval is the images' only, and its ``unit``
says so.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from harness.measure.mapboot import DEFAULT_MAP_RESAMPLES, MatchTable
from harness.measure.stats import DEFAULT_CONFIDENCE, Interval, percentile_interval
from harness.metrics import SEED_UNIT

__all__ = ["SEED_UNIT", "interval_fields", "replicate_difference", "seed_half_width"]


def seed_half_width(per_seed: Sequence[float], confidence: float) -> float:
    """Student t half-width of the mean of per-seed differences (0 for a single seed)."""
    if len(per_seed) < 2:
        return 0.0
    from scipy.stats import t as student_t  # scipy comes with Ultralytics; not needed at import

    sem = float(np.std(per_seed, ddof=1)) / math.sqrt(len(per_seed))
    return float(student_t.ppf(0.5 + confidence / 2.0, len(per_seed) - 1)) * sem


def replicate_difference(
    pairs: Sequence[tuple[MatchTable, MatchTable]],
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_MAP_RESAMPLES,
    seed: int = 0,
) -> Interval:
    """Interval of the mean over training seeds of mAP50-95(treated) - mAP50-95(control), from one
    ``(treated, control)`` pair of match tables per seed (see the module docstring).

    The interval's ``n`` is the number of seeds and its ``unit`` :data:`SEED_UNIT` when there are
    two or more (what more replicates would narrow); with one, the val images."""
    if not pairs:
        raise ValueError("no seed replicate to compare")
    n_images = pairs[0][0].n_images
    if any(t.n_images != n_images or c.n_images != n_images for t, c in pairs):
        raise ValueError("every replicate must be scored on the same val images")
    ones = np.ones((1, n_images))
    per_seed = [float(t.map50_95(ones)[0] - c.map50_95(ones)[0]) for t, c in pairs]
    draws = np.mean([t.bootstrap(resamples, seed) - c.bootstrap(resamples, seed) for t, c in pairs], axis=0)
    mean = float(np.mean(per_seed))
    images = percentile_interval(mean, draws, confidence)
    if len(pairs) == 1:
        return dataclasses.replace(images, n=n_images)
    seeds = seed_half_width(per_seed, confidence)
    low = mean - math.hypot(mean - images.low, seeds)
    high = mean + math.hypot(images.high - mean, seeds)
    return Interval(mean, low, high, confidence, len(pairs), SEED_UNIT)


def seed_count(interval: Interval) -> int | None:
    """Training seeds an interval averages over: its ``n`` for a seed interval, else 1."""
    return interval.n if interval.unit == SEED_UNIT else 1


def interval_fields(name: str, interval: Interval | None) -> dict[str, object]:
    """JSON row fields ``<name>_seed_mean``, ``<name>_ci_low``, ``<name>_ci_high`` and
    ``<name>_seeds`` (1 when the interval is over val images only; all None: not measured)."""
    keys = [f"{name}_{k}" for k in ("seed_mean", "ci_low", "ci_high", "seeds")]
    if interval is None:
        return dict.fromkeys(keys)
    return dict(
        zip(keys, (interval.estimate, interval.low, interval.high, seed_count(interval)), strict=True)
    )


def span_fields(value: str, prefix: str, interval: Interval | None) -> dict[str, object]:
    """JSON row fields ``<value>`` (the estimate), ``<prefix>_ci_low`` and ``<prefix>_ci_high``
    (all None: not measured), e.g. ``speedup_vs_fp32`` with ``speedup_ci_low``."""
    figures = (interval.estimate, interval.low, interval.high) if interval else (None, None, None)
    return dict(zip((value, f"{prefix}_ci_low", f"{prefix}_ci_high"), figures, strict=True))
