"""A latency FAIL between two loaded models is measured again on a fresh load before it stands."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.checks import CheckResult, check_baseline_speed
from harness.config.budgets import Budget
from harness.confirm import confirm_fail
from harness.measure.stats import Interval

BUDGET = Budget(max_latency_regression=0.05)  # limit 1 / 1.05 = 0.952x


def speed(estimate: float, low: float, high: float, fails: bool = False) -> CheckResult:
    """The A/B speed check of NEW against OLD for this interleaved ratio."""
    return check_baseline_speed(BUDGET, "new vs old", Interval(estimate, low, high, 0.99), "A/B", 4.2, fails)


def counted(result: CheckResult) -> tuple[Callable[[], CheckResult], list[int]]:
    """``result`` as the re-measurement, and a list that counts its calls."""
    calls: list[int] = []

    def again() -> CheckResult:
        calls.append(1)
        return result

    return again, calls


def test_a_pass_is_not_measured_again() -> None:
    first = speed(1.01, 0.98, 1.04)
    again, calls = counted(speed(0.5, 0.4, 0.6))
    assert confirm_fail(first, again, False) is first
    assert calls == []


@pytest.mark.parametrize("fails", [False, True], ids=["policy-pass", "policy-fail"])
def test_an_inconclusive_first_is_not_measured_again(fails: bool) -> None:
    first = speed(0.96, 0.93, 0.99, fails)
    again, calls = counted(speed(0.5, 0.4, 0.6, fails))
    assert confirm_fail(first, again, fails) is first
    assert calls == []


def test_a_fail_that_fails_again_stands_with_both_measurements() -> None:
    again, calls = counted(speed(0.84, 0.80, 0.88))
    result = confirm_fail(speed(0.85, 0.79, 0.91), again, False)
    assert calls == [1]
    assert result.failed and result.verdict == "fail"
    assert result.value == pytest.approx(0.84)  # the confirming measurement's figure
    assert "0.840x (99% CI 0.800x-0.880x) beyond limit" in result.message
    assert "confirmed: the first load measured 0.850x (99% CI 0.790x-0.910x)" in result.message


@pytest.mark.parametrize("second", [(1.0, 0.97, 1.03), (0.95, 0.90, 1.00)], ids=["pass", "inconclusive"])
@pytest.mark.parametrize("fails", [False, True], ids=["policy-pass", "policy-fail"])
def test_a_fail_not_reproduced_is_inconclusive_under_the_policy(
    second: tuple[float, float, float], fails: bool
) -> None:
    again, _ = counted(speed(*second, fails=fails))
    result = confirm_fail(speed(0.85, 0.79, 0.91, fails), again, fails)
    assert result.verdict == "inconclusive"
    assert result.failed is fails  # the [verdicts] inconclusive policy decides, as for any straddle
    assert result.value == pytest.approx(0.85)
    policy = "fail" if fails else "pass"
    assert result.message.endswith(f"not reproduced: INCONCLUSIVE (policy: {policy})")
    assert "beyond limit 0.9524" in result.message  # the first measurement is still shown


def test_a_fail_whose_remeasurement_is_not_measured_is_inconclusive() -> None:
    unmeasured = check_baseline_speed(BUDGET, "new vs old", None, "A/B", None, False)
    again, _ = counted(unmeasured)
    result = confirm_fail(speed(0.85, 0.79, 0.91), again, False)
    assert result.verdict == "inconclusive"
    assert "a fresh load of both models (3x the rounds): not measured, not reproduced" in result.message
