"""Every budget verdict of a run as rows of the ``verdicts`` table, with waivers applied.

Each :class:`~harness.checks.CheckResult` a test enforces goes through :func:`settle`: a check that
the config waives for its subject (``[budgets.waivers."<variant>"]``) is kept, measured and
reported, but as ``waived`` and not failed; then every check becomes one row of results.json
``studies.verdicts``. The report's verdict summary, the terminal summary and the list of waivers
are read from these rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from harness.checks import CheckResult
from harness.config.budgets import Budgets
from harness.results import StudyColumn, StudyLayout

__all__ = ["LAYOUT", "row", "settle", "skipped_row", "waive"]

LAYOUT = StudyLayout(
    "Verdicts",
    (
        StudyColumn("test", "Test", None),
        StudyColumn("subject", "Subject", None),
        StudyColumn("check", "Check", None),
        StudyColumn("verdict", "Verdict", None),
        StudyColumn("value", "Value", 4),
        StudyColumn("ci_low", "CI low", 4),
        StudyColumn("ci_high", "CI high", 4),
        StudyColumn("limit", "Limit", 4),
        StudyColumn("detectable", "Detectable drop", 4),
        StudyColumn("deciding_n", "To decide", 0),
        StudyColumn("deciding_unit", "Of", None),
        StudyColumn("message", "Detail", None),
    ),
)


def waive(check: CheckResult, budgets: Budgets) -> CheckResult:
    """``check`` turned off by its waiver, if the config has one for its subject and name."""
    reason = budgets.waiver(check.variant, check.name)
    if reason is None:
        return check
    message = f"{check.message}: WAIVED ({reason})"
    return dataclasses.replace(check, ok=None, message=message, waived=reason)


def settle(checks: Sequence[CheckResult], budgets: Budgets) -> list[CheckResult]:
    """The checks with every configured waiver applied."""
    return [waive(c, budgets) for c in checks]


def row(check: CheckResult, test: str) -> dict[str, object]:
    """One JSON-ready row of the verdicts table."""
    interval = check.interval
    return {
        "test": test,
        "subject": check.variant,
        "check": check.name,
        "metric": check.metric,
        "verdict": check.verdict,
        "value": check.value,
        "ci_low": interval.low if interval else None,
        "ci_high": interval.high if interval else None,
        "limit": check.limit,
        "detectable": check.detectable,
        "deciding_n": check.deciding_n,
        "deciding_unit": check.deciding_unit,
        "waiver": check.waived,
        "message": check.message,
    }


def skipped_row(test: str, subject: str, check: str, reason: str) -> dict[str, object]:
    """A verdicts-table row for a check that was not made (a backend absent here, a study bar
    without a subject): verdict ``skipped``, the reason as its message, nothing measured."""
    unmeasured = dict.fromkeys(
        (
            "metric",
            "value",
            "ci_low",
            "ci_high",
            "limit",
            "detectable",
            "deciding_n",
            "deciding_unit",
            "waiver",
        )
    )
    return {
        "test": test,
        "subject": subject,
        "check": check,
        "verdict": "skipped",
        **unmeasured,
        "message": reason,
    }
