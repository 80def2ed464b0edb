"""The mixed-precision study: subject choice, a real search on the quick model, rows for the report."""

from __future__ import annotations

import dataclasses

import pytest

from harness.bench import Bench
from harness.builders.quantize.revert import GroupGain
from harness.builders.quantize.sensitivity import MixedStep
from harness.config import HarnessConfig, MatrixSpec, MixedPrecisionSpec, QuantChoice
from harness.measure.stats import Interval
from harness.recipes import QuantSpec
from harness.studies.mixed_precision import (
    MixedPrecisionCase,
    MixedPrecisionSearch,
    MixedPrecisionStudy,
    candidates,
    nothing_to_recover,
    run_study,
    target_check,
    worst_int8,
)


def _session(config: HarnessConfig, *specs: QuantSpec) -> Bench:
    matrix = MatrixSpec((0.0,), ("fp32", "int8"), ("torch", "onnxruntime", "openvino"),
                        tuple(QuantChoice(spec) for spec in specs))  # fmt: skip
    return Bench.from_config(dataclasses.replace(config, matrix=matrix))


def test_candidates_are_static_qdq_onnxruntime_variants(quick_config: HarnessConfig) -> None:
    session = _session(
        quick_config, QuantSpec(calib_size=8), QuantSpec(method="dynamic"),
        QuantSpec(format="qoperator", calib_size=8), QuantSpec(activations="s8", calib_size=8),
    )  # fmt: skip
    found = [v.slug for v in candidates(session, "yolo11n")]
    assert found == [
        "yolo11n-p00-int8-qdq-pc-u8s8-minmax-c8-onnxruntime",
        "yolo11n-p00-int8-qdq-pc-s8s8-minmax-c8-onnxruntime",
    ]
    assert candidates(session, "other") == []


@pytest.mark.slow
def test_worst_and_a_real_search(quick_config: HarnessConfig) -> None:
    session = _session(quick_config, QuantSpec(calib_size=8), QuantSpec(activations="s8", calib_size=8))
    worst = worst_int8(session, "yolo11n")
    assert worst is not None
    maps = {v.slug: session.accuracy(v).map50_95 for v in candidates(session, "yolo11n")}
    assert maps[worst.slug] == min(maps.values())
    # An unreachable target makes the search run every allowed step: each one is built and measured.
    spec = MixedPrecisionSpec(max_steps=2, search_images=8)
    study = run_study(session, worst, spec, max_drop=0.01, target_map=2.0)
    n = min(2, len(study.groups))
    assert [len(step.kept) for step in study.steps] == list(range(n + 1)) and not study.reached
    assert [g.gain for g in study.groups] == sorted((g.gain for g in study.groups), reverse=True)
    assert all(step.latency_ratio and step.latency_ratio > 0 for step in study.steps)
    rows = study.rows()
    assert [row["added"] for row in rows] == [None, *(g.name for g in study.groups[:n])]
    assert all(isinstance(row["latency_median_ms"], float) for row in rows)
    # The last step's drop against FP32, resampled over the val images, centred on the point drop.
    drop = study.last_drop
    assert drop is not None and drop.low <= drop.estimate <= drop.high
    assert drop.estimate == pytest.approx(study.float_map - study.steps[-1].map50_95, abs=1e-9)
    assert (rows[-1]["drop_ci_low"], rows[-1]["drop_ci_high"]) == (drop.low, drop.high)
    assert len(rows) == 1 or rows[0]["drop_ci_low"] is None  # only the last step is judged
    with pytest.raises(ValueError, match="above FP32"):  # the forced target is no budget to judge
        target_check(study)


def test_nothing_lost_means_no_steps() -> None:
    study = MixedPrecisionSearch("m", "b", 0.5, 0.5, 0.5, (), ())
    assert study.loss == 0 and study.rows() == [] and not study.reached


@pytest.mark.parametrize(("low", "measurable"), [(0.0004, True), (0.0, False), (-0.0015, False)])
def test_a_loss_is_measured_only_when_its_interval_excludes_zero(low: float, measurable: bool) -> None:
    """Half of a loss that the val split cannot tell from zero is no target any step could show."""
    drop = Interval(0.0012, low, 0.0030, 0.95, 500)
    study = MixedPrecisionSearch("m", "m-int8", 0.5012, 0.5, 0.5, (), (), None, drop)
    assert study.measurable_loss is measurable
    if not measurable:
        assert nothing_to_recover(study) == (
            f"m-int8: full INT8's mAP50-95 loss 0.0012 (0.5000 vs FP32 0.5012; 95% CI {low:.4f}-0.0030 "
            "over 500 val images) is not distinguishable from zero; no measured loss to recover"
        )
        bars = MixedPrecisionStudy().bars(None, MixedPrecisionCase("m"), study)  # type: ignore[arg-type]
        assert [(bar.name, bar.skip) for bar in bars] == [("target", nothing_to_recover(study))]
    lost_nothing = MixedPrecisionSearch("m", "m-int8", 0.5, 0.5, 0.5, (), ())
    assert not lost_nothing.measurable_loss and "lost no mAP50-95" in nothing_to_recover(lost_nothing)


def test_rows_and_recovery() -> None:
    groups = (GroupGain("model.1", ("/model.1/conv/Conv", "/model.1/act/Mul"), 5.7, 0.003),)
    steps = (MixedStep((), 0.50, 1.0, 4.0), MixedStep(("model.1",), 0.54, 0.5, 8.0))
    study = MixedPrecisionSearch("m", "m-int8", 0.58, 0.50, 0.54, groups, steps)
    assert study.reached
    assert study.recovered(steps[1]) == pytest.approx(0.5)
    row = study.rows()[1]
    assert (row["added"], row["added_error_removed"], row["kept"]) == ("model.1", 0.003, ["model.1"])
    assert row["added_nodes"] == ["/model.1/conv/Conv", "/model.1/act/Mul"]
    assert row["int8_latency_median_ms"] == 4.0 and row["latency_vs_int8"] == 0.5


def _judged(low: float, high: float) -> MixedPrecisionSearch:
    """Target drop 0.04 (FP32 0.58, target 0.54); the last step's drop interval is [low, high]."""
    steps = (MixedStep((), 0.50, 1.0), MixedStep(("g",), 0.58 - (low + high) / 2, 1.0))
    drop = Interval((low + high) / 2, low, high, 0.95)
    groups = (GroupGain("g", ("n",), 0.52, 0.02),)
    return MixedPrecisionSearch("m", "m-int8", 0.58, 0.50, 0.54, groups, steps, drop)


@pytest.mark.parametrize(
    ("low", "high", "failed", "inconclusive"),
    [(0.01, 0.03, False, False), (0.045, 0.06, True, False), (0.03, 0.05, False, True)],
)
def test_target_judged_by_the_drop_interval(
    low: float, high: float, failed: bool, inconclusive: bool
) -> None:
    """Fail only when the whole interval exceeds the allowed drop; straddling is inconclusive."""
    check = target_check(_judged(low, high))
    assert (check.failed, check.inconclusive) == (failed, inconclusive)
    assert "m-int8 with 1 layer groups in float" in check.message


def test_inconclusive_target_fails_by_policy() -> None:
    assert target_check(_judged(0.03, 0.05), inconclusive_fails=True).failed


def test_no_steps_no_target_check() -> None:
    with pytest.raises(ValueError, match="no steps"):
        target_check(MixedPrecisionSearch("m", "b", 0.5, 0.5, 0.5, (), ()))
