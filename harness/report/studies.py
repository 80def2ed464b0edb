"""Generic tables for studies that have no table module of their own (a user's study).

A study's :class:`~harness.results.StudyLayout` (title and columns), stored in results.json
``study_layouts``, says which row keys become which columns; a missing number is ``-``.
"""

from __future__ import annotations

import pandas as pd

from harness.report.html import ReportTable
from harness.report.tables import number_or_nan
from harness.results import RunResults, StudyLayout

__all__ = ["layout_tables"]

_LEGEND = "Rows as the study recorded them in results.json `studies`; `-` = not measured."


def layout_tables(run: RunResults) -> list[ReportTable]:
    """One table per study with a layout and rows, in the order the run recorded them."""
    return [
        _table(name, layout, run.studies[name])
        for name, layout in run.study_layouts.items()
        if run.studies.get(name)
    ]


def _table(name: str, layout: StudyLayout, rows: list[dict[str, object]]) -> ReportTable:
    """The study's rows as a frame: numbers as floats (NaN: ``-``), text as text."""
    records = [
        {
            c.header: (number_or_nan(row.get(c.key)) if c.digits is not None else row.get(c.key))
            for c in layout.columns
        }
        for row in rows
    ]
    frame = pd.DataFrame(records, columns=[c.header for c in layout.columns])
    formats = {c.header: f".{c.digits}f" for c in layout.columns if c.digits is not None}
    return ReportTable(f"study-{name}", layout.title, frame, _LEGEND, formats)
