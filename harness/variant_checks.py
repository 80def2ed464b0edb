"""Measure one matrix variant and build its budget checks, without pytest.

Each function records what it measured in the run's results and returns the
:class:`~harness.checks.CheckResult` verdicts (inconclusive ones are noted in the summary). A
backend that cannot run here raises :class:`~harness.errors.BackendUnavailable`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from harness.backends.base import Runner
from harness.backends.native import speed_not_gated
from harness.baseline_speed import baseline_speed
from harness.checks import (
    CheckResult,
    check_baseline_drop,
    check_fp32_speed,
    check_map_drop,
    check_speedup,
)
from harness.config.budgets import Budget
from harness.confirm import confirm_fail
from harness.measure.latency import interleave
from harness.measure.seeds import SEED_UNIT
from harness.measure.size import file_bytes
from harness.measure.speed import latency_metrics, renamed_speedup, throughput_metrics
from harness.measure.stats import Interval
from harness.probes import ProbeRequest, memory_metrics
from harness.recipes import Variant
from harness.replicates import training_difference
from harness.run import HarnessRun, Metrics

__all__ = ["accuracy_checks", "own_fp32", "repeatability", "speed_checks", "timing_input"]

THROUGHPUT_ROUNDS = 8  # timed batched calls; each is batch x slower than a batch-1 call
# Untimed batched calls first: every backend here was steady from its third batched call on
# (14 calls of batch 8 traced per backend), so the batch-1 warm-up count is not repeated.
THROUGHPUT_WARMUP = 2


def _budget(run: HarnessRun, variant: Variant) -> Budget:
    return run.config.budgets.for_variant(variant.slug, variant.precision, variant.prune is not None)


def accuracy_checks(run: HarnessRun, variant: Variant) -> list[CheckResult]:
    """mAP of the variant and of its reference; the accuracy budget checks."""
    bench, verdicts = run.bench, run.config.verdicts
    runner = bench.runner(variant)
    result, reference = bench.accuracy(variant), bench.accuracy(variant.reference())
    drop = training_difference(bench, variant.reference(), variant)  # over seeds when trained here
    metrics: Metrics = {"map50": result.map50, "map50_95": result.map50_95}
    metrics |= {"map50_95_drop_ci_low": drop.low, "map50_95_drop_ci_high": drop.high}
    if drop.unit == SEED_UNIT:
        metrics |= {"map50_95_drop_seed_mean": drop.estimate, "training_seeds": float(drop.n or 0)}
    run.record(variant, metrics, runner)
    budget, stored = _budget(run, variant), run.stored(variant, "map50_95")
    fails, value = verdicts.inconclusive_fails, reference.map50_95 - drop.estimate  # the seeds' mean
    checks = [
        check_map_drop(budget, variant.slug, value, reference.map50_95, stored, drop, fails),
        check_baseline_drop(budget, variant.slug, result.map50_95, stored),
    ]
    run.note_inconclusive(checks)
    return checks


def timing_input(run: HarnessRun, variant: Variant) -> tuple[Runner, np.ndarray]:
    """The variant's batch-1 runner and a real preprocessed val image."""
    return run.bench.runner(variant), run.bench.input_batch(variant, 1)


def speed_checks(
    run: HarnessRun, variant: Variant, runner: Runner, x: np.ndarray, samples_s: Sequence[float] | None
) -> list[CheckResult]:
    """Latency stats, same-run speedup, throughput, size and memory; the speed budget checks.

    ``runner`` and ``x`` are what :func:`timing_input` gave the benchmark; ``samples_s`` its
    batch-1 timings (None: not timed)."""
    metrics, interval = _speed_metrics(run, variant, runner, x, samples_s)
    ref_ms = metrics.pop("reference_latency_median_ms")
    run.record(variant, metrics, runner)
    baseline, same = run.baseline(variant)
    stored_speedup = baseline.metric(variant.slug, "speedup_vs_reference") if baseline else None
    fails, budget = run.config.verdicts.inconclusive_fails, _budget(run, variant)
    first = check_speedup(
        budget, variant.slug, metrics["speedup_vs_reference"], ref_ms, stored_speedup, interval, fails
    )

    def again() -> CheckResult:
        ms, fresh = run.bench.fresh_speedup(variant, variant.reference(), x)
        ratio = fresh.estimate if fresh else None
        return check_speedup(
            budget, variant.slug, ratio, ms["reference_latency_median_ms"], stored_speedup, fresh, fails
        )

    checks = [
        confirm_fail(first, again, fails),
        baseline_speed(run, variant, runner, x, baseline, same, (metrics, interval), budget),
    ]
    if variant.precision != "fp32":
        checks.append(_fp32_speed(run, variant, runner, x, budget))
    run.note_inconclusive(checks)
    return checks


