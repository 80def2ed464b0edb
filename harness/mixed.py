"""The mixed-precision study: take back the mAP the worst ONNX Runtime INT8 configuration loses.

For one model: among the matrix's ONNX Runtime static QDQ INT8 variants, the one with the lowest
mAP50-95 is the base. Its quantized layers are ranked by ONNX Runtime's SQNR
(:mod:`harness.build.quantize.sensitivity`), then kept in float one at a time, most sensitive
first, until the target mAP holds. Every step is built, evaluated on the val split, and timed
interleaved against the full-INT8 base in the same run, so each kept layer's mAP gain and speed
cost are measured, not estimated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from harness.backends.onnxruntime_backend import OrtRunner, artifact_recipe
from harness.budgets import Budget, CheckResult, check_map_drop
from harness.build import build, materialize
from harness.build.quantize.calibration import calibration_images
from harness.build.quantize.onnxruntime import OrtQuantRecipe
from harness.build.quantize.sensitivity import (
    LayerSensitivity,
    MixedStep,
    layer_sensitivity,
    search,
)
from harness.config import MixedPrecisionSpec
from harness.errors import BackendUnavailable
from harness.measure.latency import interleave
from harness.measure.mapboot import MatchTable, paired_map_drop
from harness.measure.stats import Interval
from harness.recipes import Variant
from harness.session import HarnessSession
from harness.verdictconfig import VerdictSpec

__all__ = ["MIXED_PRECISION", "MixedPrecisionStudy", "candidates", "worst_int8", "run_study", "target_check"]

MIXED_PRECISION = "mixed_precision"
"""The study's name in results.json ``studies``."""


@dataclass(frozen=True)
class MixedPrecisionStudy:
    """The measured search for one model: base variant, its losses, ranked layers and every step."""

    model: str
    base: str  # slug of the full-INT8 variant
    float_map: float  # the same graph in FP32 on ONNX Runtime
    int8_map: float
    target_map: float
    layers: tuple[LayerSensitivity, ...]
    steps: tuple[MixedStep, ...]
    last_drop: Interval | None = None  # mAP50-95 drop of the last step vs FP32, paired bootstrap

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
        sqnr = {layer.node: layer.sqnr_db for layer in self.layers}
        out = []
        last = self.steps[-1] if self.steps else None
        for step in self.steps:
            judged = self.last_drop if step is last else None
            # latency_ratio = full-INT8 median / this step's median, measured together
            int8_ms = step.latency_ms * step.latency_ratio if step.latency_ms and step.latency_ratio else None
            added = step.kept[-1] if step.kept else None
            out.append({
                "model": self.model, "base": self.base, "kept": list(step.kept), "added": added,
                "added_sqnr_db": sqnr.get(added) if added else None, "map50_95": step.map50_95,
                "recovered": self.recovered(step), "float_map50_95": self.float_map,
                "int8_map50_95": self.int8_map, "target_map50_95": self.target_map,
                "latency_median_ms": step.latency_ms, "int8_latency_median_ms": int8_ms,
                "latency_vs_int8": step.latency_ratio,
                "drop_ci_low": judged.low if judged else None,
                "drop_ci_high": judged.high if judged else None,
            })  # fmt: skip
        return out


def candidates(session: HarnessSession, model: str) -> list[Variant]:
    """The model's ONNX Runtime INT8 variants that SQNR can rank: static, QDQ, all operator types."""
    return [
        v
        for v in session.variants
        if v.model == model and v.backend == "onnxruntime" and v.quant is not None
        and v.quant.method == "static" and v.quant.format == "qdq"
    ]  # fmt: skip


def worst_int8(session: HarnessSession, model: str) -> Variant | None:
    """The candidate with the lowest mAP50-95 (ties: the first in matrix order), or None."""
    measured = []
    for variant in candidates(session, model):
        try:
            measured.append((session.accuracy(variant).map50_95, variant))
        except BackendUnavailable:
            continue
    return min(measured, key=lambda pair: pair[0])[1] if measured else None


