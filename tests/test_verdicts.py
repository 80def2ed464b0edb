"""The verdicts table: waivers applied, one row per check, counts per verdict."""

from __future__ import annotations

from harness.checks import CheckResult, check_fp32_speed, check_map_drop, check_speedup
from harness.config.budgets import Budget, Budgets
from harness.measure.stats import Interval
from harness.report.summary import VERDICT_ORDER, counts
from harness.verdicts import row, settle, skipped_row

WAIVED = Budgets.from_mapping({"waivers": {"v-int8": {"fp32_speed": "kept for accuracy"}}}, "x.toml")


def _slow(subject: str) -> CheckResult:
    return check_fp32_speed(Budget(), subject, 0.8, 10.0, Interval(0.8, 0.75, 0.85, 0.99))


def test_a_waived_failure_is_reported_as_waived_and_does_not_fail() -> None:
    (check,) = settle([_slow("v-int8")], WAIVED)
    assert not check.failed and check.verdict == "waived" and check.waived == "kept for accuracy"
    assert "WAIVED (kept for accuracy)" in check.message and check.value == 0.8


def test_a_waiver_applies_to_its_variant_and_check_only() -> None:
    other_variant = settle([_slow("v2-int8")], WAIVED)[0]
    other_check = settle([check_map_drop(Budget(), "v-int8", 0.5, 0.6)], WAIVED)[0]
    assert other_variant.failed and other_check.failed


def test_rows_carry_verdict_interval_limit_and_message() -> None:
    check = check_speedup(Budget(min_speedup=1.2), "v", 1.2, 5.0, None, Interval(1.2, 1.1, 1.3, 0.99))
    got = row(check, "suites/test_speed.py::test_speed[v]")
    assert got["verdict"] == "inconclusive" and (got["ci_low"], got["ci_high"], got["limit"]) == (
        1.1,
        1.3,
        1.2,
    )
    assert got["test"].endswith("[v]") and "straddles" in str(got["message"])


def test_counts_cover_every_verdict() -> None:
    rows = [
        row(c, "t")
        for c in settle([_slow("v-int8"), _slow("x"), check_map_drop(Budget(), "y", 0.6, 0.6)], WAIVED)
    ]
    rows.append(skipped_row("t", "z-int8-tensorrt", "-", "z-int8-tensorrt: no CUDA device"))
    assert counts(rows) == {
        "fail": 1,
        "inconclusive": 0,
        "pass": 1,
        "waived": 1,
        "skipped": 1,
        "not checked": 0,
    }
    assert tuple(counts([])) == VERDICT_ORDER


def test_a_skipped_row_has_its_reason_and_nothing_measured() -> None:
    got = skipped_row("suites/test_x.py::test_x[m]", "m", "target", "full INT8 lost nothing")
    assert (got["verdict"], got["subject"], got["check"], got["message"]) == (
        "skipped", "m", "target", "full INT8 lost nothing",
    )  # fmt: skip
    assert set(got) == set(row(check_map_drop(Budget(), "y", 0.6, 0.6), "t"))  # the same columns
    assert all(got[k] is None for k in ("value", "limit", "ci_low", "ci_high", "detectable"))
