"""The TFLite INT8 study: where a full-integer TFLite YOLO loses its mAP, and what INT8 keeps.

Users report full-integer YOLO TFLite models losing most of their mAP. For each model of the
matrix with TFLite INT8 variants, the study quantizes the same FP32 ``.tflite`` four ways
(:mod:`harness.builders.tflite`), calibrated on the same images:

- ``none``: everything INT8 but the graph's input and output (Ultralytics' ``int8=True`` recipe),
  the box decode and the DFL included;
- ``decode``: the decode kept float, as on every other backend (the matrix's TFLite INT8);
- ``head``: the head's output convolutions kept float as well;
- ``silu``: the decode and every SiLU activation (its LOGISTIC and MUL ops) kept float.

Each is scored on the val split with its mAP50-95 drop below TFLite FP32 (paired bootstrap over the
val images), timed interleaved against TFLite FP32 on the LiteRT interpreter's XNNPACK delegate,
and sized. The bar: the matrix's INT8 keeps at least ``min_ratio`` (0.9) of FP32's mAP50-95.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import partial

from harness.bench import Bench
from harness.builders import build
from harness.builders.tflite import FLOAT_SCOPES, TfliteQuantRecipe
from harness.checks import check_interval_bound
from harness.errors import BackendUnavailable
from harness.measure.latency import interleave
from harness.measure.mapboot import paired_map_drop
from harness.measure.seeds import span_fields
from harness.measure.size import file_bytes
from harness.measure.stats import Interval
from harness.recipes import Variant
from harness.results import TFLITE, StudyColumn, StudyLayout
from harness.studies.base import Bar, NotMeasurable, Study

__all__ = ["MIN_RATIO", "TfliteCase", "TfliteRow", "TfliteStudy", "cases", "measure_case"]

MIN_RATIO = 0.9
MATRIX_SCOPE = "decode"
_MIB = 1024 * 1024
_SCOPE_LABELS = {
    "none": "INT8, everything quantized (Ultralytics int8=True)",
    "decode": "INT8, decode in float (the matrix's)",
    "head": "INT8, decode and head output convolutions in float",
    "silu": "INT8, decode and every SiLU (LOGISTIC, MUL) in float",
}


@dataclass(frozen=True)
class TfliteCase:
    """One model's TFLite FP32 and its INT8 variant of the matrix."""

    fp32: Variant
    int8: Variant

    @property
    def slug(self) -> str:
        """Test id, e.g. ``yolo11n-tflite-int8``."""
        return f"{self.int8.model}-tflite-int8"


@dataclass
class TfliteRow:
    """mAP50-95, drop, latency and size per float scope (and FP32)."""

    case: TfliteCase
    maps: dict[str, float] = field(default_factory=dict)  # "fp32" or a scope
    drops: dict[str, Interval] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    speedups: dict[str, Interval | None] = field(default_factory=dict)
    size_mb: dict[str, float] = field(default_factory=dict)

    def to_dicts(self) -> list[dict[str, object]]:
        """One JSON row for FP32, then one per scope."""
        return [self._row(key) for key in ("fp32", *FLOAT_SCOPES) if key in self.maps]

    def _row(self, key: str) -> dict[str, object]:
        drop, speed, fp32 = self.drops.get(key), self.speedups.get(key), self.maps["fp32"]
        return {
            "case": self.case.slug, "model": self.case.int8.model, "scope": key,
            "variant": "FP32" if key == "fp32" else _SCOPE_LABELS[key], "map50_95": self.maps[key],
            "map_ratio": self.maps[key] / fp32 if fp32 else None,
            **span_fields("drop", "drop", drop), "latency_median_ms": self.latency_ms.get(key),
            **span_fields("speedup_vs_fp32", "speedup", speed),
            "size_mb": self.size_mb.get(key),
        }  # fmt: skip


def cases(bench: Bench) -> list[TfliteCase]:
    """One case per model with an unpruned TFLite INT8 variant in the matrix."""
    found: dict[str, TfliteCase] = {}
    for variant in bench.variants:
        if (
            variant.backend == "tflite"
            and variant.quant is not None
            and variant.prune is None
            and not variant.distill
        ):
            fp32 = variant.unpruned(precision="fp32", quant=None)
            found.setdefault(variant.model, TfliteCase(fp32, variant))
    return list(found.values())


