"""The mixed-precision study: take back the mAP the worst ONNX Runtime INT8 configuration loses.

For one model: among the matrix's ONNX Runtime static QDQ INT8 variants, the one with the lowest
mAP50-95 is the base. Each group of its quantized layers (one module) is put back in float on its
own and scored on held-out labelled images (:mod:`harness.builders.quantize.revert`, cached):
the measured mAP it takes back ranks it. The best groups are then kept in float one more per
step (:mod:`harness.builders.quantize.sensitivity`) until the target mAP holds on the val split.
Every step is built, evaluated on the val split, and timed interleaved against the full-INT8 base
in the same run, so each kept group's mAP gain and speed cost are measured, not estimated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from harness.backends.onnxruntime_backend import OrtRunner
from harness.bench import Bench
from harness.builders import build
from harness.builders.quantize.onnxruntime import OrtQuantRecipe
from harness.builders.quantize.revert import GroupGain, RevertGainsRecipe, read_gains
from harness.builders.quantize.sensitivity import MixedStep, ranked, search
from harness.checks import CheckResult, check_map_drop
from harness.config import MixedPrecisionSpec
from harness.config.budgets import Budget
from harness.config.verdicts import VerdictSpec
from harness.errors import BackendUnavailable
from harness.measure.latency import interleave
from harness.measure.mapboot import MatchTable, paired_map_drop
from harness.measure.stats import Interval
from harness.planning import onnxruntime_recipe
from harness.recipes import Variant
from harness.results import MIXED_PRECISION
from harness.studies.base import Bar, NotMeasurable, Study

__all__ = [
    "MixedPrecisionCase",
    "MixedPrecisionSearch",
    "MixedPrecisionStudy",
    "candidates",
    "nothing_to_recover",
    "run_study",
    "target_check",
    "worst_int8",
]


@dataclass(frozen=True)
class MixedPrecisionSearch:
    """The measured search for one model: base variant, its losses, ranked layers and every step."""

    model: str
    base: str  # slug of the full-INT8 variant
    float_map: float  # the same graph in FP32 on ONNX Runtime
    int8_map: float
    target_map: float
    groups: tuple[GroupGain, ...]  # ranked: largest share of the output error removed first
    steps: tuple[MixedStep, ...]
    last_drop: Interval | None = None  # mAP50-95 drop of the last step vs FP32, paired bootstrap
    int8_drop: Interval | None = None  # full INT8's mAP50-95 drop vs FP32, paired bootstrap

    @property
    def measurable_loss(self) -> bool:
        """Whether full INT8 lost mAP50-95 that the val split resolves: a positive loss whose drop
        interval against FP32 excludes zero (without an interval, any positive loss)."""
        return self.loss > 0 and (self.int8_drop is None or self.int8_drop.low > 0)

    @property
    def loss(self) -> float:
        """mAP50-95 lost by full INT8 against FP32."""
        return self.float_map - self.int8_map

    def recovered(self, step: MixedStep) -> float | None:
        """Fraction of the loss ``step`` takes back (None when full INT8 lost nothing)."""
        return (step.map50_95 - self.int8_map) / self.loss if self.loss > 0 else None

    @property
    def allowed_drop(self) -> float:
        """The largest mAP50-95 drop against FP32 that meets the target."""
        return self.float_map - self.target_map

    @property
    def reached(self) -> bool:
        """Whether the last step holds the target mAP."""
        return bool(self.steps) and self.steps[-1].map50_95 >= self.target_map

    def rows(self) -> list[dict[str, object]]:
        """One JSON-ready row per step, for results.json and the report."""
        by_name = {group.name: group for group in self.groups}
        out: list[dict[str, object]] = []
        last = self.steps[-1] if self.steps else None
        for step in self.steps:
            judged = self.last_drop if step is last else None
            # latency_ratio = full-INT8 median / this step's median, measured together
            int8_ms = step.latency_ms * step.latency_ratio if step.latency_ms and step.latency_ratio else None
            added = by_name[step.kept[-1]] if step.kept else None
            out.append({
                "model": self.model, "base": self.base, "kept": list(step.kept),
                "added": added.name if added else None, "added_nodes": list(added.nodes) if added else [],
                "added_error_removed": added.gain if added else None, "map50_95": step.map50_95,
                "recovered": self.recovered(step), "float_map50_95": self.float_map,
                "int8_map50_95": self.int8_map, "target_map50_95": self.target_map,
                "latency_median_ms": step.latency_ms, "int8_latency_median_ms": int8_ms,
                "latency_vs_int8": step.latency_ratio,
                "drop_ci_low": judged.low if judged else None,
                "drop_ci_high": judged.high if judged else None,
            })  # fmt: skip
        return out


def candidates(bench: Bench, model: str) -> list[Variant]:
    """The model's ONNX Runtime INT8 variants the search can take apart: static, QDQ."""
    return [
        v
        for v in bench.variants
        if v.model == model and v.backend == "onnxruntime" and v.quant is not None
        and v.quant.method == "static" and v.quant.format == "qdq"
    ]  # fmt: skip


