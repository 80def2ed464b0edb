"""One self-contained HTML page per run: environment, every table and every plot.

The page needs nothing outside itself: CSS is inline and plots are embedded as SVG data URIs,
so it can be archived as a CI artifact and opened anywhere. Every text is escaped; a metric
that was not measured shows as ``-`` (never 0). Tables carry ``class="harness-table"`` and
``id="table-<stem>"``, plots ``class="harness-plot"`` and ``id="plot-<stem>"``.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

import pandas as pd

from harness.report.plots import RenderedPlot
from harness.report.summary import count_line, summary_frame
from harness.report.tables import MISSING
from harness.results import RunResults

__all__ = ["ReportTable", "html_table", "render_html"]

_CODE_SPAN = re.compile(r"`([^`]+)`")
_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1400px; padding: 0 1em; color: #1b1f24; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.8em; }
code { background: #f0f2f4; padding: 0 .25em; border-radius: 3px; }
.scroll { overflow-x: auto; }
table.harness-table { border-collapse: collapse; font-size: 12.5px; margin: .5em 0; }
.harness-table th, .harness-table td { border: 1px solid #d0d7de; padding: .25em .6em; white-space: nowrap; }
.harness-table th { background: #f6f8fa; text-align: left; }
.harness-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
.harness-table tbody tr:nth-child(even) { background: #fafbfc; }
.legend { color: #57606a; font-size: 12.5px; max-width: 110ch; }
figure { display: inline-block; margin: .5em 1em .5em 0; }
img.harness-plot { max-width: 100%; height: auto; border: 1px solid #d0d7de; }
""".strip()


@dataclass(frozen=True, eq=False)
class ReportTable:
    """A titled report table: id stem, title, frame, legend (Markdown code spans), number formats
    and link columns (values: paths relative to the report folder)."""

    stem: str
    title: str
    frame: pd.DataFrame
    legend: str = ""
    formats: Mapping[str, str] = field(default_factory=dict)
    links: frozenset[str] = frozenset()


def _cell(value: object, spec: str | None) -> str:
    """A cell as text: ``-`` for missing, ``spec`` (a format spec) for numbers."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if spec is not None and isinstance(value, int | float) and not isinstance(value, bool):
        return format(value, spec)
    return str(value)


def _html_cell(value: object, spec: str | None, link: bool) -> str:
    """An escaped cell; a link to the value's path when ``link`` and the value is a path."""
    text = escape(_cell(value, spec))
    return f'<a href="{text}">{text}</a>' if link and isinstance(value, str) and value else text


def _legend(text: str) -> str:
    """Escaped legend text with Markdown code spans as ``<code>``."""
    return _CODE_SPAN.sub(r"<code>\1</code>", escape(text))


def html_table(
    frame: pd.DataFrame,
    table_id: str,
    formats: Mapping[str, str] | None = None,
    links: frozenset[str] = frozenset(),
) -> str:
    """``frame`` as an escaped HTML table; numeric columns right-aligned, missing values ``-``; a
    non-empty value of a ``links`` column is a link to that (relative) path."""
    formats = formats or {}
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    opening = ['<td class="num">' if num else "<td>" for num in numeric]
    rows = []
    for values in frame.itertuples(index=False, name=None):
        cells = (
            f"{td}{_html_cell(v, formats.get(str(c)), str(c) in links)}</td>"
            for c, v, td in zip(frame.columns, values, opening, strict=True)
        )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="scroll"><table class="harness-table" id="{escape(table_id)}">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _environment(run: RunResults) -> str:
    """The fingerprint id and every fingerprint field as a two-column table."""
    pairs = [("fingerprint_id", run.fingerprint_id), *run.fingerprint.items()]
    rows = [(str(key), MISSING if value is None else str(value)) for key, value in pairs]
    table = html_table(pd.DataFrame(rows, columns=["Key", "Value"]), "table-environment")
    return f'<section id="section-environment"><h2>Environment</h2>{table}</section>'


def _verdict_summary(run: RunResults) -> str:
    """Counts of every verdict, then each failing, inconclusive, waived or skipped check with its interval or reason."""
    frame = summary_frame(run)
    table = (
        html_table(frame, "table-verdict-summary")
        if len(frame)
        else "<p>No failing, inconclusive, waived or skipped check.</p>"
    )
    return (
        '<section id="section-verdict-summary"><h2>Verdicts</h2>'
        f'<p id="verdict-counts">Budget checks: {escape(count_line(run))}.</p>{table}</section>'
    )


def _section(table: ReportTable) -> str:
    """A table with its heading and legend."""
    legend = f'<p class="legend">{_legend(table.legend)}</p>' if table.legend else ""
    body = html_table(table.frame, f"table-{table.stem}", table.formats, table.links)
    return (
        f'<section id="section-{escape(table.stem)}"><h2>{escape(table.title)}</h2>{body}{legend}</section>'
    )


def _figure(plot: RenderedPlot) -> str:
    """A plot as an ``<img>`` with its SVG inline as a data URI."""
    data = base64.b64encode(plot.svg).decode("ascii")
    return (
        f'<figure id="figure-{escape(plot.stem)}"><img class="harness-plot" id="plot-{escape(plot.stem)}" '
        f'alt="{escape(plot.title)}" src="data:image/svg+xml;base64,{data}">'
        f"<figcaption>{escape(plot.title)}</figcaption></figure>"
    )


def _plots(plots: Sequence[RenderedPlot]) -> str:
    """The plots section; empty when no plot could be drawn."""
    if not plots:
        return ""
    legend = (
        '<p class="legend">One marker per variant with both values; the black step line and rings mark '
        "the Pareto front (lower x and higher mAP50-95 are better); a gold star marks the recommended "
        "variant in each recommendation plot.</p>"
    )
    figures = "".join(_figure(p) for p in plots)
    return f'<section id="section-plots"><h2>Pareto fronts</h2>{legend}{figures}</section>'


def render_html(run: RunResults, tables: Sequence[ReportTable], plots: Sequence[RenderedPlot]) -> str:
    """The run's report page: header, verdict summary, environment, the first table (deployment),
    plots, other tables."""
    title = f"Compression report: run {run.run_id}"
    header = (
        f"<header><h1>{escape(title)}</h1><p>Profile <code>{escape(run.profile)}</code>, "
        f"fingerprint <code>{escape(run.fingerprint_id)}</code>, created {escape(run.created)}.</p></header>"
    )
    first, rest = [_section(t) for t in tables[:1]], [_section(t) for t in tables[1:]]
    body = "\n".join([header, _verdict_summary(run), _environment(run), *first, _plots(plots), *rest])
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
