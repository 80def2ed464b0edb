"""The verdict summary a report opens with, and the lines a run ends with.

Read from results.json ``studies.verdicts`` (one row per budget check, :mod:`harness.verdicts`):
the count of each verdict, then every failing, inconclusive, waived and skipped check with its
interval or reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

import pandas as pd

from harness.results import VERDICTS, RunResults

__all__ = [
    "NOTABLE",
    "VERDICT_ORDER",
    "count_line",
    "counts",
    "notable_rows",
    "summary_frame",
    "summary_lines",
]

VERDICT_ORDER = ("fail", "inconclusive", "pass", "waived", "skipped", "not checked")
NOTABLE = ("fail", "inconclusive", "waived", "skipped")
"""Verdicts the report lists one by one (a skip with its reason); passes and unchecked budgets are
only counted. The terminal lists only failing and waived ones (pytest's ``-rs`` lists skips)."""
Row = Mapping[str, object]


def counts(rows: Iterable[Row]) -> dict[str, int]:
    """How many rows have each verdict, in :data:`VERDICT_ORDER` (zeros included)."""
    seen = Counter(str(r.get("verdict")) for r in rows)
    return {v: seen.get(v, 0) for v in VERDICT_ORDER}


def notable_rows(run: RunResults) -> list[Row]:
    """Failing, then inconclusive, then waived verdict rows, each group in run order."""
    rows = run.studies.get(VERDICTS, [])
    return [r for v in NOTABLE for r in rows if r.get("verdict") == v]


def _interval(row: Row) -> str:
    low, high = row.get("ci_low"), row.get("ci_high")
    if isinstance(low, int | float) and isinstance(high, int | float):
        return f"[{low:.4g}, {high:.4g}]"
    return "-"


def count_line(run: RunResults) -> str:
    """``"1 fail, 0 inconclusive, 12 pass, ..."``: the count of every verdict of the run."""
    found = counts(run.studies.get(VERDICTS, []))
    return ", ".join(f"{n} {verdict}" for verdict, n in found.items())


def summary_frame(run: RunResults) -> pd.DataFrame:
    """The notable checks as a table: verdict, subject, check, interval and detail."""
    rows = [(r.get("verdict"), r.get("subject"), r.get("check"), _interval(r), r.get("message"))
            for r in notable_rows(run)]  # fmt: skip
    return pd.DataFrame(rows, columns=["Verdict", "Subject", "Check", "Interval", "Detail"])


def summary_lines(run: RunResults) -> list[str]:
    """Terminal lines: the counts, then each failing or waived check with its interval."""
    if not run.studies.get(VERDICTS):
        return []
    lines = [f"harness: verdicts: {count_line(run)}"]
    for r in notable_rows(run):
        if r.get("verdict") in ("fail", "waived"):  # inconclusive ones were already noted one by one
            lines.append(f"harness: {str(r.get('verdict')).upper()} {r.get('message')}")
    return lines
