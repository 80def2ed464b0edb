"""Speed and footprint of every variant.

Latency is timed by pytest-benchmark's ``benchmark`` fixture (so ``--benchmark-autosave``,
``--benchmark-compare`` and ``--benchmark-json`` work as usual). pytest-benchmark switches itself
off under pytest-xdist; the same warm-up + rounds loop is then timed here (this test runs alone
there, see ``harness.timing_lock``), unless ``--benchmark-disable`` asked for no timing. The speedup
is the ratio of medians from an interleaved measurement against the FP32 PyTorch reference in the
same run.
Budgets: minimum same-run speedup; latency regression against a baseline from this machine.
"""

from __future__ import annotations

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from harness.backends.base import Runner
from harness.checks import check_bound
from harness.measure.latency import time_call
from harness.recipes import Variant
from harness.runstate import RunState
from harness.trace.record import trace_variant
from harness.variant_checks import repeatability, speed_checks, timing_input

# Both tests time latency: under pytest-xdist each runs while no other test runs (harness.timing_lock).
pytestmark = pytest.mark.harness_timing


def test_speed(
    variant: Variant, harness_state: RunState, benchmark: BenchmarkFixture, pytestconfig: pytest.Config
) -> None:
    """Benchmark batch-1 latency, then throughput, speedup, size and memory; check budgets."""
    runner, x = harness_state.call(timing_input, variant)
    lat = harness_state.config.latency
    benchmark.group = f"{variant.model}-imgsz{variant.imgsz}-batch1"
    benchmark.extra_info.update(variant=variant.slug, backend=variant.backend, precision=variant.precision)
    benchmark.pedantic(runner, args=(x,), rounds=lat.rounds, warmup_rounds=lat.warmup, iterations=1)
    samples = list(benchmark.stats.stats.data) if benchmark.stats is not None else None
    if samples is None and benchmark.disabled and not pytestconfig.getoption("benchmark_disable"):
        samples = _batch1_samples(runner, x, lat.rounds, lat.warmup)  # xdist switched pytest-benchmark off
    checks = harness_state.call(speed_checks, variant, runner, x, samples)
    if harness_state.config.latency.trace_rounds:  # --harness-trace: after the timing, never during it
        harness_state.call(trace_variant, variant, runner, x)
    harness_state.enforce(checks)


def _batch1_samples(runner: Runner, x: np.ndarray, rounds: int, warmup: int) -> list[float]:
    """Seconds per batch-1 call: ``warmup`` untimed calls, then ``rounds`` timed ones (pedantic's loop)."""
    for _ in range(warmup):
        runner(x)
    return [time_call(lambda: runner(x)) for _ in range(rounds)]


def test_repeatability(model_name: str, harness_state: RunState) -> None:
    """The reference measured twice, interleaved, in one session: the ratio is not shown to lie
    outside 0.9-1.1 (its interval does not lie wholly outside; a busy machine widens the interval).

    This is the noise floor every same-run speedup stands on.
    """
    reference = harness_state.run.bench.reference(model_name)
    ratio = harness_state.call(repeatability, reference)
    harness_state.enforce([
        check_bound("repeatability_high", reference.slug, "reference vs itself latency ratio, CI high",
                    ratio.high, 0.9, at_most=False, context=ratio.describe(), digits=3),
        check_bound("repeatability_low", reference.slug, "reference vs itself latency ratio, CI low",
                    ratio.low, 1.1, at_most=True, context=ratio.describe(), digits=3),
    ])  # fmt: skip
