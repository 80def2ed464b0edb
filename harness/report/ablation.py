"""The ablation table, from the ``ablation`` study rows of results.json.

Per model: Baseline, +KD, +INT8, +Multi-scale training, +TTA, +Pruning, All combined; mAP50,
mAP50-95, parameters, latency, speedup and size, each with its delta against the row's baseline:
the Baseline row, except where a row was compared with another model (+TTA with the PyTorch
reference; for a user's ``.pt``, +Multi-scale training with the same fine-tune without
``multi_scale``), whose figures the row records. A row that was not measured shows ``-`` and its
reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from harness.config.ablation import ROWS
from harness.metrics import SEED_UNIT
from harness.report.tables import StudyTable, number_or_nan
from harness.results import ABLATION, RunResults

__all__ = ["ABLATION_TABLES", "ablation_table"]

_FORMATS = {
    "mAP50": ".4f", "Δ mAP50": "+.4f", "mAP50-95": ".4f", "Δ mAP50-95": "+.4f",
    "Params M": ".3f", "Δ params %": "+.1f", "Latency ms": ".2f", "Δ latency %": "+.1f",
    "Speedup": ".2f", "Size MB": ".2f", "Δ size %": "+.1f",
}  # fmt: skip
ABLATION_LEGEND = (
    "Each row adds one technique to Baseline (the FP32 reference); All combined stacks the ones that "
    "compose. Δ = row - its baseline (mAP absolute; params, latency, size in %; latency and size against "
    "Baseline on the row's runtime): Baseline, except +TTA (the PyTorch reference) and, for a user's .pt, "
    "+Multi-scale training (the same fine-tune of the .pt without multi_scale). Latency: batch-1 median "
    "on the row's runtime, timed interleaved against Baseline on the same runtime in this run; "
    "Speedup = Baseline / row on that runtime, the centre of its 99 % interval over the interleaved "
    "pairs of calls. mAP50-95 is the row's checkpoint at the run's seed. Δ mAP50-95 and its CI: "
    "for a row that trains (+KD, +Multi-scale training, +Pruning, All combined) the mean over the Seeds "
    "column's training seeds and its 95 % interval over seeds and val images; otherwise (Seeds `-`: one "
    "seed, or nothing trained) a 95 % paired bootstrap over val images against Baseline. `-` = not measured; "
    "the Note says why or what the row holds."
)


def _pair(value: object, digits: int, sign: str = "") -> str:
    """``[low, high]`` as text; ``-`` when absent."""
    if (
        not isinstance(value, Sequence)
        or len(value) != 2
        or not all(isinstance(v, int | float) for v in value)
    ):
        return "-"
    low, high = (round(float(v), digits) + 0.0 for v in value)  # + 0.0: no "-0.0000"
    return f"{low:{sign}.{digits}f} to {high:{sign}.{digits}f}"


def _percent(value: float, base: float) -> float:
    return 100.0 * (value - base) / base if base > 0 else math.nan


def _baseline_map(row: Mapping[str, object], base: Mapping[str, object], key: str) -> float:
    """The row's own baseline's ``key`` (``map50`` or ``map50_95``) where the row recorded it,
    else the Baseline row's (results written before rows recorded it)."""
    own = row.get(f"baseline_{key}")
    return number_or_nan(own if isinstance(own, int | float) else base.get(key))


def _row(row: Mapping[str, object], base: Mapping[str, object]) -> dict[str, object]:
    """One table row with its deltas against its baseline (see :func:`_baseline_map`)."""
    m50, m = number_or_nan(row.get("map50")), number_or_nan(row.get("map50_95"))
    params, size, lat = (number_or_nan(row.get(k)) for k in ("params", "file_bytes", "latency_ms"))
    drop = row.get("map_drop_ci")
    drop_ci = [-drop[1], -drop[0]] if isinstance(drop, Sequence) and len(drop) == 2 else None
    return {
        "Model": row.get("model", ""),
        "Row": row.get("row", ""),
        "mAP50": m50,
        "Δ mAP50": m50 - _baseline_map(row, base, "map50"),
        "mAP50-95": m,
        "Δ mAP50-95": _delta(row, m - _baseline_map(row, base, "map50_95")),
        "Δ mAP50-95 CI": _pair(drop_ci, 4, "+"),
        "Seeds": row.get("map_drop_n") if row.get("map_drop_unit") == SEED_UNIT else "-",
        "Params M": params / 1e6,
        "Δ params %": _percent(params, number_or_nan(base.get("params"))),
        "Latency ms": lat,
        "Δ latency %": _percent(lat, number_or_nan(row.get("baseline_latency_ms"))),
        "Speedup": number_or_nan(row.get("speedup")),
        "Speedup CI": _pair(row.get("speedup_ci"), 2),
        "Size MB": size / 1e6,
        "Δ size %": _percent(size, number_or_nan(row.get("baseline_file_bytes"))),
        "Runtime": row.get("runtime") or "-",
        "Note": _note(row),
    }


def _delta(row: Mapping[str, object], measured: float) -> float:
    """The judged change: minus the recorded mean drop over seeds where there is one."""
    drop = row.get("map_drop")
    return -float(drop) if isinstance(drop, int | float) else measured


def _note(row: Mapping[str, object]) -> str:
    parts = [str(row.get(k)) for k in ("components", "reason") if row.get(k)]
    return "; ".join(parts) or "-"


def ablation_table(run: RunResults) -> pd.DataFrame:
    """Per model, the seven ablation rows in order (missing ones with their reason)."""
    by_model: dict[str, dict[str, Mapping[str, object]]] = {}
    for row in run.studies.get(ABLATION, []):
        by_model.setdefault(str(row.get("model", "")), {})[str(row.get("row", ""))] = row
    rows = []
    for model, found in by_model.items():
        base = found.get("Baseline", {})
        for name in ROWS:
            rows.append(_row(found.get(name, {"model": model, "row": name, "reason": "not run"}), base))
    columns = ["Model", "Row", "mAP50", "Δ mAP50", "mAP50-95", "Δ mAP50-95", "Δ mAP50-95 CI", "Seeds",
               "Params M", "Δ params %", "Latency ms", "Δ latency %", "Speedup", "Speedup CI", "Size MB",
               "Δ size %", "Runtime", "Note"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


ABLATION_TABLES: dict[str, StudyTable] = {
    "ablation": StudyTable("Ablation", ablation_table, ABLATION_LEGEND, _FORMATS),
}
