"""Speed and footprint of every variant.

Latency is timed by pytest-benchmark's ``benchmark`` fixture (so ``--benchmark-autosave``,
``--benchmark-compare`` and ``--benchmark-json`` work as usual). The speedup is the ratio of
medians from an interleaved measurement against the FP32 PyTorch reference in the same run.
Budgets: minimum same-run speedup; latency regression against a baseline from this machine.
"""

from __future__ import annotations

from pytest_benchmark.fixture import BenchmarkFixture

from harness.recipes import Variant
from harness.runstate import RunState


def test_speed(variant: Variant, harness_state: RunState, benchmark: BenchmarkFixture) -> None:
    """Benchmark batch-1 latency, then throughput, speedup, size and memory; check budgets."""
    runner, x = harness_state.timing_input(variant)
    lat = harness_state.config.latency
    benchmark.group = f"{variant.model}-imgsz{variant.imgsz}-batch1"
    benchmark.extra_info.update(variant=variant.slug, backend=variant.backend, precision=variant.precision)
    benchmark.pedantic(runner, args=(x,), rounds=lat.rounds, warmup_rounds=lat.warmup, iterations=1)
    samples = list(benchmark.stats.stats.data) if benchmark.stats is not None else None
    checks = harness_state.measure_speed(variant, runner, x, samples)
    harness_state.enforce(checks)


def test_repeatability(model_name: str, harness_state: RunState) -> None:
    """The reference measured twice, interleaved, in one session: the ratio stays within 0.9-1.1.

    This is the noise floor every same-run speedup stands on.
    """
    ratio = harness_state.measure_repeatability(model_name)
    assert 0.9 <= ratio <= 1.1, f"{model_name}: reference vs itself latency ratio {ratio:.3f} outside 0.9-1.1"
