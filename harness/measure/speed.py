"""Speed figures of a variant, measured in the same run as its reference."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from harness.measure.latency import LATENCY_METRICS, Interleaved, LatencySummary, interleave, throughput
from harness.measure.stats import DEFAULT_CONFIDENCE, Interval

__all__ = [
    "Forward",
    "Metrics",
    "interleaved_metrics",
    "latency_metrics",
    "renamed_speedup",
    "speedup_metrics",
    "throughput_metrics",
]

Metrics = dict[str, float | None]

Forward = Callable[[np.ndarray], np.ndarray]
"""A loaded model as timed here: float32 NCHW batch in, raw output on the host back (any runner)."""


def latency_metrics(samples_s: Sequence[float] | None) -> Metrics:
    """Latency statistics from raw samples; every figure None when nothing was timed."""
    if not samples_s:
        return dict.fromkeys(LATENCY_METRICS)
    return dict(LatencySummary.from_seconds(samples_s).as_metrics())


def speedup_metrics(
    candidate: Forward,
    reference: Forward,
    x: np.ndarray,
    rounds: int,
    warmup: int,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[Metrics, Interval | None]:
    """Interleaved same-run speedup of ``candidate`` over ``reference`` on the same input, with its
    confidence interval (None when too few rounds were timed for one)."""
    return interleaved_metrics(
        interleave(lambda: candidate(x), lambda: reference(x), rounds, warmup), confidence
    )


def interleaved_metrics(
    result: Interleaved, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[Metrics, Interval | None]:
    """:func:`speedup_metrics`' figures and interval from samples already taken (``result``)."""
    interval = result.interval(confidence)
    metrics: Metrics = {
        "speedup_vs_reference": result.speedup,
        "speedup_ci_low": interval.low if interval else None,
        "speedup_ci_high": interval.high if interval else None,
        "reference_latency_median_ms": result.reference_median_s * 1e3,
    }
    return metrics, interval


def renamed_speedup(timed: Metrics, name: str) -> Metrics:
    """:func:`speedup_metrics`' ratio and interval under ``name`` (e.g. ``speedup_vs_fp32``, with
    ``speedup_vs_fp32_ci_low`` and ``_ci_high``) for a comparison against another than the reference."""
    return {
        name: timed["speedup_vs_reference"],
        f"{name}_ci_low": timed["speedup_ci_low"],
        f"{name}_ci_high": timed["speedup_ci_high"],
    }


def throughput_metrics(runner: Forward, x: np.ndarray, rounds: int, warmup: int) -> Metrics:
    """Images per second at the batch size of ``x``."""
    batch = int(x.shape[0])
    return {
        "throughput_ips": throughput(lambda: runner(x), batch, rounds, warmup),
        "throughput_batch": float(batch),
    }
