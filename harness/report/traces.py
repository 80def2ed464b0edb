"""The traces table: where each traced variant spends its inference, by operator type and kind.

Read from the ``traces`` study rows of ``results.json`` (:mod:`harness.trace.record`). An INT8
row slower than FP32 on its backend (the quantization tables' flag) names the operator types that
account for its excess time over the FP32 trace, operator by operator (:func:`explaining_ops`):
quantize / dequantize pairs the runtime did not fuse, float kernels slower than FP32's own, layout
reorders, or an integer kernel slower than the float one it stands in for. Every INT8 row with an
FP32 trace also shows the operators whose time changed most from FP32 (:func:`operator_changes`):
where an INT8 that is faster than FP32, but less than hoped, gains and loses.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from harness.report.quant import slower_than_fp32
from harness.report.tables import StudyTable, number_or_nan
from harness.results import RECOMMENDATION, TRACES, RunResults

__all__ = [
    "OP_GROUPS", "TRACES_DIR", "TRACE_LINK_COLUMNS", "TRACE_TABLES", "changes_text", "explaining_ops",
    "float_counterpart", "measured_peak", "op_group", "op_text", "operator_changes", "place_traces",
    "traces_table",
]  # fmt: skip

TRACES_DIR = "traces"  # folder of the trace files inside a run's report folder

_COLUMNS = (
    "Variant", "Backend", "Precision", "Traced ms", "INT8 %", "Float %", "Convert %", "Layout %",
    "Conv GMAC/s", "Conv % of INT8 peak", "Slowest operator types", "INT8 vs FP32 by operator",
    "Slower than FP32 because of", "Trace",
)  # fmt: skip
_FORMATS = {"Traced ms": ".2f", "INT8 %": ".0f", "Float %": ".0f", "Convert %": ".0f", "Layout %": ".0f",
            "Conv GMAC/s": ".0f", "Conv % of INT8 peak": ".0f"}  # fmt: skip
TRACE_LINK_COLUMNS = frozenset({"Trace"})
LEGEND = (
    "Each traced variant's kernels per inference, from its backend's own profiler (PyTorch: torch.profiler, "
    "self time; ONNX Runtime: session profiling; OpenVINO: per-node performance counters with the executed "
    "kernel). Kinds: int8 = integer kernels, float = FP32/FP16/BF16 kernels, convert = quantize, dequantize "
    "and casts, layout = memory-layout reorders. `Slower than FP32 because of`: for an INT8 variant slower "
    "than its backend's FP32, the operator types whose time most exceeds the same operator's in the FP32 trace "
    "(an integer kernel against the float one it stands in for), until they cover its excess (without an FP32 "
    "trace: the slowest that are not integer kernels). `INT8 vs FP32 by operator`: for every INT8 variant with "
    "an FP32 trace, the operators whose time changed most, FP32 -> INT8 ms per inference (SiLU: ONNX Runtime "
    "fuses FP32's x * sigmoid(x) into QuickGelu and runs INT8's as QLinearSigmoid and QLinearMul, so the three "
    "are compared as one; `-` = none on that side). `Conv GMAC/s` (OpenVINO): the convolutions' "
    "multiply-accumulates, from the IR's shapes, over their traced time; `Conv % of INT8 peak`: that rate "
    "against this CPU's INT8 peak measured in the same run (the recommendation's roofline probe), for INT8 "
    "rows: how close the model's own convolutions come to the roofline. Profiling adds its "
    "own overhead: compare shares, not these times with the timed latency. `-` = no trace (the note says why)."
)


def op_text(ops: object) -> str:
    """``ops`` of a row as ``QLinearConv 3.10 ms (int8); ...``."""
    if not isinstance(ops, list):
        return ""
    return "; ".join(f"{o['op']} {float(o['ms']):.2f} ms ({o['kind']})" for o in ops if isinstance(o, dict))


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
    return 100.0 * number_or_nan(value)


TABLE_OPS = 6  # operator types shown per variant


def _first(ops: object) -> object:
    return ops[:TABLE_OPS] if isinstance(ops, list) else ops


def _number_or_none(value: object) -> float | None:
    number = number_or_nan(value)
    return None if math.isnan(number) else number


def _fp32_trace(run: RunResults, row: dict[str, object]) -> dict[str, object] | None:
    """The trace row of the FP32 variant of the same model, prune ratio and backend, if traced."""
    for other in run.studies.get(TRACES, []):
        same = all(other.get(k) == row.get(k) for k in ("model", "prune", "backend"))
        if same and other.get("precision") == "fp32" and _number_or_none(other.get("traced_ms")) is not None:
            return other
    return None


def _op_rows(row: dict[str, object]) -> list[dict[str, object]]:
    ops = row.get("ops")
    return [o for o in ops if isinstance(o, dict)] if isinstance(ops, list) else []


def _ms(op: dict[str, object]) -> float:
    return _number_or_none(op.get("ms")) or 0.0


def float_counterpart(op: str) -> str:
    """The float operator an integer kernel stands in for (``QLinearConv``, ``ConvInteger``: ``Conv``);
    other names are their own."""
    name = op.removeprefix("QLinear").removesuffix("Integer")
    return "Gemm" if name == "QGemm" else name


OP_GROUPS = {"onnxruntime": {"QuickGelu": "SiLU", "Sigmoid": "SiLU", "Mul": "SiLU"}}
"""Per backend, operators compared as one across precisions: ONNX Runtime fuses FP32's
``x * sigmoid(x)`` into ``QuickGelu``, while INT8 runs the same SiLU as ``QLinearSigmoid`` and
``QLinearMul`` (seen in the embedded yolo11n's optimized graphs: 77 QuickGelu in FP32; 71
QLinearSigmoid and 72 QLinearMul in U8/S8 QDQ INT8)."""

SHOWN_CHANGES = 4  # operators shown per INT8 variant in `INT8 vs FP32 by operator`


def op_group(op: str, backend: str) -> str:
    """The name ``backend``'s operator is compared under across precisions (:func:`float_counterpart`,
    then :data:`OP_GROUPS`)."""
    name = float_counterpart(op)
    return OP_GROUPS.get(backend, {}).get(name, name)


def _totals(row: dict[str, object], name: Callable[[str], str]) -> dict[str, float]:
    """Milliseconds per inference of ``row``'s operators, summed under ``name(op)``."""
    totals: dict[str, float] = {}
    for o in _op_rows(row):
        key = name(str(o["op"]))
        totals[key] = totals.get(key, 0.0) + _ms(o)
    return totals


