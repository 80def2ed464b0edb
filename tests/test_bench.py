"""Bench.speedup: the one place a same-run speedup takes the config's rounds, warm-up and confidence."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from harness.bench import Bench
from harness.config import HarnessConfig
from harness.studies.verdict_calibration import busy_wait


def _counted(seconds: float) -> tuple[Callable[[np.ndarray], None], list[int]]:
    """A forward that busy-waits ``seconds`` per call, and its call count."""
    calls = [0]

    def forward(x: np.ndarray) -> None:
        calls[0] += 1
        busy_wait(seconds)

    return forward, calls


def test_speedup_times_with_the_configs_rounds_and_reports_a_slower_candidate(
    quick_config: HarnessConfig,
) -> None:
    bench = Bench.from_config(quick_config)
    lat = quick_config.latency
    slow, slow_calls = _counted(0.003)
    fast, _ = _counted(0.001)
    metrics, interval = bench.speedup(slow, fast, np.zeros((1, 3, 8, 8), np.float32))  # type: ignore[arg-type]
    assert interval is not None and interval.high < 1.0
    assert metrics["speedup_vs_reference"] is not None and metrics["speedup_vs_reference"] < 0.6
    assert (
        metrics["reference_latency_median_ms"] is not None and metrics["reference_latency_median_ms"] >= 1.0
    )
    # every timed round is one call, plus the warm-up and some untimed calls between blocks
    assert lat.warmup + lat.interleaved_rounds <= slow_calls[0] < lat.warmup + 2 * lat.interleaved_rounds


def test_rounds_factor_multiplies_the_timed_rounds(quick_config: HarnessConfig) -> None:
    bench = Bench.from_config(quick_config)
    lat = quick_config.latency
    candidate, calls = _counted(0.0002)
    reference, _ = _counted(0.0002)
    bench.speedup(candidate, reference, np.zeros((1,), np.float32), rounds_factor=3)  # type: ignore[arg-type]
    assert calls[0] >= lat.warmup + 3 * lat.interleaved_rounds
