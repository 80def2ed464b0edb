"""Write a run's report folder: ``<reports>/<run_id>/`` plus the ``latest`` link.

Every file is written atomically, so an interrupted run leaves complete files or none.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from harness.errors import HarnessError
from harness.fsutil import atomic_symlink, atomic_write_text
from harness.report.distill import DISTILL_TABLES
from harness.report.mixed import MIXED_TABLES
from harness.report.pruning import PRUNING_TABLES
from harness.report.quant import QUANT_TABLES
from harness.report.tables import deployment_table, to_csv, to_markdown
from harness.results import RunResults

__all__ = ["render_markdown", "write_tables", "write_run", "LATEST"]

LATEST = "latest"
STUDY_TABLES = {**QUANT_TABLES, **MIXED_TABLES, **PRUNING_TABLES, **DISTILL_TABLES}
"""File stem -> table, written next to the deployment table when it has rows."""
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def render_markdown(run: RunResults) -> str:
    """The deployment report as Markdown: heading, environment line, table, legend."""
    fp = run.fingerprint
    env = ", ".join(
        f"{key} {fp[key]}" for key in ("cpu", "threads", "gpu", "torch", "onnxruntime") if fp.get(key)
    )
    return (
        f"# Deployment: run {run.run_id}\n\n"
        f"Profile `{run.profile}`, fingerprint `{run.fingerprint_id}` ({env}), "
        f"created {run.created}.\n\n"
        f"{to_markdown(deployment_table(run))}\n\n"
        "Latency in ms per image at batch 1 (p50 = median); file sizes in MB (10^6 bytes), peak memory in MiB; "
        "params in millions; `-` = not measured.\n"
    )


@contextlib.contextmanager
def _writing(directory: Path) -> Iterator[None]:
    """Turn an OS error while writing under ``directory`` into a HarnessError naming it."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise HarnessError(f"cannot write reports to {directory}: {reason}") from exc


def write_tables(run: RunResults, out_dir: Path) -> list[Path]:
    """Write deployment.md/.csv and every non-empty study table into ``out_dir``."""
    out_dir = Path(out_dir)
    frame = deployment_table(run)
    files = {out_dir / "deployment.md": render_markdown(run), out_dir / "deployment.csv": to_csv(frame)}
    for stem, study in STUDY_TABLES.items():
        table = study.build(run)
        if not table.empty:
            markdown = to_markdown(table, dict(study.formats))
            files[out_dir / f"{stem}.md"] = (
                f"# {study.title}: run {run.run_id}\n\n{markdown}\n\n{study.legend}\n"
            )
            files[out_dir / f"{stem}.csv"] = to_csv(table)
    with _writing(out_dir):
        for path, text in files.items():
            atomic_write_text(path, text)
    return list(files)


def write_run(run: RunResults, reports_dir: Path) -> Path:
    """Write results.json and the tables to ``reports_dir/<run_id>``; point ``latest`` at it."""
    if not _RUN_ID.fullmatch(run.run_id) or run.run_id == LATEST:
        raise HarnessError(f"run id {run.run_id!r} cannot be used as a report folder name")
    reports_dir = Path(reports_dir)
    run_dir = reports_dir / run.run_id
    with _writing(run_dir):
        run.save(run_dir / "results.json")
    write_tables(run, run_dir)
    with _writing(reports_dir):
        atomic_symlink(run.run_id, reports_dir / LATEST)
    return run_dir