def worst_int8(bench: Bench, model: str) -> Variant | None:
    """The candidate with the lowest mAP50-95 (ties: the first in matrix order), or None."""
    measured = []
    for variant in candidates(bench, model):
        try:
            measured.append((bench.accuracy(variant).map50_95, variant))
        except BackendUnavailable:
            continue
    return min(measured, key=lambda pair: pair[0])[1] if measured else None


def run_study(
    bench: Bench,
    base: Variant,
    spec: MixedPrecisionSpec,
    max_drop: float,
    target_map: float | None = None,
    confidence: float = VerdictSpec.accuracy_confidence,
    resamples: int = VerdictSpec.accuracy_resamples,
) -> MixedPrecisionSearch:
    """Measure each of ``base``'s layer groups in float, then keep the best ones in float, one more
    per step, until the target holds.

    Target (unless ``target_map`` is given): the INT8 loss shrinks to at most
    ``(1 - spec.recover)`` of itself and to at most ``max_drop`` (the variant's mAP budget),
    whichever is stricter. When full INT8 loses nothing that the val split resolves (its own drop
    interval against FP32 reaches zero) the study has no steps: there is no measured loss to take
    back, and a target of half of noise could not be shown by any step. Each step's drop against
    FP32 gets a paired bootstrap interval over the val images (``confidence``, ``resamples``); the
    search stops at the first step whose whole interval is within the allowed
    drop, so that the target is met by a PASS like every other accuracy budget's.
    """
    recipe = onnxruntime_recipe(base, 1)
    if not isinstance(recipe, OrtQuantRecipe) or recipe.data is None:
        raise ValueError(f"{base.slug} is not a static ONNX Runtime INT8 variant")
    fp32 = dataclasses.replace(base, precision="fp32", quant=None)
    float_map = bench.accuracy(fp32).map50_95
    int8_map = bench.accuracy(base).map50_95
    loss = float_map - int8_map
    reference = bench.matches(fp32)
    int8_drop = paired_map_drop(bench.matches(base), reference, confidence, resamples)
    empty = MixedPrecisionSearch(
        base.model, base.slug, float_map, int8_map, int8_map, (), (), None, int8_drop
    )
    if target_map is None and not empty.measurable_loss:  # nothing measured to take back: no steps
        return empty
    target = target_map if target_map is not None else float_map - min(max_drop, (1.0 - spec.recover) * loss)
    gains = build(RevertGainsRecipe(recipe, spec.search_images, recipe.versions), bench.ctx)
    groups = tuple(ranked(read_gains(gains.path)[1]))
    tables: dict[tuple[str, ...], MatchTable] = {}
    drops: dict[tuple[str, ...], Interval] = {}

    def holds(step: MixedStep) -> bool:
        """The step's whole drop interval against FP32 within the allowed drop: a PASS, not a
        point estimate that an inconclusive policy would let through."""
        drops[step.kept] = paired_map_drop(tables[step.kept], reference, confidence, resamples)
        return drops[step.kept].high <= float_map - target + 1e-9

    steps = search(_step_measure(bench, base, recipe, tables), recipe, groups, holds, spec.max_steps)
    drop = drops[steps[-1].kept] if steps else None
    return MixedPrecisionSearch(
        base.model, base.slug, float_map, int8_map, target, groups, tuple(steps), drop, int8_drop
    )


def target_check(study: MixedPrecisionSearch, inconclusive_fails: bool = False) -> CheckResult:
    """Did the search reach its target? The last step's drop against FP32 against the allowed drop.

    Like every accuracy budget, with the study's interval the check fails only when the whole
    interval exceeds the allowed drop; one that straddles it is inconclusive (``inconclusive_fails``
    decides). Without an interval it compares the point values.
    """
    if not study.steps:
        raise ValueError(f"{study.base}: the study has no steps to judge (full INT8 lost nothing)")
    last = study.steps[-1]
    name = f"{study.base} with {len(last.kept)} layer groups in float"
    if study.allowed_drop < 0:
        target, fp32 = study.target_map, study.float_map
        raise ValueError(f"{study.base}: target mAP50-95 {target:.4f} is above FP32's {fp32:.4f}")
    budget = Budget(max_map_drop=study.allowed_drop)
    value, reference = last.map50_95, study.float_map
    return check_map_drop(budget, name, value, reference, None, study.last_drop, inconclusive_fails)


