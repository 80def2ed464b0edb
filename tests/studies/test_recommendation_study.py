"""The recommendation study on the quick model: candidates scored, screened, one recommended."""

from __future__ import annotations

import dataclasses

from harness.bench import Bench
from harness.config import HarnessConfig, MatrixSpec, QuantChoice
from harness.config.studies import StudyTables
from harness.measure.roofline import missing_openvino
from harness.measure.stats import Interval
from harness.recipes import PruneSpec, QuantSpec
from harness.studies.recommendation import (
    Candidate,
    RecommendationResult,
    RecommendationStudy,
    cases,
    combined_candidates,
    measure_case,
)

QUANT = (QuantChoice(QuantSpec(calib_size=8)),)


def _bench(config: HarnessConfig, table: dict[str, object] | None, backends: tuple[str, ...]) -> Bench:
    matrix = MatrixSpec((0.0,), ("fp32", "int8"), backends, QUANT)
    studies = StudyTables() if table is None else StudyTables((("recommendation", table),))
    return Bench.from_config(dataclasses.replace(config, matrix=matrix, studies=studies))


def test_no_table_no_case_and_a_case_per_model(quick_config: HarnessConfig) -> None:
    assert cases(_bench(quick_config, None, ("torch",))) == []
    (case,) = cases(_bench(quick_config, {}, ("torch", "onnxruntime")))
    assert case.slug == "yolo11n-recommendation" and case.reference.backend == "torch"
    assert {v.slug for v in case.candidates} >= {"yolo11n-p00-fp32-torch", "yolo11n-p00-fp32-onnxruntime"}


def test_the_fastest_eligible_candidate_is_recommended(quick_config: HarnessConfig) -> None:
    backends = ("torch", "onnxruntime", "openvino")
    table = {"screen_rounds": 3, "interleaved_rounds": 9, "min_speedup": 1000.0}
    bench = _bench(quick_config, table, backends)
    (case,) = cases(bench)
    result = measure_case(bench, case)
    timed = [c for c in result.candidates if c.latency_ms is not None]
    assert len(timed) >= 3 and result.reference_ms is not None
    eligible = [c for c in timed if c.eligible]
    assert result.recommended is min(eligible, key=lambda c: c.latency_ms or 0.0)
    assert result.speedup is not None and result.speedup.low <= result.speedup.estimate <= result.speedup.high
    rows = result.to_dicts()
    assert [r["recommended"] for r in rows].count(True) == 1
    assert (
        [r["speedup_rounds"] for r in rows if r["recommended"]]
        == [9]
        != [quick_config.latency.interleaved_rounds]
    )
    latencies = [float(str(r["latency_median_ms"])) for r in rows if r["latency_median_ms"] is not None]
    assert latencies == sorted(latencies)
    speed, roof = RecommendationStudy().bars(bench, case, result)
    (check,) = speed.checks
    assert check.ok is False  # nothing here is 1000x faster than PyTorch
    assert roof.skip is not None and "max_roofline_ratio is not set" in roof.skip
    if missing_openvino() is None:
        assert result.roofline_of is not None and result.roofline_of.unpruned_int8
        assert result.roofline_ratio is not None and result.roofline_ratio > 1.0


def _candidate(bench: Bench, slug_part: str, latency: float, drop_high: float, limit: float) -> Candidate:
    from harness.measure.stats import Interval

    variant = next(v for v in bench.variants if all(part in v.slug for part in slug_part.split(" ")))
    return Candidate(
        variant, map50_95=0.5, drop=Interval(0.0, -0.01, drop_high, 0.95), limit=limit, latency_ms=latency
    )


def test_an_interval_reaching_past_the_budget_is_not_eligible(quick_config: HarnessConfig) -> None:
    bench = _bench(quick_config, {}, ("torch", "onnxruntime"))
    inside = _candidate(bench, "fp32-onnxruntime", 5.0, 0.009, 0.01)
    reaching = _candidate(bench, "fp32-onnxruntime", 5.0, 0.011, 0.01)
    assert inside.eligible and not reaching.eligible


def test_combined_puts_each_compressed_checkpoint_on_the_fastest_eligible_configuration(
    quick_config: HarnessConfig,
) -> None:
    matrix = MatrixSpec((0.0, 0.3), ("fp32", "int8"), ("torch", "onnxruntime"), QUANT)
    bench = Bench.from_config(dataclasses.replace(quick_config, matrix=matrix))
    fast = _candidate(bench, "p00-int8", 2.0, 0.005, 0.01)
    slow = _candidate(bench, "p00-fp32-onnxruntime", 4.0, 0.0, 0.01)
    pruned = _candidate(bench, "p30 torch", 3.0, 0.05, 0.02)
    (combo,) = combined_candidates([fast, slow, pruned])
    assert combo.prune == pruned.variant.prune and isinstance(combo.prune, PruneSpec)
    assert (combo.backend, combo.precision, combo.quant) == ("onnxruntime", "int8", fast.variant.quant)
    fast_out = dataclasses.replace(fast, limit=0.001)  # not eligible: the slower FP32 is the configuration
    (combo,) = combined_candidates([fast_out, slow, pruned])
    assert (combo.backend, combo.precision) == ("onnxruntime", "fp32")


def test_a_drop_below_the_reference_trained_as_long_also_decides(quick_config: HarnessConfig) -> None:
    bench = _bench(quick_config, {}, ("torch", "onnxruntime"))
    inside = _candidate(bench, "fp32-onnxruntime", 5.0, 0.009, 0.01)
    tuned_out = dataclasses.replace(inside, tuned_drop=Interval(0.02, 0.011, 0.03, 0.95, 2, "training seeds"))
    assert not dataclasses.replace(tuned_out, tuned_limit=0.01).eligible
    assert dataclasses.replace(tuned_out, tuned_limit=0.04).eligible
    assert inside.eligible and inside.tuned_drop is None


def test_a_pruned_candidate_is_scored_against_the_reference_fine_tuned_as_long(
    quick_config: HarnessConfig,
) -> None:
    """A real one-epoch fine-tune of the pruned model and of the reference: both drops recorded,
    and a tuned drop past its budget names itself as the reason."""
    from harness.config.pruning import PruningSpec
    from harness.studies.recommendation import _ineligible, _score

    matrix = MatrixSpec((0.0, 0.3), ("fp32",), ("torch",), QUANT)
    config = dataclasses.replace(
        quick_config, matrix=matrix, pruning=PruningSpec(finetune_epochs=1),
        verdicts=dataclasses.replace(quick_config.verdicts, tuned_reference=True),
        studies=StudyTables((("recommendation", {}),)),
    )  # fmt: skip
    bench = Bench.from_config(config)
    (case,) = cases(bench)
    pruned = next(v for v in case.candidates if v.prune is not None)
    scored = _score(bench, case, pruned, False)
    assert scored.drop is not None and scored.tuned_drop is not None and scored.tuned_limit is not None
    unpruned = _score(bench, case, case.reference, False)
    assert unpruned.tuned_drop is None
    past = dataclasses.replace(scored, tuned_limit=scored.tuned_drop.high - 0.001, limit=1.0)
    assert not past.eligible and "trained as long" in _ineligible(past)
    row = RecommendationResult(case, [scored]).to_dicts()[0]
    assert (row["tuned_drop"], row["tuned_drop_ci_high"]) == (
        scored.tuned_drop.estimate,
        scored.tuned_drop.high,
    )
