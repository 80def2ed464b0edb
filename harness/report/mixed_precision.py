"""The mixed-precision table: which layers stayed in float, and what each one bought and cost.

Read from the ``mixed_precision`` study rows of ``results.json`` (one row per search step;
step 0 is full INT8). "mAP gain" and "Speed cost" are against the previous step, so each row is
the measured price of the one layer it adds; "Recovered" is cumulative.
"""

from __future__ import annotations

import math

import pandas as pd

from harness.report.tables import StudyTable
from harness.results import MIXED_PRECISION, RunResults

__all__ = ["MIXED_TABLES", "mixed_precision_table"]

_COLUMNS = (
    "Model", "Base INT8 variant", "Kept in float", "Layer added", "SQNR dB", "mAP50-95", "mAP gain",
    "Recovered %", "p50 ms", "Full INT8 p50 ms", "Speed vs full INT8",
)  # fmt: skip
_FORMATS = {
    "SQNR dB": ".1f", "mAP50-95": ".4f", "mAP gain": "+.4f", "Recovered %": ".0f", "p50 ms": ".2f",
    "Full INT8 p50 ms": ".2f", "Speed vs full INT8": ".2f",
}  # fmt: skip
LEGEND = (
    "Step 0 is full INT8. Each later row keeps one more layer in float, most sensitive (lowest SQNR "
    "of its input's own quantize-dequantize, ONNX Runtime qdq_loss_debug) first. mAP gain: against "
    "the previous row. Recovered: share of full INT8's mAP50-95 loss against FP32 taken back. "
    "Speed vs full INT8: median latency ratio, same run, interleaved (below 1 = slower)."
)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def mixed_precision_table(run: RunResults) -> pd.DataFrame:
    """One row per search step of every model's mixed-precision study."""
    rows: list[dict[str, object]] = []
    previous: dict[str, float] = {}
    for step in run.studies.get(MIXED_PRECISION, []):
        base = str(step.get("base", ""))
        kept = step.get("kept") or []
        map_ = _number(step.get("map50_95"))
        rows.append({
            "Model": step.get("model", ""), "Base INT8 variant": base, "Kept in float": len(kept),
            "Layer added": step.get("added") or "(none: full INT8)", "SQNR dB": _number(step.get("added_sqnr_db")),
            "mAP50-95": map_, "mAP gain": map_ - previous.get(base, math.nan),
            "Recovered %": 100 * _number(step.get("recovered")), "p50 ms": _number(step.get("latency_median_ms")),
            "Full INT8 p50 ms": _number(step.get("int8_latency_median_ms")),
            "Speed vs full INT8": _number(step.get("latency_vs_int8")),
        })  # fmt: skip
        previous[base] = map_
    return pd.DataFrame(rows, columns=list(_COLUMNS))


MIXED_TABLES: dict[str, StudyTable] = {
    "mixed-precision": StudyTable(
        "INT8 mixed precision by sensitivity", mixed_precision_table, LEGEND, _FORMATS
    ),
}
