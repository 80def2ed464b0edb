"""Tables rendered from run results (never from models): pandas frames, Markdown, CSV.

Numeric cells hold floats with NaN where a metric was not measured; every rendering
shows such a cell as ``-`` (never 0).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from harness.metrics import METRICS
from harness.results import RunResults, VariantResult

__all__ = [
    "DEPLOYMENT_COLUMNS",
    "DIFF_COLUMNS",
    "MISSING",
    "Column",
    "StudyTable",
    "deployment_table",
    "diff_table",
    "number_or_nan",
    "to_csv",
    "to_markdown",
]

MISSING = "-"


def number_or_nan(value: object) -> float:
    """A study row's JSON number as a float; NaN (rendered ``-``) for null, text or a bool."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan


def span_text(value: object, low: object, high: object, spec: str = "+.4f", unit: str = "") -> str:
    """``+0.0113 (-0.0040 to +0.0266)``: a figure and its interval; ``-`` when any is missing."""
    numbers = [number_or_nan(v) for v in (value, low, high)]
    if any(math.isnan(n) for n in numbers):
        return "-"
    mean, lo, hi = numbers
    return f"{mean:{spec}}{unit} ({lo:{spec}}{unit} to {hi:{spec}}{unit})"


def seed_interval_text(row: Mapping[str, object], name: str) -> str:
    """A row's mean over seeds ``<name>_seed_mean`` with its interval (see :func:`span_text`)."""
    return span_text(row.get(f"{name}_seed_mean"), row.get(f"{name}_ci_low"), row.get(f"{name}_ci_high"))


@dataclass(frozen=True)
class StudyTable:
    """A report table beyond the deployment table: title, builder from results, legend, formats, and
    the columns whose values are paths inside the run folder (links in report.html)."""

    title: str
    build: Callable[[RunResults], pd.DataFrame]
    legend: str
    formats: Mapping[str, str]
    links: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Column:
    """A numeric table column: header, source metric, unit divisor and decimals shown."""

    header: str
    metric: str
    divisor: float = 1.0
    digits: int = 2


DEPLOYMENT_COLUMNS = (
    Column("p50 ms", "latency_median_ms"),
    Column("p95 ms", "latency_p95_ms"),
    Column("p99 ms", "latency_p99_ms"),
    Column("Throughput img/s", "throughput_ips", digits=1),
    Column("Peak mem MiB", "peak_memory_mb", digits=1),
    Column("Params M", "params", divisor=1e6, digits=3),
    Column("GFLOPs", "gflops"),
    Column("Size MB", "file_bytes", divisor=1e6),
    Column("mAP50", "map50", digits=4),
    Column("mAP50-95", "map50_95", digits=4),
    Column("Speedup", "speedup_vs_reference"),
)
_TEXT = ("Variant", "Model", "Backend", "Precision")
_FORMATS = {c.header: f".{c.digits}f" for c in DEPLOYMENT_COLUMNS} | {"Prune": ".2f"}
DIFF_COLUMNS = ("Variant", "Metric", "Unit", "Old", "New", "Delta", "Change %")
_DIFF_FORMATS = {"Old": ".6g", "New": ".6g", "Delta": "+.4g", "Change %": "+.1f"}


def _row(result: VariantResult) -> dict[str, object]:
    """One table row; metrics that were not measured become NaN."""
    row: dict[str, object] = {
        "Variant": result.variant,
        "Model": result.model,
        "Backend": result.backend,
        "Precision": result.precision,
        "Prune": result.prune,
    }
    for column in DEPLOYMENT_COLUMNS:
        value = result.metrics.get(column.metric)
        row[column.header] = math.nan if value is None else value / column.divisor
    row["Status"] = result.status
    return row


def deployment_table(run: RunResults) -> pd.DataFrame:
    """One row per variant: latency, throughput, memory, size, accuracy and speedup."""
    headers = [*_TEXT, "Prune", *(c.header for c in DEPLOYMENT_COLUMNS), "Status"]
    frame = pd.DataFrame([_row(v) for v in run.variants], columns=headers)
    numeric = ["Prune", *(c.header for c in DEPLOYMENT_COLUMNS)]
    frame[numeric] = frame[numeric].astype(float)
    return frame


def diff_table(old: RunResults, new: RunResults) -> pd.DataFrame:
    """Metrics of the variants present in both runs: old, new, delta and relative change."""
    rows = []
    for result in new.variants:
        before = old.variant(result.variant)
        if before is None:
            continue
        for metric, info in METRICS.items():
            a, b = before.metrics.get(metric), result.metrics.get(metric)
            if a is None and b is None:
                continue
            delta = math.nan if a is None or b is None else b - a
            change = delta / abs(a) * 100 if a else math.nan
            rows.append([result.variant, metric, info.unit, a, b, delta, change])
    frame = pd.DataFrame(rows, columns=list(DIFF_COLUMNS))
    numeric = ["Old", "New", "Delta", "Change %"]
    frame[numeric] = frame[numeric].astype(float)
    return frame


def _cell(value: object, spec: str | None) -> str:
    """A cell as text: ``-`` for missing, ``spec`` (a format spec) for numbers."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if spec is not None and isinstance(value, int | float):
        return format(value, spec)
    return str(value)


def _as_text(frame: pd.DataFrame, formats: dict[str, str]) -> pd.DataFrame:
    """Every cell rendered with :func:`_cell`."""
    return pd.DataFrame(
        {c: [_cell(v, formats.get(str(c))) for v in frame[c]] for c in frame.columns},
        columns=frame.columns,
    )


def to_markdown(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> str:
    """A GitHub Markdown table; numeric columns right-aligned, missing values ``-``.

    ``formats`` maps column headers to format specs; the deployment and diff columns
    have defaults, other numeric columns print as ``str(value)``.
    """
    align = ["right" if pd.api.types.is_numeric_dtype(frame[c]) else "left" for c in frame.columns]
    text = _as_text(frame, {**_FORMATS, **_DIFF_FORMATS, **(formats or {})})
    return text.to_markdown(index=False, tablefmt="pipe", disable_numparse=True, colalign=align)


def to_csv(frame: pd.DataFrame) -> str:
    """CSV with full-precision numbers; missing values written as ``-``."""
    return frame.to_csv(index=False, na_rep=MISSING, lineterminator="\n")
