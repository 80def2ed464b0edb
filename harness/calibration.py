"""Calibration of the verdicts on this machine: do they cry wolf, do they sleep?

- **A/A**: a variant timed interleaved against itself, ``trials`` times; each comparison is judged
  like a same-run speedup budget of 1.0x (the candidate must not be slower). A FAIL is a false
  alarm.
- **Injected slowdown**: the same variant with a busy-wait of ``slowdown`` x each call's own time
  after it, against the plain variant; a FAIL is a detection.
- **Accuracy**: the reference's own val detections with box noise calibrated so that mAP50-95
  drops by ``drop`` (one point by default); judged with a limit of 0 (no loss allowed), the paired
  bootstrap must flag it, and must not flag the reference against itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from harness.measure.latency import interleave, time_call
from harness.measure.map import Detections, GroundTruth, mean_average_precision
from harness.measure.mapboot import MatchTable, paired_map_drop
from harness.measure.stats import Interval, Verdict, false_alarm_bound, verdict

__all__ = [
    "CALIBRATION",
    "LatencyTrials",
    "latency_trials",
    "busy_wait",
    "slowed",
    "degrade",
    "degrade_to",
    "accuracy_flags",
]

Call = Callable[[], object]
CALIBRATION = "verdict_calibration"
"""The study's name in results.json ``studies``."""


@dataclass(frozen=True)
class LatencyTrials:
    """Verdicts of repeated interleaved comparisons against a minimum speedup of ``limit``."""

    verdicts: tuple[Verdict, ...]
    intervals: tuple[Interval, ...]
    limit: float

    @property
    def failures(self) -> int:
        """Comparisons judged FAIL."""
        return sum(v is Verdict.FAIL for v in self.verdicts)

    @property
    def rate(self) -> float:
        """Share of comparisons judged FAIL."""
        return self.failures / len(self.verdicts)

    def summary(self) -> dict[str, object]:
        """JSON-ready figures, with a one-sided 95 % upper bound of the FAIL rate."""
        return {
            "trials": len(self.verdicts),
            "fail": self.failures,
            "inconclusive": sum(v is Verdict.INCONCLUSIVE for v in self.verdicts),
            "fail_rate": self.rate,
            "fail_rate_upper95": false_alarm_bound(self.failures, len(self.verdicts)),
            "median_speedup": float(np.median([i.estimate for i in self.intervals])),
            "median_ci_width": float(np.median([i.high - i.low for i in self.intervals])),
        }


def latency_trials(
    candidate: Call,
    reference: Call,
    trials: int,
    rounds: int,
    warmup: int,
    confidence: float,
    limit: float = 1.0,
) -> LatencyTrials:
    """``trials`` interleaved comparisons, each judged against ``min_speedup = limit``."""
    verdicts, intervals = [], []
    for _ in range(trials):
        interval = interleave(candidate, reference, rounds, warmup).interval(confidence)
        if interval is None:
            raise ValueError(f"{rounds} interleaved rounds are too few for an interval (need 3 blocks)")
        verdicts.append(verdict(interval, limit, higher_is_better=True))
        intervals.append(interval)
    return LatencyTrials(tuple(verdicts), tuple(intervals), limit)


def busy_wait(seconds: float) -> None:
    """Spin on the clock for ``seconds`` (a sleep would hand the core to someone else)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def slowed(fn: Call, slowdown: float) -> Call:
    """``fn`` made ``slowdown`` slower: each call busy-waits ``slowdown`` x that call's own time.

    A wait fixed from a median taken beforehand would be a different share of each call once the
    machine switches latency regime (13 ms and 20 ms here): a 2.0 ms wait set in the slow regime
    slowed 13 ms calls by 15 %, not 10 %.
    """

    def call() -> None:
        busy_wait(slowdown * time_call(fn))

    return call


def degrade(dets: Sequence[Detections], sigma: float, seed: int = 0) -> list[Detections]:
    """Detections with every box corner moved by Gaussian noise of ``sigma`` x the box size."""
    rng = np.random.default_rng(seed)
    out = []
    for det in dets:
        size = np.tile(det.boxes[:, 2:] - det.boxes[:, :2], 2)
        boxes = det.boxes + rng.standard_normal(det.boxes.shape) * sigma * size
        out.append(Detections(boxes, det.scores, det.classes))
    return out


def degrade_to(
    dets: Sequence[Detections], gts: Sequence[GroundTruth], drop: float, tolerance: float = 0.001
) -> tuple[list[Detections], float]:
    """Box noise found by bisection so that mAP50-95 drops by ``drop`` (+- tolerance); returns the
    degraded detections and the exact drop."""
    base = mean_average_precision(dets, gts).map50_95
    low, high = 0.0, 0.5
    for _ in range(30):
        sigma = (low + high) / 2
        worse = degrade(dets, sigma)
        lost = base - mean_average_precision(worse, gts).map50_95
        if abs(lost - drop) <= tolerance:
            return worse, lost
        low, high = (sigma, high) if lost < drop else (low, sigma)
    raise ValueError(f"no box noise gives a mAP50-95 drop of {drop} +- {tolerance}")


def accuracy_flags(
    variant: MatchTable, reference: MatchTable, confidence: float, resamples: int
) -> tuple[Verdict, Interval]:
    """The accuracy verdict with no loss allowed (limit 0): FAIL means "flagged as worse"."""
    interval = paired_map_drop(variant, reference, confidence, resamples)
    return verdict(interval, 0.0, higher_is_better=False), interval