def _step_measure(
    bench: Bench, base: Variant, full: OrtQuantRecipe, tables: dict[tuple[str, ...], MatchTable]
) -> Callable[[OrtQuantRecipe, tuple[str, ...]], MixedStep]:
    """A ``search`` callback: build one step, evaluate it, time it interleaved against full INT8.

    Each step's val detections, matched per image, go to ``tables`` under its kept group names.
    """
    ctx, lat = bench.ctx, bench.config.latency
    base_runner = bench.runner(base)
    x = bench.input_batch(base, 1)

    def measure(recipe: OrtQuantRecipe, kept: tuple[str, ...]) -> MixedStep:
        if recipe == full:  # step 0 is the base variant: its scores are the bench's already
            runner = base_runner
            result, tables[kept] = bench.accuracy(base), bench.matches(base)
        else:
            artifact = build(recipe, ctx)
            runner = OrtRunner(artifact.path, artifact.sha256, ["CPUExecutionProvider"], ctx.threads)
            result, tables[kept] = bench.score_runner(runner, base)
        timed = interleave(lambda: runner(x), lambda: base_runner(x), lat.interleaved_rounds, lat.warmup)
        return MixedStep(kept, result.map50_95, timed.speedup, 1e3 * timed.candidate_median_s)

    return measure


def nothing_to_recover(study: MixedPrecisionSearch) -> str:
    """Why a search without a measured INT8 loss has no target to judge."""
    values = f"{study.int8_map:.4f} vs FP32 {study.float_map:.4f}"
    if study.loss <= 0:
        return f"{study.base}: full INT8 lost no mAP50-95 ({values}); nothing to recover"
    drop = study.int8_drop
    assert drop is not None  # a positive loss is unmeasurable only through its interval
    return (
        f"{study.base}: full INT8's mAP50-95 loss {study.loss:.4f} ({values}; "
        f"{drop.confidence:.0%} CI {drop.low:.4f}-{drop.high:.4f} over {drop.n} {drop.unit}) is not "
        "distinguishable from zero; no measured loss to recover"
    )


@dataclass(frozen=True)
class MixedPrecisionCase:
    """One model's search; its slug is the model name."""

    model: str

    @property
    def slug(self) -> str:
        """Test id: the model name."""
        return self.model


class MixedPrecisionStudy(Study[MixedPrecisionCase, MixedPrecisionSearch]):
    """Mixed precision as a study: one search per model, one bar (the target reached)."""

    name = MIXED_PRECISION
    table = "mixed_precision"
    fixture = "mixed_precision_case"

    def cases(self, bench: Bench) -> list[MixedPrecisionCase]:
        """One case per model (a model without a subject skips with the reason when measured)."""
        return [MixedPrecisionCase(m) for m in bench.models]

    def measure(self, bench: Bench, case: MixedPrecisionCase) -> MixedPrecisionSearch:
        """The search on the model's worst static QDQ ONNX Runtime INT8 variant."""
        spec = bench.config.mixed_precision
        if spec is None:
            raise NotMeasurable(
                "no [mixed_precision] table in the config (the default and full profiles have one)"
            )
        if not candidates(bench, case.model):
            raise NotMeasurable(
                f"{case.model}: the matrix has no static QDQ ONNX Runtime INT8 variant to study"
            )
        base = worst_int8(bench, case.model)
        if base is None:
            raise NotMeasurable(f"{case.model}: none of its ONNX Runtime INT8 variants can run here")
        reference_map = bench.accuracy(base.reference()).map50_95
        budget = bench.config.budgets.for_variant(base.slug, base.precision).limit(
            "max_map_drop", reference_map
        )
        verdicts = bench.config.verdicts
        limit = budget if budget is not None else 1.0
        level, draws = verdicts.accuracy_confidence, verdicts.accuracy_resamples
        return run_study(bench, base, spec, limit, confidence=level, resamples=draws)

    def rows(self, bench: Bench, row: MixedPrecisionSearch) -> list[dict[str, object]]:
        """Every step of the search (``studies.mixed_precision``)."""
        return [dict(step) for step in row.rows()]

    def bars(self, bench: Bench, case: MixedPrecisionCase, row: MixedPrecisionSearch) -> list[Bar]:
        """target: half the INT8 loss back within the INT8 budget (skipped when no loss was measured)."""
        if not row.measurable_loss:
            return [Bar.skipped("target", nothing_to_recover(row))]
        return [Bar("target", (target_check(row, bench.config.verdicts.inconclusive_fails),))]

    def summary(self, case: MixedPrecisionCase, row: MixedPrecisionSearch) -> str | None:
        """Layer groups kept in float and the mAP50-95 they took back."""
        if not row.steps:
            return None
        last = row.steps[-1]
        cost = f", {last.latency_ratio:.2f}x the speed of full INT8" if last.latency_ratio else ""
        kept = ", ".join(last.kept) or "none"
        return (
            f"harness: mixed precision {row.base}: {len(last.kept)} layer groups kept in float ({kept}), mAP50-95 "
            f"{row.int8_map:.4f} -> {last.map50_95:.4f} (FP32 {row.float_map:.4f}){cost}"
        )