def measure_case(bench: Bench, case: TfliteCase) -> TfliteRow:
    """Quantize at every scope (cached), score, time against TFLite FP32 and size each."""
    row = TfliteRow(case)
    try:
        fp32_runner = bench.runner(case.fp32)
    except BackendUnavailable as exc:
        raise NotMeasurable(f"{case.slug}: {exc}") from exc
    fp32_table = bench.matches(case.fp32)
    row.maps["fp32"] = bench.accuracy(case.fp32).map50_95
    row.size_mb["fp32"] = file_bytes(fp32_runner.artifact) / _MIB
    verdicts, lat = bench.config.verdicts, bench.config.latency
    x = bench.input_batch(case.fp32, 1)
    matrix = build(_scope_recipe(case, MATRIX_SCOPE), bench.ctx)
    for scope in FLOAT_SCOPES:
        artifact = matrix if scope == MATRIX_SCOPE else build(_scope_recipe(case, scope), bench.ctx)
        runner = bench.runner_at(case.int8, artifact.path, artifact.sha256)
        result, table = bench.score_runner(runner, case.int8)
        row.maps[scope] = result.map50_95
        row.drops[scope] = paired_map_drop(
            table, fp32_table, verdicts.accuracy_confidence, verdicts.accuracy_resamples
        )
        timed = interleave(partial(runner, x), partial(fp32_runner, x), lat.interleaved_rounds, lat.warmup)
        row.latency_ms[scope] = timed.candidate_median_s * 1e3
        row.latency_ms["fp32"] = timed.reference_median_s * 1e3
        row.speedups[scope] = timed.interval(verdicts.latency_confidence)
        row.size_mb[scope] = file_bytes(artifact.path) / _MIB
    return row


def _scope_recipe(case: TfliteCase, scope: str) -> TfliteQuantRecipe:
    """The matrix variant's INT8 recipe with ``scope`` kept in float."""
    from harness.backends.tflite_backend import tflite_recipe

    recipe = tflite_recipe(case.int8)
    assert isinstance(recipe, TfliteQuantRecipe)
    return dataclasses.replace(recipe, float_scope=scope)


def _ratio_bar(bench: Bench, case: TfliteCase, row: TfliteRow) -> Bar:
    """The matrix's INT8 mAP50-95 at least MIN_RATIO x TFLite FP32, judged on its drop interval."""
    fp32 = row.maps["fp32"]
    limit = (1.0 - MIN_RATIO) * fp32
    worst = row.maps.get("none")
    context = (
        f"keep {MIN_RATIO:.0%} of TFLite FP32 {fp32:.4f}; everything quantized: "
        f"{'-' if worst is None else format(worst, '.4f')}"
    )
    check = check_interval_bound(
        "tflite_int8_drop", case.slug, "TFLite INT8 mAP50-95 drop below TFLite FP32", row.drops.get(MATRIX_SCOPE),
        limit, at_most=True, context=context, inconclusive_fails=bench.config.verdicts.inconclusive_fails,
    )  # fmt: skip
    return Bar("int8_ratio", (check,))


LAYOUT = StudyLayout(
    "TFLite INT8: where the loss comes from (LiteRT interpreter, XNNPACK)",
    (
        StudyColumn("model", "model"),
        StudyColumn("variant", "variant"),
        StudyColumn("map50_95", "mAP50-95", 4),
        StudyColumn("map_ratio", "x FP32", 3),
        StudyColumn("drop", "drop vs FP32", 4),
        StudyColumn("drop_ci_low", "drop CI low", 4),
        StudyColumn("drop_ci_high", "drop CI high", 4),
        StudyColumn("latency_median_ms", "p50 ms", 2),
        StudyColumn("speedup_vs_fp32", "vs FP32 (interleaved)", 2),
        StudyColumn("speedup_ci_low", "speed CI low", 2),
        StudyColumn("speedup_ci_high", "speed CI high", 2),
        StudyColumn("size_mb", "size MB", 2),
    ),
)


class TfliteStudy(Study[TfliteCase, TfliteRow]):
    """TFLite INT8 as a study: a case per model; the 0.9x FP32 mAP bar."""

    name = TFLITE
    empty = "no TFLite INT8 variant in the matrix (backend tflite, precision int8)"
    layout = LAYOUT

    def cases(self, bench: Bench) -> list[TfliteCase]:
        """One case per model (:func:`cases`)."""
        return cases(bench)

    def measure(self, bench: Bench, case: TfliteCase) -> TfliteRow:
        """Quantize at every scope, score and time (:func:`measure_case`)."""
        return measure_case(bench, case)

    def rows(self, bench: Bench, row: TfliteRow) -> list[dict[str, object]]:
        """FP32 and one row per float scope."""
        return row.to_dicts()

    def bars(self, bench: Bench, case: TfliteCase, row: TfliteRow) -> list[Bar]:
        """int8_ratio (see the module docstring)."""
        return [_ratio_bar(bench, case, row)]

    def summary(self, case: TfliteCase, row: TfliteRow) -> str:
        """mAP50-95 of FP32 and each scope on one line."""
        parts = [f"{key} {row.maps[key]:.4f}" for key in ("fp32", *FLOAT_SCOPES) if key in row.maps]
        return f"harness: tflite {case.slug}: mAP50-95 {' / '.join(parts)} (INT8 float scopes)"
