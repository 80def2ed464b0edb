"""Quantization tables: mAP loss against the reference, the SLOWER flag, one table per knob."""

from __future__ import annotations

import math

from harness.environment import Fingerprint
from harness.recipes import QuantSpec
from harness.report.quant import SLOWER, precision_table, study_table
from harness.results import RunResults

FP = Fingerprint("cpu", 2, 2, None, "3.11", "2", "8", "1", "2")


def _run() -> RunResults:
    run = RunResults.new("default", FP, run_id="r")

    def add(
        slug: str, backend: str, precision: str, p50: float, m: float, quant: QuantSpec | None = None
    ) -> None:
        run.record(slug, model="m", backend=backend, precision=precision, prune=0.0,
                   recipe={"quant": quant.to_dict() if quant else None},
                   metrics={"latency_median_ms": p50, "map50_95": m, "file_bytes": 4e6})  # fmt: skip

    add("m-p00-fp32-torch", "torch", "fp32", 20.0, 0.60)
    add("m-p00-fp32-onnxruntime", "onnxruntime", "fp32", 10.0, 0.60)
    fast, slow = QuantSpec(), QuantSpec(activations="s8", calibration="entropy")
    add(f"m-p00-int8-{fast.slug}-onnxruntime", "onnxruntime", "int8", 8.0, 0.59, fast)
    add(f"m-p00-int8-{slow.slug}-onnxruntime", "onnxruntime", "int8", 12.0, 0.58, slow)
    run.record("m-p00-int8-dyn-pc-s8-onnxruntime", model="m", backend="onnxruntime", precision="int8",
               prune=0.0, recipe={"quant": QuantSpec(method="dynamic").to_dict()})  # fmt: skip
    return run


def test_precision_table_losses_and_flags() -> None:
    table = precision_table(_run()).set_index("Config")
    assert math.isclose(table.loc["qdq-pc-u8s8-minmax-c100", "mAP loss"], 0.01)
    assert table.loc["qdq-pc-u8s8-minmax-c100", "Flag"] == ""
    assert table.loc["qdq-pc-s8s8-entropy-c100", "Flag"] == SLOWER
    assert table.loc["dyn-pc-s8", "Flag"] == "-"  # not measured is never a verdict
    assert math.isnan(table.loc["dyn-pc-s8", "p50 ms"])


def test_study_tables_group_by_knob() -> None:
    run = _run()
    calib = study_table(run, "calibration", "Calibration")
    assert list(calib["Calibration"]) == ["entropy", "minmax", "minmax"]
    method = study_table(run, "method", "Method")
    assert sorted(set(method["Method"])) == ["dynamic", "static"]
    assert study_table(run, "per_channel", "Granularity").empty  # one value: nothing to compare


def test_tables_leave_out_skipped_variants() -> None:
    run = _run()
    spec = QuantSpec(per_channel=False)
    run.record(f"m-p00-int8-{spec.slug}-ncnn", model="m", backend="ncnn", precision="int8", prune=0.0,
               recipe={"quant": spec.to_dict()}, status="skipped")  # fmt: skip
    assert study_table(run, "per_channel", "Granularity").empty
    assert "ncnn" not in set(precision_table(run)["Backend"])
