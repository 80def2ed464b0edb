"""The QAT study: its cases, its rows and bar, and a real QAT fine-tune of the quick model."""

from __future__ import annotations

import dataclasses

import pytest

from harness.bench import Bench
from harness.config import HarnessConfig, MatrixSpec, QuantChoice
from harness.config.reader import Where
from harness.config.studies import StudyTables
from harness.errors import ConfigError
from harness.measure.stats import Interval
from harness.recipes import QuantSpec, TrainRecipe
from harness.studies.qat import QatRow, QatStudy, cases, measure_case

PTQ = QuantSpec(calib_size=8)


WHERE = Where("harness.toml", "studies")


def _bench(config: HarnessConfig, qat: dict[str, object] | None = None) -> Bench:
    matrix = MatrixSpec((0.0,), ("fp32", "int8"), ("torch", "onnxruntime", "openvino"), (QuantChoice(PTQ),))
    tables = StudyTables((("qat", qat),), WHERE) if qat is not None else StudyTables()
    return Bench.from_config(dataclasses.replace(config, matrix=matrix, studies=tables))


def test_no_table_no_cases(quick_config: HarnessConfig) -> None:
    assert cases(_bench(quick_config)) == []


def test_a_case_per_model_and_qdq_backend(quick_config: HarnessConfig) -> None:
    found = cases(_bench(quick_config, {"epochs": 1}))
    assert [c.slug for c in found] == ["yolo11n-qat1-onnxruntime", "yolo11n-qat1-openvino"]
    ort = found[0]
    assert [v.slug for v in ort.ptq] == ["yolo11n-p00-int8-qdq-pc-u8s8-minmax-c8-onnxruntime"]
    qat, control = ort.qat.source, ort.control.source
    assert isinstance(qat, TrainRecipe) and isinstance(control, TrainRecipe)
    assert dict(qat.hyp) == {**dict(control.hyp), "quantize": 8} and dict(control.hyp)["lr0"] == 1e-4
    assert qat.init == control.init == ort.fp32.source and qat.epochs == control.epochs == 1


def test_an_unknown_model_is_named(quick_config: HarnessConfig) -> None:
    with pytest.raises(ConfigError, match=r"studies.qat.models .*no model 'yolo99n' in the matrix"):
        cases(_bench(quick_config, {"models": ["yolo99n"]}))


def _interval(estimate: float, low: float, high: float, n: int = 100) -> Interval:
    return Interval(estimate, low, high, 0.95, n)


def _row(quick_config: HarnessConfig, ptq: Interval, qat: Interval) -> tuple[Bench, QatRow]:
    bench = _bench(quick_config, {"epochs": 1})
    row = QatRow(cases(bench)[0], ptq="yolo11n-p00-int8-x-onnxruntime")
    row.maps = {"fp32": 0.5, "ptq": 0.5 - ptq.estimate, "qat": 0.5 - qat.estimate, "control": 0.51}
    row.drops = {"ptq": ptq, "qat": qat}
    return bench, row


def test_recovery_is_skipped_when_ptq_lost_nothing_measurable(quick_config: HarnessConfig) -> None:
    bench, row = _row(quick_config, _interval(0.002, -0.001, 0.005), _interval(0.001, -0.002, 0.004))
    (bar,) = QatStudy().bars(bench, row.case, row)
    assert bar.skip is not None and "not distinguishable from zero" in bar.skip and not bar.checks


@pytest.mark.parametrize(
    ("qat", "expected"),
    [
        (_interval(0.001, -0.002, 0.004), "pass"),  # limit: half of 0.02
        (_interval(0.015, 0.012, 0.018), "fail"),
        (_interval(0.009, 0.005, 0.014), "inconclusive"),
    ],
)
def test_recovery_judges_qat_drop_against_half_the_ptq_loss(
    quick_config: HarnessConfig, qat: Interval, expected: str
) -> None:
    bench, row = _row(quick_config, _interval(0.02, 0.015, 0.025), qat)
    (bar,) = QatStudy().bars(bench, row.case, row)
    (check,) = bar.checks
    assert check.verdict == expected and check.limit == pytest.approx(0.01)
    assert row.recovered == pytest.approx((0.02 - qat.estimate) / 0.02)


def test_rows_have_one_role_each_and_flag_a_qat_slower_than_ptq(quick_config: HarnessConfig) -> None:
    _, row = _row(quick_config, _interval(0.02, 0.015, 0.025), _interval(0.001, -0.002, 0.004))
    row.qat_vs_ptq = _interval(0.5, 0.45, 0.55)
    rows = row.to_dicts()
    assert [r["role"] for r in rows] == ["fp32", "ptq", "qat", "control"]
    assert rows[2]["flag"] == "QAT slower than PTQ" and rows[1]["flag"] == ""
    assert rows[0]["drop"] is None and rows[1]["drop"] == 0.02 and rows[3]["map50_95"] == 0.51
    row.qat_vs_ptq = _interval(0.95, 0.9, 1.01)  # not decided: no flag
    assert row.to_dicts()[2]["flag"] == ""


def test_a_real_qat_fine_tune_runs_on_onnxruntime_and_openvino(quick_config: HarnessConfig) -> None:
    """One QAT epoch of the quick model: exported with Q/DQ pairs, scored and timed on both backends."""
    bench = _bench(quick_config, {"epochs": 1})
    for case in cases(bench):
        row = measure_case(bench, case)
        assert row.qdq_nodes and row.qdq_nodes > 10
        assert all(0.0 <= row.maps[role] <= 1.0 for role in ("fp32", "ptq", "qat", "control"))  # type: ignore[operator]
        assert row.drops["qat"] is not None and row.qat_vs_control is not None
        assert row.maps["fp32"] - row.maps["qat"] == pytest.approx(row.drops["qat"].estimate)  # type: ignore[operator]
        assert all(row.speedups[r] is not None and row.latency_ms[r] for r in ("ptq", "qat", "control"))
        assert all(row.size_mb[r] > 0 for r in ("fp32", "ptq", "qat", "control"))  # type: ignore[operator]
        assert row.qat_vs_ptq is not None
