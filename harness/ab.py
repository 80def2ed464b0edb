"""A/B of two models or two variants in one run: latency interleaved, mAP by paired bootstrap.

``harness compare --ab OLD NEW`` takes two checkpoints (``.pt``: both run on one backend, the
config's data and image size) or two variant ids of the config's matrix. Both are timed
interleaved on this machine in this run, so the latency ratio needs no baseline from the same
hardware, and both are scored on the same val images, so the mAP50-95 drop's interval is paired.
The verdicts use the config's budgets: ``max_map_drop`` and ``max_latency_regression``.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path

from harness.bench import Bench
from harness.checks import CheckResult, check_baseline_speed, check_map_drop
from harness.config import HarnessConfig
from harness.confirm import confirm_fail
from harness.errors import HarnessError
from harness.measure.mapboot import paired_map_drop
from harness.measure.stats import Interval
from harness.recipes import Variant

__all__ = ["ABResult", "ab_bench", "measure_ab", "render_ab"]

HOW = "A/B, interleaved in this run"


@dataclass(frozen=True)
class ABResult:
    """What the A/B measured and its two verdicts."""

    old: str
    new: str
    old_ms: float
    new_ms: float
    speed: Interval | None  # old latency / new latency: below 1 = NEW is slower
    old_map: float
    new_map: float
    drop: Interval  # mAP50-95 old - new over the same resampled val images
    checks: tuple[CheckResult, ...]

    @property
    def failed(self) -> bool:
        """Whether a verdict failed."""
        return any(c.failed for c in self.checks)


def ab_bench(config: HarnessConfig, old: str, new: str, backend: str) -> tuple[Bench, Variant, Variant]:
    """The bench and the two variants: two ``.pt`` files as models ``old`` and ``new`` in FP32 on
    ``backend``, else two variant ids of ``config``'s matrix (HarnessError naming the nearest)."""
    files = [Path(old), Path(new)]
    if all(p.suffix == ".pt" for p in files):
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise HarnessError(f"harness compare --ab: no such checkpoint: {', '.join(missing)}")
        if not config.models:
            raise HarnessError(
                "harness compare --ab: the config names no model to take training settings from"
            )
        base = config.models[0]
        models = tuple(
            dataclasses.replace(
                base, name=name, weights=path.resolve(), cfg=None, weights_sha256=None, pre_epochs=0
            )
            for name, path in (("old", files[0]), ("new", files[1]))
        )
        matrix = dataclasses.replace(config.matrix, prune=(0.0,), precision=("fp32",), backend=(backend,))
        bench = Bench.from_config(dataclasses.replace(config, models=models, matrix=matrix))
        return bench, *_find(bench, f"old-p00-fp32-{backend}", f"new-p00-fp32-{backend}")
    bench = Bench.from_config(config)
    return bench, *_find(bench, old, new)


def _find(bench: Bench, *slugs: str) -> tuple[Variant, Variant]:
    by_slug = {v.slug: v for v in bench.variants}
    for slug in slugs:
        if slug not in by_slug:
            near = difflib.get_close_matches(slug, list(by_slug), n=3, cutoff=0.4)
            hint = f"; nearest: {', '.join(near)}" if near else ""
            raise HarnessError(f"harness compare --ab: {slug!r} is neither a .pt file nor a variant id{hint}")
    return by_slug[slugs[0]], by_slug[slugs[1]]


def measure_ab(bench: Bench, old: Variant, new: Variant) -> ABResult:
    """Time both interleaved, score both on the same val images, judge with the config's budgets
    (a latency FAIL stands only when a fresh load of both fails again: :mod:`harness.confirm`)."""
    x = bench.input_batch(new, 1)
    timed, speed = bench.speedup(bench.runner(new), bench.runner(old), x)
    verdicts = bench.config.verdicts
    drop = paired_map_drop(
        bench.matches(new), bench.matches(old), verdicts.accuracy_confidence, verdicts.accuracy_resamples
    )
    old_map, new_map = bench.accuracy(old).map50_95, bench.accuracy(new).map50_95
    budget = bench.config.budgets.for_variant(new.slug, new.precision, new.prune is not None)
    subject = f"{new.slug} vs {old.slug}"
    fails = verdicts.inconclusive_fails
    old_ms = timed["reference_latency_median_ms"] or 0.0

    def again() -> CheckResult:
        ms, interval = bench.fresh_speedup(new, old, x)
        return check_baseline_speed(budget, subject, interval, HOW, ms["reference_latency_median_ms"], fails)

    checks = (
        check_map_drop(budget, subject, new_map, old_map, None, drop, fails, against="OLD, same val images"),
        confirm_fail(check_baseline_speed(budget, subject, speed, HOW, old_ms, fails), again, fails),
    )
    new_ms = old_ms / timed["speedup_vs_reference"] if timed["speedup_vs_reference"] else 0.0
    return ABResult(old.slug, new.slug, old_ms, new_ms, speed, old_map, new_map, drop, checks)


def render_ab(result: ABResult) -> str:
    """The A/B as Markdown: a two-row table, then one verdict line per check."""
    speed = result.speed.describe(3, "x") if result.speed else "-"
    lines = [
        f"## A/B: `{result.new}` against `{result.old}`",
        "",
        "| | p50 ms | mAP50-95 |",
        "|:--|--:|--:|",
        f"| OLD `{result.old}` | {result.old_ms:.3f} | {result.old_map:.4f} |",
        f"| NEW `{result.new}` | {result.new_ms:.3f} | {result.new_map:.4f} |",
        "",
        (
            f"Speed of NEW relative to OLD (OLD p50 / NEW p50, interleaved): {speed}. "
            f"mAP50-95 drop (paired bootstrap, same val images): {result.drop.describe(4)}."
        ),
        "",
    ]
    for check in result.checks:
        lines.append(f"- {check.verdict.upper()} {check.message}")
    return "\n".join(lines) + "\n"
