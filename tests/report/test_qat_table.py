"""The qat table: four rows per model and backend, intervals as text, the slower-than-PTQ flag."""

from __future__ import annotations

import math
from pathlib import Path

from harness.environment import Fingerprint
from harness.report.qat import qat_table
from harness.report.writer import write_tables
from harness.results import QAT, RunResults

FP = Fingerprint("cpu", 2, 2, None, "3.11", "2", "8", "1", "2")


def _rows() -> list[dict[str, object]]:
    base = {"model": "yolo11n", "backend": "onnxruntime", "epochs": 2}
    return [
        base | {"role": "fp32", "variant": "FP32", "map50_95": 0.677, "latency_median_ms": 8.7, "size_mb": 10.0},
        base | {"role": "ptq", "variant": "PTQ INT8 (x)", "map50_95": 0.676, "drop": 0.001, "drop_ci_low": -0.002,
                "drop_ci_high": 0.002, "drop_seeds": 1, "latency_median_ms": 6.8, "speedup_vs_fp32": 1.27,
                "speedup_ci_low": 1.25, "speedup_ci_high": 1.30, "size_mb": 3.0},
        base | {"role": "qat", "variant": "QAT INT8, 2 epochs", "map50_95": 0.715, "drop": -0.0385,
                "drop_ci_low": -0.044, "drop_ci_high": -0.0325, "drop_seeds": 2, "speedup_vs_fp32": 0.58,
                "speedup_ci_low": 0.56, "speedup_ci_high": 0.59, "recovered": None, "qat_minus_control": 0.0009,
                "qat_minus_control_ci_low": -0.004, "qat_minus_control_ci_high": 0.006,
                "flag": "QAT slower than PTQ"},
        base | {"role": "control", "variant": "FP32 fine-tuned 2 epochs", "map50_95": None},
    ]  # fmt: skip


def _run() -> RunResults:
    run = RunResults.new("default", FP, run_id="r")
    run.studies[QAT] = _rows()
    return run


def test_rows_and_intervals() -> None:
    frame = qat_table(_run())
    assert list(frame["Variant"]) == [
        "FP32",
        "PTQ INT8 (x)",
        "QAT INT8, 2 epochs",
        "FP32 fine-tuned 2 epochs",
    ]
    assert frame["Drop vs FP32"][0] == "-" and frame["Drop vs FP32"][2] == "-0.0385 (-0.0440 to -0.0325)"
    assert frame["Speed vs FP32"][1] == "1.27x (1.25x to 1.30x)" and frame["Seeds"][2] == "2"
    assert frame["Flag"][2] == "QAT slower than PTQ" and frame["Flag"][1] == ""
    assert frame["QAT - control"][2] == "+0.0009 (-0.0040 to +0.0060)" and frame["QAT - control"][0] == "-"
    assert math.isnan(frame["mAP50-95"][3]) and math.isnan(frame["Recovered"][2])


def test_the_table_is_written_with_its_legend(tmp_path: Path) -> None:
    write_tables(_run(), tmp_path)
    text = (tmp_path / "qat.md").read_text()
    assert "# Quantization-aware training" in text and "| FP32 fine-tuned 2 epochs" in text
    assert "QAT slower than PTQ" in text and "`-` = not measured" in text