def run_study(
    session: HarnessSession,
    base: Variant,
    spec: MixedPrecisionSpec,
    max_drop: float,
    target_map: float | None = None,
    confidence: float = VerdictSpec.accuracy_confidence,
    resamples: int = VerdictSpec.accuracy_resamples,
) -> MixedPrecisionStudy:
    """Rank ``base``'s layers, then keep them in float one at a time until the target holds.

    Target (unless ``target_map`` is given): the INT8 loss shrinks to at most
    ``(1 - spec.recover)`` of itself and to at most ``max_drop`` (the variant's mAP budget),
    whichever is stricter. When full INT8 loses nothing the study has no steps. The last step's
    drop against FP32 comes with a paired bootstrap interval over the val images
    (``confidence``, ``resamples``), for a verdict like every other accuracy budget's.
    """
    recipe = artifact_recipe(base, 1)
    if not isinstance(recipe, OrtQuantRecipe) or recipe.data is None:
        raise ValueError(f"{base.slug} is not a static ONNX Runtime INT8 variant")
    fp32 = dataclasses.replace(base, precision="fp32", quant=None)
    float_map = session.accuracy(fp32).map50_95
    int8_map = session.accuracy(base).map50_95
    loss = float_map - int8_map
    if target_map is None and loss <= 0:  # nothing to take back: no ranking, no steps
        return MixedPrecisionStudy(base.model, base.slug, float_map, int8_map, int8_map, (), ())
    target = target_map if target_map is not None else float_map - min(max_drop, (1.0 - spec.recover) * loss)
    layers = _rank(session, recipe, spec.sensitivity_images)
    tables: dict[tuple[str, ...], MatchTable] = {}
    measure = _step_measure(session, base, recipe, tables)
    steps = search(measure, recipe, layers, target, steps=range(min(spec.max_layers, len(layers)) + 1))
    drop = None
    if steps:
        drop = paired_map_drop(tables[steps[-1].kept], session.matches(fp32), confidence, resamples)
    return MixedPrecisionStudy(
        base.model, base.slug, float_map, int8_map, target, tuple(layers), tuple(steps), drop
    )


def target_check(study: MixedPrecisionStudy, inconclusive_fails: bool = False) -> CheckResult:
    """Did the search reach its target? The last step's drop against FP32 against the allowed drop.

    Like every accuracy budget, with the study's interval the check fails only when the whole
    interval exceeds the allowed drop; one that straddles it is inconclusive (``inconclusive_fails``
    decides). Without an interval it compares the point values.
    """
    if not study.steps:
        raise ValueError(f"{study.base}: the study has no steps to judge (full INT8 lost nothing)")
    last = study.steps[-1]
    name = f"{study.base} with {len(last.kept)} layers in float"
    if study.allowed_drop < 0:
        target, fp32 = study.target_map, study.float_map
        raise ValueError(f"{study.base}: target mAP50-95 {target:.4f} is above FP32's {fp32:.4f}")
    budget = Budget(max_map_drop=study.allowed_drop)
    value, reference = last.map50_95, study.float_map
    return check_map_drop(budget, name, value, reference, None, study.last_drop, inconclusive_fails)


def _rank(session: HarnessSession, recipe: OrtQuantRecipe, n_images: int) -> list[LayerSensitivity]:
    """Layers of ``recipe``'s graph, most sensitive first, on its first calibration images."""
    assert recipe.data is not None  # checked by the caller
    n = min(n_images, recipe.quant.calib_size)
    images = calibration_images(materialize(recipe.data, session.ctx), recipe.source.imgsz, n)
    return layer_sensitivity(build(recipe, session.ctx).path, images)


def _step_measure(
    session: HarnessSession, base: Variant, full: OrtQuantRecipe, tables: dict[tuple[str, ...], MatchTable]
) -> Callable[[OrtQuantRecipe], MixedStep]:
    """A ``search`` callback: build one step, evaluate it, time it interleaved against full INT8.

    Each step's val detections, matched per image, go to ``tables`` under its kept layers.
    """
    ctx, lat = session.ctx, session.config.latency
    base_runner = session.runner(base)
    x = session.input_batch(base, 1)

    def measure(recipe: OrtQuantRecipe) -> MixedStep:
        if recipe == full:  # step 0 is the base variant: its scores are the session's already
            runner = base_runner
            result, tables[recipe.keep_float] = session.accuracy(base), session.matches(base)
        else:
            artifact = build(recipe, ctx)
            runner = OrtRunner(artifact.path, artifact.sha256, ["CPUExecutionProvider"], ctx.threads)
            result, tables[recipe.keep_float] = session.score_runner(runner, base)
        timed = interleave(lambda: runner(x), lambda: base_runner(x), lat.interleaved_rounds, lat.warmup)
        return MixedStep(recipe.keep_float, result.map50_95, timed.speedup, 1e3 * timed.candidate_median_s)

    return measure