def own_fp32(variant: Variant) -> Variant:
    """The FP32 variant of ``variant``'s own backend (same model, pruning and distillation)."""
    return dataclasses.replace(variant, precision="fp32", quant=None)


def _fp32_speed(
    run: HarnessRun, variant: Variant, runner: Runner, x: np.ndarray, budget: Budget
) -> CheckResult:
    """Time ``variant`` against its backend's FP32 variant, interleaved; record and check the ratio."""
    bench, verdicts = run.bench, run.config.verdicts
    fp32 = bench.runner(own_fp32(variant))
    timed, interval = bench.speedup(runner, fp32, x)
    fp32_ms = timed["reference_latency_median_ms"]
    run.record(variant, renamed_speedup(timed, "speedup_vs_fp32"))
    not_gated, fails = speed_not_gated(variant, bench.ctx.device), verdicts.inconclusive_fails
    ratio = timed["speedup_vs_reference"]

    def again() -> CheckResult:
        ms, fresh = run.bench.fresh_speedup(variant, own_fp32(variant), x)
        value = fresh.estimate if fresh else None
        return check_fp32_speed(
            budget, variant.slug, value, ms["reference_latency_median_ms"], fresh, not_gated, fails
        )

    first = check_fp32_speed(budget, variant.slug, ratio, fp32_ms, interval, not_gated, fails)
    return confirm_fail(first, again, fails)


def _speed_metrics(
    run: HarnessRun, variant: Variant, runner: Runner, x: np.ndarray, samples_s: Sequence[float] | None
) -> tuple[Metrics, Interval | None]:
    """Every speed, size and memory metric of the variant (plus the reference's median latency),
    and the interval of its same-run speedup."""
    bench, lat = run.bench, run.config.latency
    reference = bench.runner(variant.reference())
    metrics: Metrics = latency_metrics(samples_s)
    timed, interval = bench.speedup(runner, reference, x)
    metrics |= timed
    batched = bench.runner(variant, lat.throughput_batch)
    batch_x = bench.input_batch(variant, lat.throughput_batch)
    metrics |= throughput_metrics(batched, batch_x, THROUGHPUT_ROUNDS, min(lat.warmup, THROUGHPUT_WARMUP))
    metrics |= bench.network_size(variant) | {"file_bytes": float(file_bytes(runner.artifact))}
    ctx = bench.ctx
    metrics |= memory_metrics(ProbeRequest(variant, ctx.cache.root, ctx.device, ctx.threads))
    return metrics, interval


def repeatability(run: HarnessRun, reference: Variant) -> Interval:
    """Latency ratio of a model's ``reference`` against itself, interleaved in this run, with its
    interval (a point interval when too few rounds were timed for one)."""
    runner = run.bench.runner(reference)
    x = run.bench.input_batch(reference, 1)
    lat = run.config.latency
    timed = interleave(lambda: runner(x), lambda: runner(x), lat.interleaved_rounds, lat.warmup)
    level = run.config.verdicts.latency_confidence
    interval = timed.interval(level) or Interval(timed.speedup, timed.speedup, timed.speedup, level)
    run.note(f"harness: {reference.slug} measured twice, interleaved: latency ratio {interval.describe()}")
    return interval
