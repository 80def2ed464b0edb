"""Budgets: metric directions, parsing (property-based), precedence and the checks."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from harness.checks import (
    check_baseline_drop,
    check_fp32_speed,
    check_latency_regression,
    check_map_drop,
    check_speedup,
)
from harness.config.budgets import WAIVABLE, Budget, BudgetOverride, Budgets
from harness.errors import ConfigError
from harness.measure.stats import Interval
from harness.metrics import METRICS, regression

SPEC_METRICS = {
    "map50", "map50_95", "latency_mean_ms", "latency_std_ms", "latency_median_ms",
    "latency_p90_ms", "latency_p95_ms", "latency_p99_ms", "speedup_vs_reference",
    "throughput_ips", "throughput_batch", "params", "gflops", "file_bytes", "peak_memory_mb",
    "speedup_ci_low", "speedup_ci_high", "map50_95_drop_ci_low", "map50_95_drop_ci_high",
    "speedup_vs_fp32", "speedup_vs_fp32_ci_low", "speedup_vs_fp32_ci_high",
    "speedup_vs_baseline", "speedup_vs_baseline_ci_low", "speedup_vs_baseline_ci_high",
    "map50_95_drop_seed_mean", "training_seeds",
}  # fmt: skip
PRECISIONS = ("fp32", "fp16", "bf16")

unit = st.floats(0.0, 1.0)
limits = st.floats(0.0, 1.0)
latencies = st.floats(0.01, 1e4)
directed = st.sampled_from([m for m, info in METRICS.items() if info.higher_is_better is not None])


# --- metric table -------------------------------------------------------------------


def test_metric_table_covers_every_metric_with_unit_direction_label() -> None:
    assert set(METRICS) == SPEC_METRICS
    for name, (unit_, higher, label) in METRICS.items():
        assert isinstance(unit_, str) and label, name
        assert higher in (True, False, None)


@pytest.mark.parametrize(
    "metric, higher",
    [("map50_95", True), ("speedup_vs_reference", True), ("throughput_ips", True),
     ("latency_median_ms", False), ("file_bytes", False), ("peak_memory_mb", False)],
)  # fmt: skip
def test_direction_of_better(metric: str, higher: bool) -> None:
    assert METRICS[metric].higher_is_better is higher


@given(directed, st.floats(-1e6, 1e6), st.floats(-1e6, 1e6))
def test_regression_is_antisymmetric(metric: str, a: float, b: float) -> None:
    assert regression(metric, a, b) == -regression(metric, b, a)


@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6))
def test_regression_sign_flips_with_direction(a: float, b: float) -> None:
    assert regression("map50_95", a, b) == regression("latency_median_ms", b, a)
    assert regression("map50_95", a, b) == -regression("latency_median_ms", a, b)


def test_regression_needs_a_direction() -> None:
    with pytest.raises(ValueError, match="throughput_batch"):
        regression("throughput_batch", 1, 2)


# --- parsing --------------------------------------------------------------------------


overrides = st.builds(
    BudgetOverride,
    max_map_drop=st.none() | limits,
    max_baseline_drop=st.none() | limits,
    min_speedup=st.none() | st.floats(0.01, 10.0),
    max_latency_regression=st.none() | limits,
    min_speedup_vs_fp32=st.none() | st.floats(0.01, 10.0),
)
waivers = st.dictionaries(
    st.from_regex(r"[a-z0-9]{1,8}-p[0-9]{2}-int8-torch", fullmatch=True),
    st.dictionaries(
        st.sampled_from(WAIVABLE), st.from_regex(r"[a-z]{1,6}( [a-z]{1,6})?", fullmatch=True), min_size=1
    ).map(lambda d: tuple(sorted(d.items()))),
).map(lambda d: tuple(sorted(d.items())))
budgets_strategy = st.builds(
    Budgets,
    default=st.builds(
        Budget, max_map_drop=limits, max_baseline_drop=limits,
        min_speedup=st.none() | st.floats(0.01, 10.0), max_latency_regression=limits,
    ),
    precision=st.dictionaries(st.sampled_from(PRECISIONS), overrides).map(
        lambda d: tuple(sorted(d.items()))
    ),
    variants=st.dictionaries(st.from_regex(r"[a-z0-9]{1,8}-p[0-9]{2}-fp(16|32)-torch", fullmatch=True),
                             overrides).map(lambda d: tuple(sorted(d.items()))),
    pruned=overrides,
    waivers=waivers,
)  # fmt: skip


@given(budgets_strategy)
def test_mapping_round_trip(budgets: Budgets) -> None:
    assert Budgets.from_mapping(budgets.to_mapping(), "x.toml", precisions=PRECISIONS) == budgets


def test_empty_table_gives_documented_defaults() -> None:
    budget = Budgets.from_mapping({}, "x.toml").for_variant("m-p00-fp32-torch", "fp32")
    assert budget == Budget(0.01, 0.005, None, 0.05)


@given(budgets_strategy, st.sampled_from(PRECISIONS), st.text(max_size=12), st.booleans())
def test_for_variant_precedence(budgets: Budgets, precision: str, slug: str, pruned: bool) -> None:
    budget = budgets.for_variant(slug, precision, pruned)
    layers = [
        budgets.default, dict(budgets.precision).get(precision), budgets.pruned if pruned else None,
        dict(budgets.variants).get(slug),
    ]  # fmt: skip
    for key in ("max_map_drop", "max_baseline_drop", "min_speedup", "max_latency_regression"):
        expected = budgets.default.__getattribute__(key)
        for layer in layers[1:]:
            if layer is not None and getattr(layer, key) is not None:
                expected = getattr(layer, key)
        assert getattr(budget, key) == expected


def test_variant_beats_precision_beats_default() -> None:
    budgets = Budgets.from_mapping(
        {
            "max_map_drop": 0.02,
            "precision": {"fp16": {"max_map_drop": 0.03, "max_baseline_drop": 0.01}},
            "variants": {"m-p00-fp16-torch": {"max_map_drop": 0.05}},
        },
        "x.toml",
    )
    assert budgets.for_variant("m-p00-fp32-torch", "fp32").max_map_drop == 0.02
    assert budgets.for_variant("m-p00-fp16-onnxruntime", "fp16").max_map_drop == 0.03
    winner = budgets.for_variant("m-p00-fp16-torch", "fp16")
    assert (winner.max_map_drop, winner.max_baseline_drop) == (0.05, 0.01)


def test_pruned_table_applies_to_pruned_variants_only() -> None:
    budgets = Budgets.from_mapping(
        {"precision": {"int8": {"max_map_drop": 0.015}}, "pruned": {"max_map_drop": 0.02}}, "x.toml"
    )
    assert budgets.for_variant("m-p00-fp32-torch", "fp32").max_map_drop == 0.01
    assert budgets.for_variant("m-p30-l1-fp32-torch", "fp32", pruned=True).max_map_drop == 0.02
    assert budgets.for_variant("m-p30-l1-int8-torch", "int8", pruned=True).max_map_drop == 0.02
    with pytest.raises(ConfigError, match=r"unknown key 'budgets\.pruned\.max_drop'"):
        Budgets.from_mapping({"pruned": {"max_drop": 0.02}}, "x.toml")


def test_min_speedup_table_is_shorthand_for_precision_tables() -> None:
    budgets = Budgets.from_mapping({"min_speedup": {"fp16": 1.2, "bf16": 1}}, "x.toml")
    assert budgets.for_variant("a", "fp16").min_speedup == 1.2
    assert budgets.for_variant("a", "bf16").min_speedup == 1.0
    assert budgets.for_variant("a", "fp32").min_speedup is None


def test_min_speedup_set_twice_is_an_error() -> None:
    table = {"min_speedup": {"fp16": 1.2}, "precision": {"fp16": {"min_speedup": 1.3}}}
    with pytest.raises(ConfigError, match=r"budgets\.min_speedup\.fp16 in x\.toml: .*set it in one place"):
        Budgets.from_mapping(table, "x.toml")


def test_unknown_variants_finds_typos() -> None:
    budgets = Budgets.from_mapping({"variants": {"a-p00-fp32-torch": {}, "typo": {}}}, "x.toml")
    assert budgets.unknown_variants(["a-p00-fp32-torch"]) == ("typo",)


@pytest.mark.parametrize(
    "table, message",
    [
        ({"max_map_drp": 0.1}, (r"unknown key 'tool\.harness\.budgets\.max_map_drp' in x\.toml; "
                                r"did you mean 'max_map_drop'\?")),
        ({"precision": {"fp61": {}}}, r"budgets\.precision\.fp61 .* did you mean 'fp16'\?"),
        ({"precision": {"fp16": {"min_sped": 1}}}, r"budgets\.precision\.fp16\.min_sped'.*'min_speedup'"),
        ({"variants": {"v": {"max_latency_regresion": 1}}}, r"budgets\.variants\.v\.max_latency_regresion"),
        ({"variants": {"v": 0.1}}, r"budgets\.variants\.v in x\.toml: expected a table"),
        ({"precision": []}, r"budgets\.precision in x\.toml: expected a table"),
        ({"min_speedup": {"fp16": 0}}, r"budgets\.min_speedup\.fp16 in x\.toml: expected a number > 0"),
        ({"min_speedup": 0.0}, r"budgets\.min_speedup in x\.toml: expected a number > 0"),
        ({"max_map_drop": float("inf")}, r"budgets\.max_map_drop .* expected a number >= 0"),
    ],
)  # fmt: skip
def test_parse_errors_name_file_and_dotted_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Budgets.from_mapping(table, "x.toml", prefix="tool.harness.budgets", precisions=PRECISIONS)


bad_values = st.one_of(
    st.floats(max_value=-1e-9, allow_nan=False),
    st.just(float("nan")),
    st.booleans(),
    st.text(max_size=5).filter(lambda t: not t.strip().endswith("%")),  # "1%" is a relative limit
    st.lists(st.integers(), max_size=2),
)


@given(st.sampled_from(["max_map_drop", "max_baseline_drop", "min_speedup", "max_latency_regression"]),
       bad_values)  # fmt: skip
def test_any_bad_value_is_a_config_error(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"budgets.{key}"):
        Budgets.from_mapping({key: value}, "x.toml")


def test_budget_rejects_negative_limits_when_built_directly() -> None:
    with pytest.raises(ValueError, match="max_map_drop"):
        Budget(max_map_drop=-0.1)


# --- checks ---------------------------------------------------------------------------


def test_map_drop_message_names_variant_metric_value_limit_baseline() -> None:
    result = check_map_drop(Budget(), "yolo11n-p00-fp32-onnxruntime", 0.5120, 0.5432, 0.5400)
    assert result.ok is False and result.failed
    assert result.message == (
        "yolo11n-p00-fp32-onnxruntime: mAP50-95 drop vs FP32 reference 0.0312 > limit 0.0100 "
        "(value 0.5120, reference 0.5432, baseline 0.5400)"
    )
    assert (result.metric, result.value, result.limit, result.reference, result.baseline) == (
        "map50_95", 0.5120, 0.01, 0.5432, 0.5400,
    )  # fmt: skip


@given(reference=unit, limit=limits, fraction=st.floats(0.0, 1.0))
def test_map_drop_never_fails_within_limit(reference: float, limit: float, fraction: float) -> None:
    value = reference - fraction * limit
    assert check_map_drop(Budget(max_map_drop=limit), "v", value, reference).ok is True


@given(reference=unit, limit=limits, excess=st.floats(1e-6, 1.0))
def test_map_drop_fails_beyond_limit(reference: float, limit: float, excess: float) -> None:
    value = reference - limit - excess
    assert check_map_drop(Budget(max_map_drop=limit), "v", value, reference).ok is False


@given(value=unit, reference=unit)
def test_map_drop_improvement_always_passes(value: float, reference: float) -> None:
    assume(value >= reference)
    assert check_map_drop(Budget(max_map_drop=0.0), "v", value, reference).ok is True


@given(
    baseline=unit, limit=limits, fraction=st.floats(0.0, 1.0), metric=st.sampled_from(["map50", "map50_95"])
)
def test_baseline_drop_never_fails_within_limit(
    baseline: float, limit: float, fraction: float, metric: str
) -> None:
    result = check_baseline_drop(Budget(max_baseline_drop=limit), "v", baseline - fraction * limit,
                                 baseline, metric)  # fmt: skip
    assert result.ok is True
    assert result.metric == metric


def test_baseline_drop_message() -> None:
    result = check_baseline_drop(Budget(), "m-p00-fp16-torch", 0.50, 0.51)
    assert result.ok is False
    assert result.message == (
        "m-p00-fp16-torch: mAP50-95 drop vs baseline 0.0100 > limit 0.0050 (value 0.5000, baseline 0.5100)"
    )


def test_baseline_drop_only_for_accuracy_metrics() -> None:
    with pytest.raises(ValueError):
        check_baseline_drop(Budget(), "v", 1.0, 2.0, metric="latency_median_ms")


@given(speedup=st.floats(0.01, 100.0), limit=st.floats(0.01, 100.0))
def test_speedup_passes_exactly_when_at_least_limit(speedup: float, limit: float) -> None:
    result = check_speedup(Budget(min_speedup=limit), "v", speedup)
    assert result.ok is (speedup >= limit or math.isclose(speedup, limit, rel_tol=0, abs_tol=1e-9))


def test_speedup_without_limit_is_not_checked() -> None:
    result = check_speedup(Budget(), "v", 0.5)
    assert result.ok is None and not result.failed
    assert "no limit set" in result.message


def test_speedup_message() -> None:
    result = check_speedup(Budget(min_speedup=1.5), "m-p00-fp16-onnxruntime", 1.1, reference=26.6)
    assert result.message.startswith("m-p00-fp16-onnxruntime: speedup vs reference 1.10x < limit 1.50x")
    assert "reference latency 26.6000 ms" in result.message


@given(baseline=latencies, limit=limits, fraction=st.floats(-1.0, 1.0))
def test_latency_never_fails_within_limit(baseline: float, limit: float, fraction: float) -> None:
    latency = baseline * (1 + fraction * limit)
    assume(latency > 0)
    result = check_latency_regression(Budget(max_latency_regression=limit), "v", latency, baseline, True)
    assert result.ok is True


@given(baseline=latencies, limit=limits, excess=st.floats(1e-6, 1.0))
def test_latency_fails_beyond_limit(baseline: float, limit: float, excess: float) -> None:
    latency = baseline * (1 + limit + excess)
    result = check_latency_regression(Budget(max_latency_regression=limit), "v", latency, baseline, True)
    assert result.ok is False


@given(latency=latencies, baseline=latencies)
def test_latency_is_never_compared_across_fingerprints(latency: float, baseline: float) -> None:
    result = check_latency_regression(Budget(), "v", latency, baseline, same_fingerprint=False)
    assert result.ok is None
    assert "another fingerprint" in result.message


def test_latency_message() -> None:
    result = check_latency_regression(Budget(), "m-p00-fp32-torch", 13.0, 10.0, True)
    assert result.ok is False
    assert result.message == (
        "m-p00-fp32-torch: latency p50 regression vs baseline +30.0% > limit 5.0% "
        "(value 13.000 ms, baseline 10.000 ms)"
    )


@pytest.mark.parametrize(
    "result",
    [
        check_map_drop(Budget(), "v", None, 0.5),
        check_map_drop(Budget(), "v", 0.5, None),
        check_map_drop(Budget(max_map_drop=None), "v", 0.1, 0.5),
        check_baseline_drop(Budget(), "v", 0.5, None),
        check_speedup(Budget(min_speedup=2.0), "v", None),
        check_latency_regression(Budget(), "v", None, 1.0, True),
        check_latency_regression(Budget(), "v", 1.0, 0.0, True),
    ],
)
def test_unmeasured_inputs_skip_instead_of_failing(result: object) -> None:
    assert result.ok is None  # type: ignore[attr-defined]
    assert not result.failed  # type: ignore[attr-defined]
    assert "not checked" in result.message  # type: ignore[attr-defined]


def test_not_measured_message_says_which_input() -> None:
    assert "value not measured" in check_map_drop(Budget(), "v", None, 0.5).message
    assert "reference not measured" in check_map_drop(Budget(), "v", 0.5, None).message


# --- interval verdicts -------------------------------------------------------------------


def _interval(estimate: float, low: float, high: float) -> Interval:
    return Interval(estimate, low, high, 0.99)


@pytest.mark.parametrize(
    ("low", "high", "fails", "ok", "inconclusive"),
    [
        (1.25, 1.40, False, True, False),  # wholly above the limit
        (1.05, 1.15, False, False, False),  # wholly below
        (1.10, 1.30, False, True, True),  # straddles: passes by default policy
        (1.10, 1.30, True, False, True),  # straddles: fails under the strict policy
    ],
)
def test_speedup_verdict_uses_the_interval(
    low: float, high: float, fails: bool, ok: bool, inconclusive: bool
) -> None:
    budget = Budget(min_speedup=1.2)
    mid = (low + high) / 2
    check = check_speedup(budget, "v", mid, 10.0, None, _interval(mid, low, high), fails)
    assert check.ok is ok and check.inconclusive is inconclusive
    assert ("INCONCLUSIVE" in check.message) is inconclusive
    assert "99% CI" in check.message and check.interval is not None


def test_point_estimate_below_limit_is_not_a_failure_when_the_interval_straddles() -> None:
    check = check_speedup(Budget(min_speedup=1.0), "v", 0.98, 10.0, None, _interval(0.98, 0.94, 1.03))
    assert check.ok is True and check.inconclusive and not check.failed


def test_map_drop_verdict_uses_the_interval() -> None:
    budget = Budget(max_map_drop=0.01)
    wholly_over = check_map_drop(budget, "v", 0.60, 0.62, None, _interval(0.02, 0.015, 0.025))
    assert wholly_over.failed and "beyond limit" in wholly_over.message
    itself = check_map_drop(budget, "v", 0.62, 0.62, None, _interval(0.0, 0.0, 0.0))
    assert itself.ok is True and not itself.inconclusive
    straddling = check_map_drop(budget, "v", 0.608, 0.62, None, _interval(0.012, 0.004, 0.02), True)
    assert straddling.failed and straddling.inconclusive


# --- relative limits ("1%" of the compared value) -----------------------------------------


def test_percent_limits_are_relative_to_the_compared_value() -> None:
    budgets = Budgets.from_mapping({"max_map_drop": "1%", "max_baseline_drop": "0.5 %"}, "x.toml")
    budget = budgets.for_variant("m-p00-int8-onnxruntime", "int8")
    assert budget.relative == {"max_map_drop", "max_baseline_drop"}
    assert budget.limit("max_map_drop", 0.60) == pytest.approx(0.006)
    assert budget.limit("max_baseline_drop", 0.40) == pytest.approx(0.002)
    assert budget.limit("max_map_drop", None) is None  # no reference measured: no limit
    assert budget.shown("max_map_drop") == "1%"


def test_relative_map_drop_check_fails_and_passes_on_the_scaled_limit() -> None:
    budget = Budgets.from_mapping({"max_map_drop": "1%"}, "x.toml").default
    ok = check_map_drop(budget, "v", 0.595, 0.600)  # drop 0.005 <= 0.006
    bad = check_map_drop(budget, "v", 0.590, 0.600)  # drop 0.010 > 0.006
    assert ok.ok is True and bad.ok is False
    assert bad.limit == pytest.approx(0.006) and "1% of the reference" in bad.message


def test_an_absolute_override_replaces_a_relative_default() -> None:
    budgets = Budgets.from_mapping(
        {"max_map_drop": "1%", "precision": {"fp16": {"max_map_drop": 0.02}}}, "x.toml", precisions=PRECISIONS
    )
    assert budgets.for_variant("v", "fp16").limit("max_map_drop", 0.5) == 0.02
    assert budgets.for_variant("v", "fp32").limit("max_map_drop", 0.5) == pytest.approx(0.005)


@pytest.mark.parametrize(
    "table, message",
    [
        ({"max_map_drop": "1"}, r"budgets\.max_map_drop in x\.toml: expected an absolute mAP drop .*\"1%\""),
        ({"max_map_drop": "abc%"}, r"budgets\.max_map_drop in x\.toml: expected an absolute"),
        ({"max_baseline_drop": "150%"}, r"budgets\.max_baseline_drop in x\.toml: expected a percentage in"),
        ({"min_speedup": "10%"}, r"budgets\.min_speedup in x\.toml: expected a number"),
    ],
)  # fmt: skip
def test_bad_percent_limits_are_config_errors(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Budgets.from_mapping(table, "x.toml")


def test_a_variant_table_naming_no_variant_is_an_error_with_the_nearest_ids() -> None:
    budgets = Budgets.from_mapping({"variants": {"m-p00-int8-onnxruntim": {"min_speedup": 1.1}}}, "x.toml")
    slugs = ["m-p00-fp32-onnxruntime", "m-p00-fp32-torch", "m-p00-int8-qdq-pc-u8s8-minmax-c100-onnxruntime"]
    message = (
        r'budgets\.variants\."m-p00-int8-onnxruntim" in h\.toml names no '
        r"variant of the matrix; nearest: m-p00-fp32-onnxruntime"
    )
    with pytest.raises(ConfigError, match=message):
        budgets.check_variants(slugs, "h.toml")
    Budgets.from_mapping({"variants": {"m-p00-fp32-torch": {}}}, "x.toml").check_variants(slugs, "h.toml")


@pytest.mark.parametrize("percent", ["1%", "0.5%", "2.5%", "10%"])
def test_relative_limits_round_trip(percent: str) -> None:
    table = {"max_map_drop": percent, "pruned": {"max_baseline_drop": percent}}
    budgets = Budgets.from_mapping(table, "x.toml")
    assert Budgets.from_mapping(budgets.to_mapping(), "x.toml") == budgets


# --- speed against the FP32 variant of the same backend, and waivers ---------------------


def test_low_precision_must_not_be_slower_than_fp32_by_default() -> None:
    budget = Budgets.from_mapping({}, "x.toml").for_variant("m-p00-int8-x-onnxruntime", "int8")
    assert budget.min_speedup_vs_fp32 == 1.0
    slower = check_fp32_speed(budget, "v", 0.8, 12.0, _interval(0.8, 0.75, 0.85))
    assert (
        slower.failed and "99% CI" in slower.message and "speed vs FP32 on its own backend" in slower.message
    )
    faster = check_fp32_speed(budget, "v", 1.9, 12.0, _interval(1.9, 1.8, 2.0))
    assert faster.ok is True
    noisy = check_fp32_speed(budget, "v", 0.98, 12.0, _interval(0.98, 0.9, 1.05))
    assert noisy.inconclusive and noisy.verdict == "inconclusive"


def test_fp32_speed_without_hardware_half_is_reported_not_gated() -> None:
    check = check_fp32_speed(Budget(), "v", 0.5, 12.0, _interval(0.5, 0.45, 0.55), not_gated="a size option")
    assert check.ok is None and not check.failed and "not gated: a size option" in check.message
    assert check.value == 0.5  # still reported


def test_fp32_speed_limit_is_a_budget_key() -> None:
    table = {"min_speedup_vs_fp32": 1.2, "variants": {"m-p00-int8-torch": {"min_speedup_vs_fp32": 0.5}}}
    budgets = Budgets.from_mapping(table, "x.toml")
    assert budgets.for_variant("m-p00-int8-torch", "int8").min_speedup_vs_fp32 == 0.5
    assert budgets.for_variant("m-p30-int8-torch", "int8").min_speedup_vs_fp32 == 1.2
    with pytest.raises(ConfigError, match="min_speedup_vs_fp32 in x.toml: expected a number > 0"):
        Budgets.from_mapping({"min_speedup_vs_fp32": 0}, "x.toml")


def test_waivers_are_read_with_their_reasons() -> None:
    table = {"waivers": {"m-p00-int8-torch": {"fp32_speed": "  kept for accuracy  "}}}
    budgets = Budgets.from_mapping(table, "x.toml")
    assert budgets.waiver("m-p00-int8-torch", "fp32_speed") == "kept for accuracy"
    assert budgets.waiver("m-p00-int8-torch", "map_drop") is None
    assert budgets.waiver("m-p30-int8-torch", "fp32_speed") is None


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"waivers": {"v": {"fp32_sped": "x"}}}, r"budgets\.waivers\.v.*fp32_sped"),
        ({"waivers": {"v": {"fp32_speed": ""}}}, r"budgets\.waivers\.v\.fp32_speed in x\.toml: expected the reason"),
        ({"waivers": {"v": {"fp32_speed": 1}}}, r"expected the reason for the waiver"),
        ({"waivers": {"v": "x"}}, r"budgets\.waivers\.v in x\.toml: expected a table"),
    ],
)  # fmt: skip
def test_bad_waivers_are_config_errors(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Budgets.from_mapping(table, "x.toml")


def test_a_waiver_naming_no_variant_is_an_error() -> None:
    budgets = Budgets.from_mapping({"waivers": {"m-p00-int8-torhc": {"fp32_speed": "x"}}}, "x.toml")
    with pytest.raises(
        ConfigError, match=r'budgets\.waivers\."m-p00-int8-torhc" in h\.toml names no variant'
    ):
        budgets.check_variants(["m-p00-int8-torch"], "h.toml")
