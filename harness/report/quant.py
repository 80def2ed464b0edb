"""Quantization tables from run results: precision comparison and the INT8 studies.

Every table is read from ``results.json`` records (never from models). The mAP loss of a row is
measured against the same model's FP32 PyTorch reference in the same run; an INT8 row whose median
latency is above the FP32 variant of the same backend is flagged "SLOWER than FP32".
"""

from __future__ import annotations

import math

import pandas as pd

from harness.report.tables import StudyTable
from harness.results import RunResults, VariantResult

__all__ = ["LEGEND", "QUANT_TABLES", "SLOWER", "precision_table", "slower_than_fp32", "study_table"]

SLOWER = "SLOWER than FP32"
LEGEND = (
    f"mAP loss: vs the same model's FP32 PyTorch reference; `{SLOWER}`: INT8 slower than FP32 on its backend."
)
_FORMATS = {"Size MB": ".2f", "p50 ms": ".2f", "Speedup": ".2f", "mAP50-95": ".4f", "mAP loss": "+.4f"}


def _metric(result: VariantResult | None, name: str) -> float:
    value = None if result is None else result.metrics.get(name)
    return math.nan if value is None else float(value)


def _fp32_twin(run: RunResults, result: VariantResult) -> VariantResult | None:
    """The FP32 variant of the same model, prune ratio and backend in this run."""
    for other in run.variants:
        if (other.model, other.prune, other.backend, other.precision) == (
            result.model, result.prune, result.backend, "fp32",
        ):  # fmt: skip
            return other
    return None


def _reference(run: RunResults, result: VariantResult) -> VariantResult | None:
    return run.variant(f"{result.model}-p00-fp32-torch")


def slower_than_fp32(run: RunResults, result: VariantResult) -> bool | None:
    """Whether an INT8 variant's median latency is above its backend's FP32 variant's (None: not an
    INT8 variant, or either latency not measured)."""
    if result.precision != "int8":
        return None
    mine, fp32 = _metric(result, "latency_median_ms"), _metric(_fp32_twin(run, result), "latency_median_ms")
    if math.isnan(mine) or math.isnan(fp32):
        return None
    return mine > fp32


def _slower_flag(run: RunResults, result: VariantResult) -> str:
    if result.precision != "int8":
        return ""
    slower = slower_than_fp32(run, result)
    return "-" if slower is None else SLOWER if slower else ""


def _quant(result: VariantResult) -> dict[str, object]:
    quant = result.recipe.get("quant")
    return quant if isinstance(quant, dict) else {}


def _row(run: RunResults, result: VariantResult) -> dict[str, object]:
    config = result.variant.split(f"-{result.precision}-", 1)[-1].removesuffix(f"-{result.backend}")
    size = _metric(result, "file_bytes")
    return {
        "Model": result.model,
        "Backend": result.backend,
        "Precision": result.precision,
        "Config": config if result.precision == "int8" else "",
        "Size MB": size / 1e6,
        "p50 ms": _metric(result, "latency_median_ms"),
        "Speedup": _metric(result, "speedup_vs_reference"),
        "mAP50-95": _metric(result, "map50_95"),
        "mAP loss": _metric(_reference(run, result), "map50_95") - _metric(result, "map50_95"),
        "Flag": _slower_flag(run, result),
    }


def _ran(run: RunResults) -> list[VariantResult]:
    """Variants that ran (skipped ones are listed, with their reason, in the deployment table)."""
    return [result for result in run.variants if result.status != "skipped"]


def precision_table(run: RunResults) -> pd.DataFrame:
    """FP32 / FP16 / BF16 / INT8 side by side: size, speed and mAP loss per backend."""
    rows = [_row(run, r) for r in _ran(run) if r.prune == 0.0]
    return pd.DataFrame(rows, columns=list(_row_columns()))


def study_table(run: RunResults, knob: str, label: str) -> pd.DataFrame:
    """INT8 rows compared along one QuantSpec knob (e.g. ``method``, ``calibration``).

    Empty unless the knob takes at least two values among the variants that ran: a study
    needs something to compare.
    """
    rows = []
    for result in _ran(run):
        quant = _quant(result)
        if result.precision == "int8" and knob in quant:
            rows.append({label: _knob_text(knob, quant[knob]), **_row(run, result)})
    frame = pd.DataFrame(rows, columns=[label, *_row_columns()])
    if frame[label].nunique() < 2:
        return frame.iloc[0:0]
    return frame.sort_values([label, "Backend"], kind="stable")


def _knob_text(knob: str, value: object) -> object:
    if knob == "per_channel":
        return "per-channel" if value else "per-tensor"
    return value


def _row_columns() -> tuple[str, ...]:
    return ("Model", "Backend", "Precision", "Config", "Size MB", "p50 ms", "Speedup", "mAP50-95",
            "mAP loss", "Flag")  # fmt: skip


def _study(title: str, knob: str, label: str) -> StudyTable:
    """The INT8 table that compares rows along QuantSpec field ``knob``, headed ``label``."""
    return StudyTable(title, lambda run: study_table(run, knob, label), LEGEND, _FORMATS)


QUANT_TABLES: dict[str, StudyTable] = {
    "precision": StudyTable("Precision comparison", precision_table, LEGEND, _FORMATS),
    "int8-method": _study("INT8: dynamic vs static", "method", "Method"),
    "int8-granularity": _study("INT8: per-tensor vs per-channel", "per_channel", "Granularity"),
    "int8-calibration": _study("INT8: calibration method", "calibration", "Calibration"),
    "int8-calib-size": _study("INT8: calibration set size", "calib_size", "Calibration images"),
    "int8-ops": _study("INT8: quantized operator types", "ops", "Operators"),
}
"""File stem -> table. A table with no rows is not written."""
