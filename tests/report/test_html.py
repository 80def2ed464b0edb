"""The run's HTML page: every table, the fingerprint and the plots, escaped and self-contained."""

from __future__ import annotations

import base64
import math
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from harness.environment import Fingerprint
from harness.report.html import html_table, render_html
from harness.report.plots import render_plots
from harness.report.writer import REPORT_HTML, STUDY_TABLES, report_tables, write_tables
from harness.results import RunResults

FP = Fingerprint("AMD <EPYC> 9B14 & co", 2, 2, None, "3.11.7", "2.5.0", "8.4.0", "1.20.0", "2.1.0")
EVIL = "m-p00-fp32-<b>torch</b>"


class _Tables(HTMLParser):
    """Table id -> rows of cell texts; plot ids -> their ``src``."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: dict[str, str] = {}
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "table" and attr.get("class") == "harness-table":
            self._table = self.tables.setdefault(attr["id"] or "", [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "img" and attr.get("class") == "harness-plot":
            self.images[attr["id"] or ""] = attr["src"] or ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._table is not None and self._cell is not None:
            self._table[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _run() -> RunResults:
    run = RunResults.new("quick", FP, run_id="r1")
    run.record(EVIL, model="m", backend="torch", precision="fp32", prune=0.0,
               metrics={"map50_95": 0.5, "latency_median_ms": 20.0, "latency_p95_ms": None})  # fmt: skip
    run.record("m-p00-int8-openvino", model="m", backend="openvino", precision="int8", prune=0.0,
               metrics={"map50_95": 0.48, "latency_median_ms": 6.0, "file_bytes": 3.1e6})  # fmt: skip
    run.add_study("mixed_precision", [
        {"model": "m", "base": "m-int8", "kept": [], "added": None, "added_error_removed": None, "map50_95": 0.50,
         "recovered": 0.0, "latency_median_ms": 4.0, "int8_latency_median_ms": 4.0, "latency_vs_int8": 1.0},
    ])  # fmt: skip
    return run


def _page(run: RunResults) -> tuple[str, _Tables]:
    page = render_html(run, report_tables(run), render_plots(run))
    parsed = _Tables()
    parsed.feed(page)
    return page, parsed


def test_every_table_is_there_deployment_first_with_titles_and_legends() -> None:
    run = _run()
    page, parsed = _page(run)
    stems = [t.stem for t in report_tables(run)]
    assert stems[0] == "deployment" and {"precision", "mixed-precision"} <= set(stems)
    assert list(parsed.tables) == ["table-environment", *(f"table-{stem}" for stem in stems)]
    for stem in stems[1:]:
        study = STUDY_TABLES[stem]
        assert f"<h2>{study.title}</h2>" in page
        assert len(parsed.tables[f"table-{stem}"]) == len(study.build(run)) + 1  # header row
    assert "<code>SLOWER than FP32</code>" in page  # the precision legend's code span


def test_deployment_rows_show_missing_metrics_as_dash_never_zero_or_nan() -> None:
    _, parsed = _page(_run())
    header, *rows = parsed.tables["table-deployment"]
    first = dict(zip(header, rows[0], strict=True))
    assert first["Variant"] == EVIL  # unescaped again by the parser: it was text, not markup
    assert first["p50 ms"] == "20.00" and first["mAP50-95"] == "0.5000"
    assert first["p95 ms"] == "-" and first["Size MB"] == "-"
    metrics = [i for i, name in enumerate(header) if name not in ("Prune", "Status")]
    assert not [row[i] for row in rows for i in metrics if row[i].lower() in ("nan", "none", "0.00")]


def test_fingerprint_table_has_every_key_and_the_id() -> None:
    run = _run()
    _, parsed = _page(run)
    pairs = dict(parsed.tables["table-environment"][1:])
    assert pairs.pop("fingerprint_id") == run.fingerprint_id
    assert pairs == {k: "-" if v is None else str(v) for k, v in run.fingerprint.items()}
    assert pairs["cpu"] == "AMD <EPYC> 9B14 & co"


def test_text_is_escaped() -> None:
    page, _ = _page(_run())
    assert "<b>torch</b>" not in page and "&lt;b&gt;torch&lt;/b&gt;" in page
    assert "AMD &lt;EPYC&gt; 9B14 &amp; co" in page


def test_plots_are_embedded_as_svg_data_uris() -> None:
    run = _run()
    _, parsed = _page(run)
    plots = render_plots(run)
    assert sorted(parsed.images) == ["plot-pareto-latency", "plot-pareto-size"]
    for plot in plots:
        src = parsed.images[f"plot-{plot.stem}"]
        prefix = "data:image/svg+xml;base64,"
        assert src.startswith(prefix) and base64.b64decode(src[len(prefix) :]) == plot.svg


def test_page_needs_nothing_outside_itself() -> None:
    page, _ = _page(_run())
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    for external in ('src="http', "src='http", "<link", "<script", "@import", "url(", "href="):
        assert external not in page


def test_without_plots_there_is_no_plot_section() -> None:
    run = _run()
    page = render_html(run, report_tables(run), [])
    assert "<img" not in page and "section-plots" not in page
    assert 'id="table-deployment"' in page


def test_html_table_formats_aligns_and_escapes() -> None:
    frame = pd.DataFrame({"Name": ["a<b", "c"], "Value": [1.23456, math.nan]})
    text = html_table(frame, "table-x", {"Value": ".2f"})
    assert 'class="harness-table" id="table-x"' in text
    assert "<td>a&lt;b</td>" in text
    assert '<td class="num">1.23</td>' in text and '<td class="num">-</td>' in text


def test_write_tables_writes_the_page_last(tmp_path: Path) -> None:
    run = _run()
    paths = write_tables(run, tmp_path)
    assert paths[-1] == tmp_path / REPORT_HTML
    assert (tmp_path / "pareto-size.svg") in paths and (tmp_path / "pareto-latency.png") in paths
    page = (tmp_path / REPORT_HTML).read_text(encoding="utf-8")
    assert page == render_html(run, report_tables(run), render_plots(run))