def _grouped(row: dict[str, object]) -> dict[str, float]:
    backend = str(row.get("backend"))
    return _totals(row, lambda op: op_group(op, backend))


def _change(change: tuple[str, float | None, float | None]) -> float:
    _, before, after = change
    return abs((after or 0.0) - (before or 0.0))


def operator_changes(
    row: dict[str, object], fp32: dict[str, object]
) -> list[tuple[str, float | None, float | None]]:
    """``(operator, FP32 ms, INT8 ms)`` for the operators (by :func:`op_group`) whose time changed
    most from the FP32 trace to ``row``'s, largest change first: at most :data:`SHOWN_CHANGES`, none
    under 2 % of the FP32 trace's time. None: the operator does not run on that side."""
    mine, theirs = _grouped(row), _grouped(fp32)
    floor = 0.02 * (_number_or_none(fp32.get("traced_ms")) or 0.0)
    changes = sorted(
        ((op, theirs.get(op), mine.get(op)) for op in {*mine, *theirs}), key=lambda c: (-_change(c), c[0])
    )
    return [c for c in changes if _change(c) >= floor][:SHOWN_CHANGES]


def changes_text(changes: list[tuple[str, float | None, float | None]]) -> str:
    """``Conv 9.92 -> 5.05 ms; SiLU 2.20 -> 2.89 ms; Transpose - -> 0.27 ms``."""

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    return "; ".join(f"{op} {ms(before)} -> {ms(after)} ms" for op, before, after in changes)


def explaining_ops(row: dict[str, object], fp32: dict[str, object] | None) -> list[dict[str, object]]:
    """The operator types that account for an INT8 trace's excess over its FP32 twin's: each one's
    time above the same operator's in the FP32 trace (an integer kernel against the float one it
    stands in for; quantize / dequantize and reorders against nothing), largest first, until they
    cover the excess (at most four, none under 5 % of it). Without an FP32 trace: the slowest that are not integer kernels."""
    ops = _op_rows(row)
    mine = _number_or_none(row.get("traced_ms"))
    theirs = _number_or_none(fp32.get("traced_ms")) if fp32 else None
    if fp32 is None or mine is None or theirs is None:
        return [o for o in ops if o.get("kind") != "int8"][:TABLE_OPS]
    base = _totals(fp32, str)
    excess = sorted(
        ((_ms(o) - base.get(float_counterpart(str(o["op"])), 0.0), o) for o in ops),
        key=lambda e: -e[0],
    )
    chosen: list[dict[str, object]] = []
    covered = 0.0
    for extra, op in excess[:4]:
        if extra <= 0.05 * (mine - theirs) or covered >= mine - theirs:  # what is left is noise
            break
        chosen.append(op)
        covered += extra
    return chosen


def measured_peak(run: RunResults) -> float | None:
    """The INT8 peak (GMAC/s) the run's recommendation study measured, if it measured one."""
    peaks = [_number_or_none(row.get("peak_gmacs")) for row in run.studies.get(RECOMMENDATION, [])]
    return max((p for p in peaks if p), default=None)


def _of_peak(rate: float | None, peak: float | None) -> float:
    return 100.0 * rate / peak if rate and peak else math.nan


def _row(run: RunResults, row: dict[str, object], peak: float | None) -> dict[str, object]:
    result = run.variant(str(row["variant"]))
    slower = result is not None and slower_than_fp32(run, result)
    note = row.get("note")
    fp32 = _fp32_trace(run, row)
    because = op_text(explaining_ops(row, fp32)) if slower else ""
    changes = changes_text(operator_changes(row, fp32)) if fp32 and row.get("precision") == "int8" else ""
    rate = _number_or_none(row.get("conv_gmac_per_s"))
    return {
        "Variant": row["variant"], "Backend": row.get("backend"), "Precision": row.get("precision"),
        "Traced ms": row.get("traced_ms", math.nan) if not note else math.nan,
        "INT8 %": _percent(row.get("int8_share")), "Float %": _percent(row.get("float_share")),
        "Convert %": _percent(row.get("convert_share")), "Layout %": _percent(row.get("layout_share")),
        "Conv GMAC/s": number_or_nan(rate),
        "Conv % of INT8 peak": _of_peak(rate, peak) if row.get("precision") == "int8" else math.nan,
        "Slowest operator types": op_text(_first(row.get("ops"))) or (str(note) if note else ""),
        "INT8 vs FP32 by operator": changes, "Slower than FP32 because of": because,
        "Trace": row.get("file") or "",
    }  # fmt: skip


def traces_table(run: RunResults) -> pd.DataFrame:
    """One row per traced variant (empty when the run recorded no trace)."""
    peak = measured_peak(run)
    rows = [_row(run, row, peak) for row in run.studies.get(TRACES, [])]
    return pd.DataFrame(rows, columns=list(_COLUMNS))


TRACE_TABLES = {"traces": StudyTable("Profiler traces", traces_table, LEGEND, _FORMATS, TRACE_LINK_COLUMNS)}
