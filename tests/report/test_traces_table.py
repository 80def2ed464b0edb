"""The traces table and its files: shares, the ops an INT8 slower than FP32 spends its time in,
notes for untraced backends, staged files moved next to results.json, links in report.html."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness.environment import Fingerprint
from harness.report.html import html_table
from harness.report.traces import (
    changes_text,
    explaining_ops,
    float_counterpart,
    measured_peak,
    op_group,
    op_text,
    operator_changes,
    place_traces,
    traces_table,
)
from harness.report.writer import write_run
from harness.results import RECOMMENDATION, TRACES, RunResults

FP = Fingerprint("cpu", 2, 2, None, "3.11", "2", "8", "1", "2")
SLOW = "m-p00-int8-slow-onnxruntime"


def _ops(*rows: tuple[str, str, float]) -> list[dict[str, object]]:
    return [{"op": op, "kind": kind, "ms": ms, "calls": 1.0} for op, kind, ms in rows]


def _run(staged: Path | None = None) -> RunResults:
    run = RunResults.new("default", FP, run_id="r")
    for slug, precision, p50 in (("m-p00-fp32-onnxruntime", "fp32", 10.0), (SLOW, "int8", 12.0)):
        run.record(slug, model="m", backend="onnxruntime", precision=precision, prune=0.0,
                   metrics={"latency_median_ms": p50})  # fmt: skip
    base = {"model": "m", "backend": "onnxruntime", "prune": 0.0, "inferences": 20, "note": None}
    run.add_study(TRACES, [
        base | {"variant": "m-p00-fp32-onnxruntime", "precision": "fp32", "traced_ms": 9.0, "int8_share": 0.0,
                "float_share": 0.9, "convert_share": 0.0, "layout_share": 0.1,
                "ops": _ops(("Conv", "float", 8.1), ("ReorderOutput", "layout", 0.9)), "file": None},
        base | {"variant": SLOW, "precision": "int8", "traced_ms": 11.0, "int8_share": 0.5, "float_share": 0.1,
                "convert_share": 0.3, "layout_share": 0.1,
                "ops": _ops(("QLinearConv", "int8", 5.5), ("DequantizeLinear", "convert", 3.3),
                                ("ReorderInput", "layout", 1.1), ("Sigmoid", "float", 1.1)),
                "file": str(staged) if staged else None},
        {"variant": "m-p00-fp32-ncnn", "model": "m", "backend": "ncnn", "precision": "fp32", "prune": 0.0,
         "note": "NCNN's Python API exposes no per-layer timing; no trace"},
    ])  # fmt: skip
    return run


def test_table_shares_and_what_an_int8_slower_than_fp32_spends_its_time_in() -> None:
    table = traces_table(_run()).set_index("Variant")
    assert table.loc[SLOW, "INT8 %"] == 50 and table.loc[SLOW, "Convert %"] == 30
    # 2 ms over the FP32 trace: Q/DQ (3.3 ms, FP32 has none) covers it; QLinearConv (5.5 ms) is
    # faster than the FP32 convolutions it stands in for (8.1 ms), so it explains nothing.
    assert table.loc[SLOW, "Slower than FP32 because of"] == "DequantizeLinear 3.30 ms (convert)"
    assert table.loc["m-p00-fp32-onnxruntime", "Slower than FP32 because of"] == ""  # FP32: no verdict
    ncnn = table.loc["m-p00-fp32-ncnn"]
    assert math.isnan(ncnn["Traced ms"]) and math.isnan(ncnn["INT8 %"])  # not measured: "-", never 0
    assert ncnn["Slowest operator types"].startswith("NCNN's Python API")


def test_op_text() -> None:
    ops = _ops(("QLinearConv", "int8", 5.5), ("Cast", "convert", 0.25))
    assert op_text(ops) == "QLinearConv 5.50 ms (int8); Cast 0.25 ms (convert)"
    assert op_text(None) == ""


def test_staged_files_move_next_to_results_and_are_linked(tmp_path: Path) -> None:
    staged = tmp_path / "cache" / "trace-staging" / f"{SLOW}-123-abc.json"
    staged.parent.mkdir(parents=True)
    staged.write_text("[]")
    run = _run(staged)
    run_dir = write_run(run, tmp_path / "reports")
    moved = run_dir / "traces" / f"{SLOW}.json"
    assert moved.read_text() == "[]" and not staged.exists()
    saved = RunResults.load(run_dir / "results.json")
    assert [r.get("file") for r in saved.studies[TRACES]] == [None, f"traces/{SLOW}.json", None]
    page = (run_dir / "report.html").read_text()
    assert f'<a href="traces/{SLOW}.json">traces/{SLOW}.json</a>' in page
    assert (run_dir / "traces.md").is_file()


def test_a_staged_file_that_is_gone_leaves_no_link(tmp_path: Path) -> None:
    run = _run(tmp_path / "gone.json")
    place_traces(run, tmp_path / "run")
    assert run.studies[TRACES][1]["file"] is None


def test_link_columns_escape_and_skip_empty_values() -> None:
    import pandas as pd

    frame = pd.DataFrame({"Trace": ["traces/a<b>.json", ""]})
    html = html_table(frame, "t", links=frozenset({"Trace"}))
    assert '<a href="traces/a&lt;b&gt;.json">' in html and "<td></td>" in html


def _trace(ms: float, *ops: tuple[str, str, float]) -> dict[str, object]:
    return {"traced_ms": ms, "ops": _ops(*ops)}


def test_an_integer_kernel_slower_than_the_float_one_it_replaces_is_named() -> None:
    """Measured (seed-0 default, ONNX Runtime): dynamic INT8's ConvInteger took 32.2 ms where FP32's
    Conv took 5.7; S8 activations left Conv in float between Q/DQ pairs."""
    fp32 = _trace(9.5, ("Conv", "float", 5.7), ("QuickGelu", "float", 1.6), ("Mul", "float", 1.2))
    dynamic = _trace(39.3, ("ConvInteger", "int8", 32.2), ("QuickGelu", "float", 1.4), ("Mul", "float", 1.3))
    assert [o["op"] for o in explaining_ops(dynamic, fp32)] == ["ConvInteger"]
    s8s8 = _trace(20.9, ("Conv", "float", 8.1), ("DequantizeLinear", "convert", 5.0),
                  ("QuantizeLinear", "convert", 3.1), ("Mul", "float", 1.0))  # fmt: skip
    assert [o["op"] for o in explaining_ops(s8s8, fp32)] == ["DequantizeLinear", "QuantizeLinear", "Conv"]
    assert [o["op"] for o in explaining_ops(s8s8, None)] == [
        "Conv",
        "DequantizeLinear",
        "QuantizeLinear",
        "Mul",
    ]
    assert (float_counterpart("QLinearConv"), float_counterpart("ConvInteger"), float_counterpart("QGemm")) == (
        "Conv", "Conv", "Gemm",
    )  # fmt: skip


def test_an_int8_faster_than_fp32_shows_where_it_gains_and_loses() -> None:
    """Measured on yolo11n at 320 px (ONNX Runtime 1.32, 2-core EPYC): QLinearConv halves FP32's
    convolutions, but SiLU, fused into QuickGelu in FP32, costs more as QLinearSigmoid + QLinearMul."""
    fp32 = _trace(15.7, ("Conv", "float", 9.9), ("QuickGelu", "float", 2.1), ("Softmax", "float", 1.1),
                  ("ReorderOutput", "layout", 0.6), ("Concat", "float", 0.7))  # fmt: skip
    int8 = _trace(11.8, ("QLinearConv", "int8", 5.1), ("QLinearSigmoid", "int8", 1.4), ("QLinearMul", "int8", 1.3),
                  ("Softmax", "float", 1.1), ("Conv", "float", 0.4), ("Sigmoid", "float", 0.2),
                  ("Transpose", "layout", 0.4), ("QLinearConcat", "int8", 0.5))  # fmt: skip
    for trace in (fp32, int8):
        trace["backend"] = "onnxruntime"
    changes = operator_changes(int8, fp32)
    assert [(op, before) for op, before, _ in changes] == [("Conv", 9.9), ("SiLU", 2.1), ("ReorderOutput", 0.6),
                                                           ("Transpose", None)]  # fmt: skip
    assert (
        changes_text(changes)
        == "Conv 9.90 -> 5.50 ms; SiLU 2.10 -> 2.90 ms; ReorderOutput 0.60 -> - ms; Transpose - -> 0.40 ms"
    )
    # Softmax (unchanged) and Concat (-0.2 ms, under 2 % of the FP32 trace) are left out.
    assert op_group("QLinearMul", "onnxruntime") == "SiLU" and op_group("Multiply", "openvino") == "Multiply"
    assert op_group("Sigmoid", "openvino") == "Sigmoid"  # groups are per backend


def test_the_table_compares_every_int8_row_with_its_fp32_trace() -> None:
    table = traces_table(_run()).set_index("Variant")
    assert table.loc[SLOW, "INT8 vs FP32 by operator"] == (
        "DequantizeLinear - -> 3.30 ms; Conv 8.10 -> 5.50 ms; ReorderInput - -> 1.10 ms; SiLU - -> 1.10 ms"
    )
    assert table.loc["m-p00-fp32-onnxruntime", "INT8 vs FP32 by operator"] == ""  # FP32: nothing to compare


def test_openvino_convolutions_are_set_against_the_runs_measured_int8_peak() -> None:
    run = _run()
    ov = {"variant": "m-p00-int8-openvino", "model": "m", "backend": "openvino", "precision": "int8", "prune": 0.0,
          "inferences": 20, "note": None, "traced_ms": 6.8, "ops": _ops(("Convolution", "int8", 5.3)),
          "conv_gmac_per_s": 149.0, "file": None}  # fmt: skip
    run.add_study(TRACES, [ov])
    assert measured_peak(run) is None  # no recommendation study in the run: no share of a peak
    table = traces_table(run).set_index("Variant")
    assert table.loc["m-p00-int8-openvino", "Conv GMAC/s"] == 149.0
    assert math.isnan(table.loc["m-p00-int8-openvino", "Conv % of INT8 peak"])
    run.add_study(
        RECOMMENDATION, [{"variant": "a", "peak_gmacs": None}, {"variant": "b", "peak_gmacs": 417.0}]
    )
    table = traces_table(run).set_index("Variant")
    assert measured_peak(run) == 417.0
    assert table.loc["m-p00-int8-openvino", "Conv % of INT8 peak"] == pytest.approx(100 * 149 / 417)
    assert math.isnan(table.loc[SLOW, "Conv GMAC/s"])  # ONNX Runtime: MACs not read, so "-" and not 0
    run.add_study(
        TRACES, [ov | {"variant": "m-p00-fp32-openvino", "precision": "fp32", "conv_gmac_per_s": 83.0}]
    )
    fp32 = traces_table(run).set_index("Variant").loc["m-p00-fp32-openvino"]
    assert fp32["Conv GMAC/s"] == 83.0 and math.isnan(
        fp32["Conv % of INT8 peak"]
    )  # FP32: no INT8 peak to set it against
