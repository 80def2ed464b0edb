"""Write a run's report folder: ``<reports>/<run_id>/`` plus the ``latest`` link.

Every file is written atomically, so an interrupted run leaves complete files or none. Besides
the Markdown/CSV tables the folder holds the Pareto plots (PNG and SVG) and ``report.html``, one
self-contained page with every table and plot.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from harness.errors import HarnessError
from harness.fsutil import atomic_symlink, atomic_write_text
from harness.report.ablation import ABLATION_TABLES
from harness.report.distill import DISTILL_TABLES
from harness.report.html import ReportTable, render_html
from harness.report.imbalance import IMBALANCE_TABLES
from harness.report.inputs import INPUT_TABLES
from harness.report.mixed_precision import MIXED_TABLES
from harness.report.model_selection import MODEL_SELECTION_TABLES
from harness.report.plots import render_plots, write_plots
from harness.report.pruning import PRUNING_TABLES
from harness.report.qat import QAT_TABLES
from harness.report.quant import QUANT_TABLES
from harness.report.recommendation import RECOMMENDATION_TABLES
from harness.report.studies import layout_tables
from harness.report.summary import count_line, summary_frame
from harness.report.tables import DEPLOYMENT_COLUMNS, deployment_table, to_csv, to_markdown
from harness.report.traces import TRACE_TABLES, place_traces
from harness.results import VERDICTS, RunResults

__all__ = [
    "DEPLOYMENT_LEGEND",
    "LATEST",
    "REPORT_HTML",
    "render_markdown",
    "render_summary_markdown",
    "report_tables",
    "write_run",
    "write_tables",
]  # fmt: skip

LATEST = "latest"
REPORT_HTML = "report.html"
DEPLOYMENT_LEGEND = (
    "Latency in ms per image at batch 1 (p50 = median); file sizes in MB (10^6 bytes), peak memory in MiB; "
    "params in millions; `-` = not measured."
)
_DEPLOYMENT_FORMATS = {c.header: f".{c.digits}f" for c in DEPLOYMENT_COLUMNS} | {"Prune": ".2f"}
STUDY_TABLES = {
    **RECOMMENDATION_TABLES, **MODEL_SELECTION_TABLES, **ABLATION_TABLES, **QUANT_TABLES, **MIXED_TABLES, **QAT_TABLES, **PRUNING_TABLES, **DISTILL_TABLES,
    **IMBALANCE_TABLES, **INPUT_TABLES, **TRACE_TABLES,
}  # fmt: skip
"""File stem -> table, written next to the deployment table when it has rows."""
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def render_markdown(run: RunResults) -> str:
    """The deployment report as Markdown: heading, environment line, table, legend."""
    fp = run.fingerprint
    env = ", ".join(
        f"{key} {fp[key]}"
        for key in ("cpu", "isa", "threads", "gpu", "torch", "onnxruntime", "openvino", "nncf", "ncnn")
        if fp.get(key)
    )
    return (
        f"# Deployment: run {run.run_id}\n\n"
        f"Profile `{run.profile}`, fingerprint `{run.fingerprint_id}` ({env}), "
        f"created {run.created}.\n\n"
        f"{to_markdown(deployment_table(run))}\n\n{DEPLOYMENT_LEGEND}\n"
    )


def report_tables(run: RunResults) -> list[ReportTable]:
    """The deployment table, every non-empty table of :data:`STUDY_TABLES` in its order, then the
    generic table of every other study with a layout (:mod:`harness.report.studies`)."""
    deployment = deployment_table(run)
    tables = [ReportTable("deployment", "Deployment", deployment, DEPLOYMENT_LEGEND, _DEPLOYMENT_FORMATS)]
    for stem, study in STUDY_TABLES.items():
        frame = study.build(run)
        if not frame.empty:
            tables.append(
                ReportTable(stem, study.title, frame, study.legend, dict(study.formats), study.links)
            )
    return tables + layout_tables(run)


def _verdicts_markdown(run: RunResults) -> str:
    """The verdict summary as Markdown (empty when the run recorded no verdict)."""
    if not run.studies.get(VERDICTS):
        return ""
    frame = summary_frame(run)
    table = to_markdown(frame, {}) if len(frame) else "No failing, inconclusive, waived or skipped check."
    return f"## Verdicts\n\nBudget checks: {count_line(run)}.\n\n{table}\n"


def render_summary_markdown(run: RunResults) -> str:
    """Every table of the run as one Markdown document (for a CI job summary such as
    $GITHUB_STEP_SUMMARY), the verdict summary first: counts, then every failing, inconclusive
    or waived check with its interval."""
    sections = [part for part in (_verdicts_markdown(run), render_markdown(run)) if part]
    for table in report_tables(run)[1:]:
        markdown = to_markdown(table.frame, dict(table.formats))
        sections.append(f"## {table.title}\n\n{markdown}\n\n{table.legend}\n")
    return "\n".join(sections)


@contextlib.contextmanager
def _writing(directory: Path) -> Iterator[None]:
    """Turn an OS error while writing under ``directory`` into a HarnessError naming it."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise HarnessError(f"cannot write reports to {directory}: {reason}") from exc


def write_tables(run: RunResults, out_dir: Path) -> list[Path]:
    """Write deployment.md/.csv, every non-empty study table, the plots and report.html into ``out_dir``.

    Returns every path written, in that order; a plot without a plottable variant is not written.
    """
    out_dir = Path(out_dir)
    tables = report_tables(run)
    files = {
        out_dir / "deployment.md": render_markdown(run),
        out_dir / "deployment.csv": to_csv(tables[0].frame),
    }
    for table in tables[1:]:
        markdown = to_markdown(table.frame, dict(table.formats))
        files[out_dir / f"{table.stem}.md"] = (
            f"# {table.title}: run {run.run_id}\n\n{markdown}\n\n{table.legend}\n"
        )
        files[out_dir / f"{table.stem}.csv"] = to_csv(table.frame)
    plots = render_plots(run)
    page = render_html(run, tables, plots)
    with _writing(out_dir):
        for path, text in files.items():
            atomic_write_text(path, text)
        written = [*files, *write_plots(plots, out_dir)]
        atomic_write_text(out_dir / REPORT_HTML, page)
    return [*written, out_dir / REPORT_HTML]


def write_run(run: RunResults, reports_dir: Path) -> Path:
    """Write results.json and the tables to ``reports_dir/<run_id>``; point ``latest`` at it."""
    if not _RUN_ID.fullmatch(run.run_id) or run.run_id == LATEST:
        raise HarnessError(f"run id {run.run_id!r} cannot be used as a report folder name")
    reports_dir = Path(reports_dir)
    run_dir = reports_dir / run.run_id
    with _writing(run_dir):
        place_traces(run, run_dir)
        run.save(run_dir / "results.json")
    write_tables(run, run_dir)
    with _writing(reports_dir):
        atomic_symlink(run.run_id, reports_dir / LATEST)
    return run_dir
