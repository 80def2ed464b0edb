"""Merge results files from shards and machines (``harness merge A.json B.json ... --out DIR``).

The rule is the fingerprint (``fingerprint_id``), never the file name or run id:

- files with the **same fingerprint** are shards of one environment (CI jobs that each ran part of
  the matrix, or one machine run twice) and merge into one run with :meth:`RunResults.absorb`, in
  the order given: a variant measured in several files keeps one merged record (measured values
  of later files win, ``null`` never erases a number, the worst status wins, messages add up;
  study rows add up). The merged run keeps the run id, creation time and profile of its first
  file; when two environments' first files share a run id, the later one gets
  ``-<fingerprint_id>`` appended so that their folders differ;
- files with **different fingerprints** are never merged (their latencies are not comparable):
  they are shown side by side, one row per variant and, for each machine, its p50 latency,
  throughput and mAP50-95 (``-`` where that machine did not measure the variant).

:func:`write_merge` writes into the output folder ``merged.md`` (machines + side-by-side table),
``merged.csv`` (the side-by-side table) and, for each environment, its merged run as a normal
report folder ``<run_id>/`` (results.json, tables, plots, report.html; ``latest`` points at the
last one written).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.errors import HarnessError, ResultsError
from harness.fsutil import atomic_write_text
from harness.report.tables import DEPLOYMENT_COLUMNS, Column, to_csv, to_markdown
from harness.report.writer import write_run
from harness.results import RunResults

__all__ = [
    "MERGED_CSV",
    "MERGED_MD",
    "SIDE_BY_SIDE_METRICS",
    "Shard",
    "machine_label",
    "merge_runs",
    "render_merged_markdown",
    "side_by_side",
    "write_merge",
]  # fmt: skip

MERGED_MD, MERGED_CSV = "merged.md", "merged.csv"
SIDE_BY_SIDE_METRICS = ("latency_median_ms", "throughput_ips", "map50_95")
"""The metrics shown for each machine, with the deployment table's headers and decimals."""
_COLUMNS: tuple[Column, ...] = tuple(
    next(c for c in DEPLOYMENT_COLUMNS if c.metric == m) for m in SIDE_BY_SIDE_METRICS
)
LEGEND = (
    "Latency in ms per image at batch 1 (p50 = median), throughput in img/s; each machine's numbers "
    "were measured on that machine only (latency is not comparable across machines as a regression); "
    "`-` = that machine did not measure the variant."
)


@dataclass(frozen=True)
class Shard:
    """One results file: where it came from (for error messages and the legend) and its records."""

    source: str
    run: RunResults


def merge_runs(shards: Sequence[Shard]) -> list[tuple[RunResults, list[Shard]]]:
    """One merged run per fingerprint, in order of first appearance, with the shards it came from.

    The inputs are not modified. A variant recorded with another model/backend/precision/prune in
    a later shard raises ResultsError naming that shard.
    """
    groups: dict[str, list[Shard]] = {}
    for shard in shards:
        groups.setdefault(shard.run.fingerprint_id, []).append(shard)
    merged = [(_merge_group(group), group) for group in groups.values()]
    seen: set[str] = set()
    for run, _ in merged:
        if run.run_id in seen:
            run.run_id = f"{run.run_id}-{run.fingerprint_id}"
        seen.add(run.run_id)
    return merged


def _merge_group(group: Sequence[Shard]) -> RunResults:
    """The first shard's run with every later shard of the same fingerprint absorbed."""
    run = copy.deepcopy(group[0].run)
    for shard in group[1:]:
        try:
            run.absorb(shard.run)
        except ValueError as exc:
            raise ResultsError(f"{shard.source}: cannot merge into run {run.run_id}: {exc}") from exc
    return run


def machine_label(run: RunResults) -> str:
    """``<fingerprint_id> (<GPU, else CPU name>)``: how a machine is named in column headers."""
    hardware = run.fingerprint.get("gpu") or run.fingerprint.get("cpu") or "unknown"
    return f"{run.fingerprint_id} ({hardware})"


def side_by_side(runs: Sequence[RunResults]) -> pd.DataFrame:
    """One row per variant (first-seen order); per machine its p50 ms, img/s and mAP50-95 (NaN: missing)."""
    slugs = list(dict.fromkeys(v.variant for run in runs for v in run.variants))
    data: dict[str, list[object]] = {"Variant": list(slugs)}
    for run in runs:
        label = machine_label(run)
        for column in _COLUMNS:
            data[f"{label} {column.header}"] = [_value(run, slug, column) for slug in slugs]
    return pd.DataFrame(data, columns=list(data))


def _value(run: RunResults, slug: str, column: Column) -> float:
    """The metric of ``slug`` in ``run`` in the column's unit; NaN when not measured there."""
    record = run.variant(slug)
    value = record.metrics.get(column.metric) if record is not None else None
    return math.nan if value is None else value / column.divisor


def _formats(runs: Sequence[RunResults]) -> dict[str, str]:
    """Number formats of the side-by-side columns (the deployment table's decimals)."""
    return {f"{machine_label(run)} {c.header}": f".{c.digits}f" for run in runs for c in _COLUMNS}


def _machines_table(merged: Sequence[tuple[RunResults, list[Shard]]]) -> pd.DataFrame:
    """The legend of machines: fingerprint, hardware, threads, files merged and report folder."""
    rows = [
        {
            "Fingerprint": run.fingerprint_id,
            "CPU": run.fingerprint.get("cpu") or "-",
            "GPU": run.fingerprint.get("gpu") or "-",
            "Threads": str(run.fingerprint.get("threads", "-")),
            "Variants": str(len(run.variants)),
            "Files": ", ".join(shard.source for shard in group),
            "Folder": f"{run.run_id}/",
        }
        for run, group in merged
    ]
    return pd.DataFrame(rows, columns=["Fingerprint", "CPU", "GPU", "Threads", "Variants", "Files", "Folder"])


def render_merged_markdown(merged: Sequence[tuple[RunResults, list[Shard]]]) -> str:
    """``merged.md``: the machines, then the side-by-side table and its legend."""
    runs = [run for run, _ in merged]
    files = sum(len(group) for _, group in merged)
    return (
        f"# Merged results\n\n{files} file(s) from {len(runs)} environment(s); shards of one "
        "environment (same fingerprint) are merged, different environments are shown side by side.\n\n"
        f"## Machines\n\n{to_markdown(_machines_table(merged))}\n\n"
        f"## Variants\n\n{to_markdown(side_by_side(runs), _formats(runs))}\n\n{LEGEND}\n"
    )


def write_merge(paths: Sequence[Path], out_dir: Path) -> list[Path]:
    """Load ``paths``, merge them by fingerprint, write merged.md/.csv and one run folder each.

    Returns the files and folders written. Unreadable or corrupt files raise ResultsError naming
    the file; an unwritable ``out_dir`` raises HarnessError naming it.
    """
    shards = [Shard(str(path), RunResults.load(path)) for path in paths]
    merged = merge_runs(shards)
    out_dir = Path(out_dir)
    runs = [run for run, _ in merged]
    written = [write_run(run, out_dir) for run in runs]
    files = {
        out_dir / MERGED_MD: render_merged_markdown(merged),
        out_dir / MERGED_CSV: to_csv(side_by_side(runs)),
    }
    for path, text in files.items():
        try:
            atomic_write_text(path, text)
        except OSError as exc:
            raise HarnessError(f"cannot write the merge to {out_dir}: {exc.strerror or exc}") from exc
    return [*files, *written]
