"""Deployment and diff tables: one row per variant, units converted, missing shown as '-'."""

from __future__ import annotations

import io
import math

import pandas as pd

from harness.environment import Fingerprint
from harness.report.tables import DEPLOYMENT_COLUMNS, deployment_table, diff_table, to_csv, to_markdown
from harness.results import RunResults

FP = Fingerprint("AMD EPYC 9B14", 2, 2, None, "3.11.7", "2.5.0", "8.4.0", "1.20.0", "2.1.0")


def _run(map50_95: float = 0.5123, latency: float | None = 26.6) -> RunResults:
    run = RunResults.new("quick", FP, run_id="r")
    run.record(
        "yolo11n-p00-fp32-torch", model="yolo11n", backend="torch", precision="fp32", prune=0.0,
        metrics={"map50_95": map50_95, "latency_median_ms": latency, "params": 2_590_000,
                 "file_bytes": 5_400_000, "gflops": 6.45},
    )  # fmt: skip
    run.record(
        "yolo11n-p00-fp32-onnxruntime", model="yolo11n", backend="onnxruntime", precision="fp32",
        prune=0.0, metrics={"map50": 0.0, "speedup_vs_reference": 2.31}, status="failed",
    )  # fmt: skip
    return run


def test_one_row_per_variant_with_units_converted() -> None:
    frame = deployment_table(_run())
    assert list(frame["Backend"]) == ["torch", "onnxruntime"]
    torch_row = frame.iloc[0]
    assert torch_row["Params M"] == 2.59 and torch_row["Size MB"] == 5.4
    assert torch_row["p50 ms"] == 26.6 and torch_row["GFLOPs"] == 6.45
    assert list(frame["Status"]) == ["passed", "failed"]
    for column in DEPLOYMENT_COLUMNS:
        assert pd.api.types.is_float_dtype(frame[column.header])


def test_unmeasured_is_nan_in_the_frame_and_dash_when_rendered() -> None:
    frame = deployment_table(_run(latency=None))
    assert math.isnan(frame.iloc[0]["p50 ms"])
    lines = to_markdown(frame).splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    torch_cells = dict(zip(header, (c.strip() for c in lines[2].strip("|").split("|")), strict=True))
    ort_cells = dict(zip(header, (c.strip() for c in lines[3].strip("|").split("|")), strict=True))
    assert torch_cells["p50 ms"] == "-" and torch_cells["mAP50"] == "-"
    assert torch_cells["mAP50-95"] == "0.5123" and torch_cells["Params M"] == "2.590"
    assert ort_cells["mAP50"] == "0.0000"  # a measured zero stays zero
    assert ort_cells["Speedup"] == "2.31" and ort_cells["Size MB"] == "-"


def test_markdown_is_a_pipe_table_with_numbers_right_aligned() -> None:
    lines = to_markdown(deployment_table(_run())).splitlines()
    assert lines[0].startswith("| Variant")
    separators = lines[1].strip("|").split("|")
    assert separators[0].startswith(":") and separators[0].endswith("-")  # text left
    assert separators[5].startswith("-") and separators[5].endswith(":")  # p50 right
    assert len(lines) == 4


def test_csv_round_trips_and_marks_missing_with_dash() -> None:
    text = to_csv(deployment_table(_run(latency=None)))
    assert ",-," in text.splitlines()[1]
    back = pd.read_csv(io.StringIO(text), na_values="-")
    assert back.loc[0, "Size MB"] == 5.4 and math.isnan(back.loc[0, "p50 ms"])
    assert back.loc[1, "mAP50"] == 0.0


def test_empty_run_gives_header_only() -> None:
    frame = deployment_table(RunResults.new("quick", FP, run_id="r"))
    assert frame.empty and "mAP50-95" in to_markdown(frame)


def test_diff_table_lists_shared_variants_and_changes() -> None:
    old, new = _run(map50_95=0.50, latency=20.0), _run(map50_95=0.45, latency=25.0)
    new.record("extra", model="yolo11n", backend="torch", precision="fp16", prune=0.0, metrics={"map50": 1.0})
    frame = diff_table(old, new)
    assert set(frame["Variant"]) == {"yolo11n-p00-fp32-torch", "yolo11n-p00-fp32-onnxruntime"}
    row = frame[(frame["Variant"] == "yolo11n-p00-fp32-torch") & (frame["Metric"] == "latency_median_ms")]
    assert row.iloc[0]["Delta"] == 5.0 and row.iloc[0]["Change %"] == 25.0 and row.iloc[0]["Unit"] == "ms"
    assert "map50_95" in set(frame["Metric"]) and "map50" in set(frame["Metric"])
    text = to_markdown(frame)
    assert "+25.0" in text and "| -" not in text.splitlines()[0]


def test_diff_of_zero_old_value_has_no_percentage() -> None:
    old, new = _run(), _run()
    frame = diff_table(old, new)
    row = frame[frame["Metric"] == "map50"].iloc[0]
    assert row["Delta"] == 0.0 and math.isnan(row["Change %"])
