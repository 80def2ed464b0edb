"""The TFLite INT8 study on the quick model: every float scope scored, timed and sized."""

from __future__ import annotations

import dataclasses

import pytest

from harness.bench import Bench
from harness.builders.tflite import FLOAT_SCOPES, missing_tflite
from harness.config import HarnessConfig, MatrixSpec, QuantChoice
from harness.recipes import QuantSpec
from harness.studies.tflite import TfliteStudy, cases, measure_case

S8 = QuantSpec(activations="s8", weights="s8", calibration="minmax", calib_size=8)


def _bench(config: HarnessConfig, backends: tuple[str, ...] = ("torch", "tflite")) -> Bench:
    matrix = MatrixSpec((0.0,), ("fp32", "int8"), backends, (QuantChoice(S8),))
    return Bench.from_config(dataclasses.replace(config, matrix=matrix))


def test_a_case_per_model_with_tflite_int8(quick_config: HarnessConfig) -> None:
    (case,) = cases(_bench(quick_config))
    assert case.slug == "yolo11n-tflite-int8" and case.fp32.precision == "fp32" and case.int8.quant == S8
    assert cases(_bench(quick_config, ("torch", "onnxruntime"))) == []


def test_every_scope_is_measured_against_tflite_fp32(quick_config: HarnessConfig) -> None:
    if reason := missing_tflite():
        pytest.skip(reason)
    bench = _bench(quick_config)
    (case,) = cases(bench)
    row = measure_case(bench, case)
    rows = row.to_dicts()
    assert [r["scope"] for r in rows] == ["fp32", *FLOAT_SCOPES]
    for scope in FLOAT_SCOPES:
        drop = row.drops[scope]
        assert drop.low <= drop.estimate <= drop.high and row.speedups[scope] is not None
        assert row.size_mb[scope] < 0.4 * row.size_mb["fp32"]
    (bar,) = TfliteStudy().bars(bench, case, row)
    (check,) = bar.checks
    assert bar.name == "int8_ratio" and check.limit == pytest.approx(0.1 * row.maps["fp32"])
