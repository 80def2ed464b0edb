"""The mixed-precision table: which layer groups stayed in float, and what each one bought and cost.

Read from the ``mixed_precision`` study rows of ``results.json`` (one row per search step;
step 0 is full INT8). "mAP gain" and "Speed vs previous" are against the previous step, so each row
is the measured price of the one group it adds; "Recovered" is cumulative.
"""

from __future__ import annotations

import math

import pandas as pd

from harness.report.tables import StudyTable
from harness.results import MIXED_PRECISION, RunResults

__all__ = ["MIXED_TABLES", "mixed_precision_table"]

_COLUMNS = (
    "Model", "Base INT8 variant", "Groups in float", "Group added", "Nodes", "Error removed %", "mAP50-95",
    "mAP gain", "Recovered %", "p50 ms", "Full INT8 p50 ms", "Speed vs full INT8", "Speed vs previous",
)  # fmt: skip
_FORMATS = {
    "Error removed %": ".0f", "mAP50-95": ".4f", "mAP gain": "+.4f", "Recovered %": ".0f", "p50 ms": ".2f",
    "Full INT8 p50 ms": ".2f", "Speed vs full INT8": ".2f", "Speed vs previous": ".2f",
}  # fmt: skip
LEGEND = (
    "Step 0 is full INT8. Each later row keeps one more layer group (module: its convolutions, "
    "activations, adds and concats) in float, the groups ranked by the share of full INT8's output error "
    "against FP32 each one alone removes on held-out images (Error removed; neither calibration nor val). mAP gain: on the "
    "val split, against the previous row. Recovered: share of full INT8's mAP50-95 loss against FP32 "
    "taken back. Speed vs full INT8: median latency ratio, same run, interleaved (below 1 = slower); "
    "Speed vs previous: the same for the one group this row adds, its cost in speed."
)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def _count(value: object) -> int:
    """The length of a stored list (0 when absent)."""
    return len(value) if isinstance(value, list) else 0


def mixed_precision_table(run: RunResults) -> pd.DataFrame:
    """One row per search step of every model's mixed-precision study."""
    rows: list[dict[str, object]] = []
    previous: dict[str, tuple[float, float]] = {}
    for step in run.studies.get(MIXED_PRECISION, []):
        base = str(step.get("base", ""))
        map_, speed = _number(step.get("map50_95")), _number(step.get("latency_vs_int8"))
        before_map, before_speed = previous.get(base, (math.nan, math.nan))
        rows.append({
            "Model": step.get("model", ""), "Base INT8 variant": base, "Groups in float": _count(step.get("kept")),
            "Group added": step.get("added") or "(none: full INT8)", "Nodes": _count(step.get("added_nodes")),
            "Error removed %": 100 * _number(step.get("added_error_removed")),
            "mAP50-95": map_, "mAP gain": map_ - before_map,
            "Recovered %": 100 * _number(step.get("recovered")), "p50 ms": _number(step.get("latency_median_ms")),
            "Full INT8 p50 ms": _number(step.get("int8_latency_median_ms")),
            "Speed vs full INT8": speed, "Speed vs previous": speed / before_speed,
        })  # fmt: skip
        previous[base] = (map_, speed)
    return pd.DataFrame(rows, columns=list(_COLUMNS))


MIXED_TABLES: dict[str, StudyTable] = {
    "mixed-precision": StudyTable(
        "INT8 mixed precision by measured loss", mixed_precision_table, LEGEND, _FORMATS
    ),
}
