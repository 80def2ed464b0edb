"""Confidence intervals and three-way verdicts for latency ratios and mAP differences.

Latency: the candidate and the reference are timed in the same run, interleaved in short blocks
(:func:`harness.measure.latency.interleave`). Consecutive samples are correlated (the machine's
state drifts), so the interval is built from whole *blocks*: the log-ratio of each candidate
block's median to the median of the reference block timed beside it. Accuracy: the mAP
difference between a variant and its reference is bootstrapped over validation images, the same
resampled images for both (a paired bootstrap; see :mod:`harness.measure.mapboot`).

A budget then fails only when the whole interval lies on the wrong side of its limit; an interval
that straddles the limit is *inconclusive*, and a policy decides whether that passes.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_CONFIDENCE",
    "Interval",
    "Verdict",
    "false_alarm_bound",
    "paired_block_speedup",
    "percentile_interval",
    "verdict",
]

DEFAULT_CONFIDENCE = 0.99


class Verdict(enum.Enum):
    """Outcome of a budget check that has an interval."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Interval:
    """A point estimate with its two-sided confidence interval ``[low, high]``."""

    estimate: float
    low: float
    high: float
    confidence: float
    n: int | None = None  # independent units it was computed from (val images, timed pairs)
    unit: str = "val images"  # what ``n`` counts, for power messages ("training seeds": replicates)

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise ValueError(f"interval low {self.low} > high {self.high}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")

    def describe(self, digits: int = 3, suffix: str = "") -> str:
        """``1.234x (99% CI 1.200x-1.260x)``."""
        f = f".{digits}f"
        return (
            f"{self.estimate:{f}}{suffix} ({self.confidence:.0%} CI "
            f"{self.low:{f}}{suffix}-{self.high:{f}}{suffix})"
        )


def verdict(interval: Interval, limit: float, higher_is_better: bool) -> Verdict:
    """PASS when the whole interval is on the good side of ``limit`` (touching it counts as good),
    FAIL when it is wholly on the bad side, else INCONCLUSIVE."""
    low, high = (interval.low, interval.high) if higher_is_better else (-interval.high, -interval.low)
    bound = limit if higher_is_better else -limit
    tol = 1e-9 * max(1.0, abs(bound))
    if low >= bound - tol:
        return Verdict.PASS
    if high < bound - tol:
        return Verdict.FAIL
    return Verdict.INCONCLUSIVE


def percentile_interval(estimate: float, draws: np.ndarray, confidence: float) -> Interval:
    """Percentile bootstrap interval of ``draws`` around ``estimate``."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(draws, [alpha, 1.0 - alpha])
    return Interval(float(estimate), float(min(low, estimate)), float(max(high, estimate)), confidence)


def _block_medians(samples: Sequence[float], block: int) -> np.ndarray:
    """Median of each complete block of ``block`` samples (a short last block is dropped)."""
    arr = np.asarray(samples, dtype=np.float64)
    n = len(arr) // block
    if n < 3:
        raise ValueError(f"need at least 3 blocks of {block} samples, got {len(arr)} samples")
    if not np.all(arr > 0):
        raise ValueError("latency samples must be positive")
    return np.median(arr[: n * block].reshape(n, block), axis=1)


def paired_block_speedup(
    candidate_s: Sequence[float],
    reference_s: Sequence[float],
    block: int,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Interval:
    """Interval of the speedup reference / candidate from samples interleaved in blocks.

    Candidate block i and reference block i were timed next to each other, so the log-ratio of
    their medians cancels the machine's drift; the blocks' log-ratios are then treated as
    independent, and a Student t interval of their mean is taken back to a ratio. (A percentile
    bootstrap over the same few blocks was too narrow: about 2 % A/A false alarms at a nominal
    0.5 % in simulation, against 0.3-0.5 % for this interval; tests/measure/test_stats.py.)
    """
    from scipy.stats import t as student_t  # scipy comes with Ultralytics; not needed at import

    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    cand, ref = _block_medians(candidate_s, block), _block_medians(reference_s, block)
    if cand.shape != ref.shape:
        raise ValueError(f"candidate and reference differ in blocks: {len(cand)} vs {len(ref)}")
    logs = np.log(ref / cand)
    mean, sem = float(logs.mean()), float(logs.std(ddof=1) / np.sqrt(len(logs)))
    half = float(student_t.ppf(0.5 + confidence / 2.0, len(logs) - 1)) * sem
    return Interval(math.exp(mean), math.exp(mean - half), math.exp(mean + half), confidence)


def false_alarm_bound(failures: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided upper confidence bound of a failure rate (Clopper-Pearson), for calibration reports."""
    if trials < 1 or not 0 <= failures <= trials:
        raise ValueError(f"need 0 <= failures <= trials, trials >= 1; got {failures}/{trials}")
    if failures == trials:
        return 1.0
    from scipy.stats import beta  # only the calibration report needs scipy

    return float(beta.ppf(confidence, failures + 1, trials - failures))
