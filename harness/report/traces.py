"""The traces table: where each traced variant spends its inference, by operator type and kind.

Read from the ``traces`` study rows of ``results.json`` (:mod:`harness.trace.record`). An INT8
row slower than FP32 on its backend (the quantization tables' flag) names the operator types that
are not integer kernels, the usual explanation: quantize / dequantize pairs the runtime did not
fuse, layout reorders, float kernels left between integer ones.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd

from harness.report.quant import slower_than_fp32
from harness.report.tables import StudyTable
from harness.results import TRACES, RunResults

__all__ = ["TRACES_DIR", "TRACE_LINK_COLUMNS", "TRACE_TABLES", "op_text", "place_traces", "traces_table"]

TRACES_DIR = "traces"  # folder of the trace files inside a run's report folder
_KINDS = ("int8", "float", "convert", "layout")  # harness.trace.ops.KINDS (not imported: model code)

_COLUMNS = (
    "Variant", "Backend", "Precision", "Traced ms", "INT8 %", "Float %", "Convert %", "Layout %",
    "Slowest operator types", "Slower than FP32 because of", "Trace",
)  # fmt: skip
_FORMATS = {"Traced ms": ".2f", "INT8 %": ".0f", "Float %": ".0f", "Convert %": ".0f", "Layout %": ".0f"}
TRACE_LINK_COLUMNS = frozenset({"Trace"})
LEGEND = (
    "Each traced variant's kernels per inference, from its backend's own profiler (PyTorch: torch.profiler, "
    "self time; ONNX Runtime: session profiling; OpenVINO: per-node performance counters with the executed "
    "kernel). Kinds: int8 = integer kernels, float = FP32/FP16/BF16 kernels, convert = quantize, dequantize "
    "and casts, layout = memory-layout reorders. `Slower than FP32 because of`: for an INT8 variant slower "
    "than its backend's FP32, its slowest operator types that are not integer kernels. Profiling adds its "
    "own overhead: compare shares, not these times with the timed latency. `-` = no trace (the note says why)."
)


def op_text(ops: object, kinds: tuple[str, ...] = _KINDS) -> str:
    """``top_ops`` of a row as ``QLinearConv 3.10 ms (int8); ...``, only the given kinds."""
    if not isinstance(ops, list):
        return ""
    return "; ".join(
        f"{o['op']} {float(o['ms']):.2f} ms ({o['kind']})"
        for o in ops
        if isinstance(o, dict) and o.get("kind") in kinds
    )


def place_traces(run: RunResults, run_dir: Path) -> None:
    """Move every staged trace file of ``run`` into ``run_dir/traces/<variant>.json`` and point its
    row there (relative to ``run_dir``); a staged file that is gone leaves the row without one."""
    for row in run.studies.get(TRACES, []):
        staged = row.get("file")
        if not isinstance(staged, str) or not Path(staged).is_absolute():
            continue
        target = run_dir / TRACES_DIR / f"{row['variant']}.json"
        if Path(staged).is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(staged, target)  # the cache may sit on another file system
            row["file"] = f"{TRACES_DIR}/{target.name}"
        else:
            row["file"] = None


def _percent(value: object) -> float:
    return 100.0 * float(value) if isinstance(value, int | float) else math.nan


def _row(run: RunResults, row: dict[str, object]) -> dict[str, object]:
    result = run.variant(str(row["variant"]))
    slower = result is not None and slower_than_fp32(run, result)
    note = row.get("note")
    return {
        "Variant": row["variant"], "Backend": row.get("backend"), "Precision": row.get("precision"),
        "Traced ms": row.get("traced_ms", math.nan) if not note else math.nan,
        "INT8 %": _percent(row.get("int8_share")), "Float %": _percent(row.get("float_share")),
        "Convert %": _percent(row.get("convert_share")), "Layout %": _percent(row.get("layout_share")),
        "Slowest operator types": op_text(row.get("top_ops")) or (str(note) if note else ""),
        "Slower than FP32 because of": op_text(row.get("top_ops"), ("float", "convert", "layout")) if slower else "",
        "Trace": row.get("file") or "",
    }  # fmt: skip


def traces_table(run: RunResults) -> pd.DataFrame:
    """One row per traced variant (empty when the run recorded no trace)."""
    rows = [_row(run, row) for row in run.studies.get(TRACES, [])]
    return pd.DataFrame(rows, columns=list(_COLUMNS))


TRACE_TABLES = {"traces": StudyTable("Profiler traces", traces_table, LEGEND, _FORMATS, TRACE_LINK_COLUMNS)}
