"""Latency against a stored baseline that survives a change of machine.

CI runners differ from run to run, so a baseline's absolute latency says little on the next
runner. What does carry over:

1. **The baseline's artifact**, when it is here (the cache restored by CI, or rebuilt from the same
   recipe: same key, same sha256): it is timed interleaved with the candidate in this run, on this
   machine, and the ratio gets the same interval verdict as every speedup check; a FAIL is
   measured again on a fresh load of both and stands only when it fails again (:mod:`harness.confirm`).
2. Otherwise **the same-run ratios**: this run's speedup against the reference over the one stored
   with the baseline (both measured interleaved against the FP32 PyTorch reference). Weaker: the
   reference's own speed may move differently from the variant's between machines; the verdict
   says so.
3. Otherwise, on the same fingerprint only, absolute latency (:func:`check_latency_regression`).
"""

from __future__ import annotations

import numpy as np

from harness.backends.base import Runner
from harness.baselines import Baseline
from harness.checks import CheckResult, check_baseline_speed, check_latency_regression
from harness.config.budgets import Budget
from harness.confirm import confirm_fail
from harness.measure.speed import renamed_speedup
from harness.measure.stats import Interval
from harness.recipes import Variant
from harness.run import HarnessRun, Metrics

__all__ = ["AB", "RATIOS", "baseline_speed"]

AB = "its artifact timed interleaved with this one, this run"
AB_ROUNDS = 3
"""The A/B against a baseline's artifact takes this many times the profile's interleaved rounds:
one check per variant, and the one that must tell a 15 % slowdown from noise on any runner."""
RATIOS = (
    "weaker: the baseline's artifact is not here, so same-run speedups against the reference are compared"
)


def baseline_speed(
    run: HarnessRun,
    variant: Variant,
    runner: Runner,
    x: np.ndarray,
    baseline: Baseline | None,
    same_machine: bool,
    now: tuple[Metrics, Interval | None],
    budget: Budget,
) -> CheckResult:
    """The latency-regression verdict of ``variant`` against ``baseline`` (see the module doc);
    ``now`` is this run's speed metrics and its speedup interval against the reference."""
    metrics, speedup = now
    fails = run.config.verdicts.inconclusive_fails
    ref = baseline.artifact(variant.slug) if baseline else None
    path = ref.locate(run.bench.ctx.cache.root) if ref else None
    if ref is not None and path is not None:
        artifact = (path, ref.sha256)
        timed, interval = run.bench.speedup(runner, run.bench.runner_at(variant, *artifact), x, AB_ROUNDS)
        run.record(variant, renamed_speedup(timed, "speedup_vs_baseline"))

        def again() -> CheckResult:
            ms, fresh = run.bench.fresh_speedup(variant, variant, x, AB_ROUNDS, artifact)
            return check_baseline_speed(
                budget, variant.slug, fresh, AB, ms["reference_latency_median_ms"], fails
            )

        first = check_baseline_speed(
            budget, variant.slug, interval, AB, timed["reference_latency_median_ms"], fails
        )
        return confirm_fail(first, again, fails)
    stored = baseline.metric(variant.slug, "speedup_vs_reference") if baseline else None
    if stored and speedup is not None and not variant.is_reference:
        ratio = Interval(
            speedup.estimate / stored, speedup.low / stored, speedup.high / stored, speedup.confidence
        )
        return check_baseline_speed(budget, variant.slug, ratio, RATIOS, None, fails)
    latency = metrics.get("latency_median_ms")
    old_latency = baseline.metric(variant.slug, "latency_median_ms") if baseline else None
    return check_latency_regression(budget, variant.slug, latency, old_latency, same_machine)
