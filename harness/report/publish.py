"""Publish a release: ``harness publish VERSION [--reports DIR] [--force] [RUN ...]``.

Writes ``<reports>/<VERSION>/`` holding a copy of each run and ``index.md`` + ``index.html``
that link every run (run id, created, profile, fingerprint, variants, passed/failed/skipped
counts, its ``report.html``, else ``deployment.md``, and its ``results.json``). Nothing is
measured; only results files are read.

What is what under the reports directory:

- a **run folder** is a real directory (not a link) holding ``results.json`` and no ``index.md``;
- a **release folder** is a directory holding ``index.md`` (this command writes one);
- ``latest`` (a link) and hidden entries (names starting with ``.``) are neither.

Without RUN arguments a release holds every run folder of the reports directory, in name order
(run ids start with their UTC time, so that is time order). A RUN argument is a run folder,
copied whole (``reports/latest`` works), or a results file, copied as ``results.json`` of a new
folder with its tables and report rendered next to it. Inside the release each run's folder is
named by its run id; two runs with the same id are an error.

VERSION must be a safe folder name: letters, digits, ``.``, ``_`` and ``-``, starting with a
letter or digit, at most 64 characters, not ``latest``. It may not name a run folder. An existing
release of that name is replaced only with ``force``, unless the new one is identical (publishing
the same runs again changes nothing; files rendered from a bare results file may differ in their
plots' metadata). The release is built in a hidden temporary folder next to
its destination and renamed into place, so readers see the old release or the new one; with
``force`` the old one is renamed aside first and deleted once the new one is in place.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

import pandas as pd

from harness.errors import HarnessError
from harness.fsutil import atomic_write_text
from harness.report.tables import to_markdown
from harness.report.writer import LATEST, write_tables
from harness.results import RunResults

__all__ = [
    "INDEX_HTML",
    "INDEX_MD",
    "RESULTS",
    "IndexEntry",
    "Release",
    "check_version",
    "is_release",
    "publish",
    "render_index_html",
    "render_index_markdown",
    "run_folders",
]  # fmt: skip

INDEX_MD, INDEX_HTML, RESULTS = "index.md", "index.html", "results.json"
_REPORT_PAGES = ("report.html", "deployment.md")  # the first one present is the run's report link
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_COLUMNS = ("Run", "Created", "Profile", "Fingerprint", "Variants", "Passed", "Failed", "Skipped")


@dataclass(frozen=True)
class IndexEntry:
    """One run of a release: what the index shows, with links relative to the release folder."""

    run_id: str
    created: str
    profile: str
    fingerprint_id: str
    variants: int
    passed: int
    failed: int  # failed or error
    skipped: int
    report: str | None  # relative link to report.html (else deployment.md); None: neither present
    results: str

    @classmethod
    def from_run(cls, run: RunResults, folder: Path) -> IndexEntry:
        """The entry of ``run`` copied into ``folder`` (a child of the release folder)."""
        statuses = [v.status for v in run.variants]
        page = next((name for name in _REPORT_PAGES if (folder / name).is_file()), None)
        return cls(
            run.run_id, run.created, run.profile, run.fingerprint_id, len(statuses),
            statuses.count("passed"), statuses.count("failed") + statuses.count("error"),
            statuses.count("skipped"), f"{folder.name}/{page}" if page else None,
            f"{folder.name}/{RESULTS}",
        )  # fmt: skip

    def cells(self) -> list[object]:
        """The text and count cells of the index, in :data:`_COLUMNS` order."""
        return [
            self.run_id, self.created, self.profile, self.fingerprint_id,
            self.variants, self.passed, self.failed, self.skipped,
        ]  # fmt: skip


@dataclass(frozen=True)
class Release:
    """A published release: its folder, its runs and whether an identical one was already there."""

    path: Path
    entries: tuple[IndexEntry, ...]
    unchanged: bool = False


def check_version(version: str) -> str:
    """``version`` when it is a safe folder name for a release, else HarnessError saying why."""
    if not _SAFE_NAME.fullmatch(version) or version == LATEST:
        raise HarnessError(
            f"release version {version!r} is not a safe folder name: use 1 to 64 letters, digits, "
            f"'.', '_' or '-', starting with a letter or digit, not {LATEST!r} (e.g. v1.2.0)"
        )
    return version


def is_release(folder: Path) -> bool:
    """Whether ``folder`` is a release folder (it holds index.md)."""
    return (folder / INDEX_MD).is_file()


def run_folders(reports_dir: Path) -> list[Path]:
    """Every run folder directly under ``reports_dir`` (rule in the module docstring), by name."""
    if not reports_dir.is_dir():
        return []
    return sorted(
        entry for entry in reports_dir.iterdir()
        if not entry.name.startswith(".") and entry.name != LATEST and not entry.is_symlink()
        and entry.is_dir() and (entry / RESULTS).is_file() and not is_release(entry)
    )  # fmt: skip


def _table(entries: Sequence[IndexEntry], link: str) -> pd.DataFrame:
    """The index as a frame; ``link`` formats (text, href) as a link cell."""
    rows = [
        [
            *entry.cells(),
            link.format(text="report", href=entry.report) if entry.report else "-",
            link.format(text=RESULTS, href=entry.results),
        ]
        for entry in entries
    ]
    return pd.DataFrame(rows, columns=[*_COLUMNS, "Report", "Results"])


def render_index_markdown(version: str, entries: Sequence[IndexEntry]) -> str:
    """``index.md`` of a release: one row per run with links to its report and results."""
    return (
        f"# Release {version}\n\n{len(entries)} run(s). Failed counts variants that failed or errored; "
        "the report is `report.html`, else `deployment.md`; `-` = none.\n\n"
        f"{to_markdown(_table(entries, '[{text}]({href})'))}\n"
    )


def render_index_html(version: str, entries: Sequence[IndexEntry]) -> str:
    """``index.html`` of a release: the same table as index.md, self-contained, every text escaped."""
    head = "".join(f"<th>{escape(c)}</th>" for c in [*_COLUMNS, "Report", "Results"])
    rows = []
    for entry in entries:
        cells = [f"<td>{escape(str(cell))}</td>" for cell in entry.cells()]
        for href, text in ((entry.report, "report"), (entry.results, RESULTS)):
            cells.append(f'<td><a href="{escape(href)}">{escape(text)}</a></td>' if href else "<td>-</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    title = escape(f"Release {version}")
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
        "<style>body{font:14px/1.45 system-ui,sans-serif;margin:2em} table{border-collapse:collapse}"
        "th,td{border:1px solid #d0d7de;padding:.25em .6em} th{background:#f6f8fa}</style>\n"
        f"</head>\n<body>\n<h1>{title}</h1>\n<p>{len(entries)} run(s).</p>\n"
        f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{chr(10).join(rows)}\n</tbody>\n</table>\n"
        "</body>\n</html>\n"
    )


def _load(source: Path) -> tuple[RunResults, Path | None]:
    """The run of a RUN argument and its folder to copy (None for a bare results file)."""
    if source.is_dir():
        if not (source / RESULTS).is_file():
            raise HarnessError(f"{source}: not a run folder (no {RESULTS} in it)")
        return RunResults.load(source / RESULTS), source
    return RunResults.load(source), None


def _add_run(source: Path, release: Path) -> IndexEntry:
    """Copy one run into ``release/<run_id>/`` and return its index entry."""
    run, folder = _load(source)
    if not _SAFE_NAME.fullmatch(run.run_id) or run.run_id == LATEST:
        raise HarnessError(f"{source}: run id {run.run_id!r} cannot be used as a folder name")
    target = release / run.run_id
    if target.exists():
        raise HarnessError(f"{source}: run {run.run_id} is already in the release (given twice?)")
    if folder is not None:
        shutil.copytree(folder, target)
    else:
        target.mkdir()
        shutil.copyfile(source, target / RESULTS)
        write_tables(run, target)
    return IndexEntry.from_run(run, target)


def _same_tree(a: Path, b: Path) -> bool:
    """Whether two folders hold the same relative file names with the same bytes."""
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    return files_a == files_b and all((a / f).read_bytes() == (b / f).read_bytes() for f in files_a)


@contextlib.contextmanager
def _writing(directory: Path) -> Iterator[None]:
    """Turn an OS error while writing under ``directory`` into a HarnessError naming it."""
    try:
        yield
    except OSError as exc:
        raise HarnessError(f"cannot write the release to {directory}: {exc.strerror or exc}") from exc


def _build(version: str, sources: Sequence[Path], tmp: Path) -> tuple[IndexEntry, ...]:
    """Copy every run into ``tmp`` and write its index files; the entries in order."""
    entries = tuple(_add_run(source, tmp) for source in sources)
    atomic_write_text(tmp / INDEX_MD, render_index_markdown(version, entries))
    atomic_write_text(tmp / INDEX_HTML, render_index_html(version, entries))
    return entries


def _install(tmp: Path, dest: Path, force: bool) -> bool:
    """Rename ``tmp`` to ``dest``; True when an identical release was already there (tmp removed)."""
    if not dest.exists():
        os.rename(tmp, dest)
        return False
    if _same_tree(tmp, dest):
        shutil.rmtree(tmp)
        return True
    if not force:
        raise HarnessError(f"release {dest} exists with other content; pass --force to replace it")
    old = dest.with_name(f".{dest.name}.{os.getpid()}.old")
    os.rename(dest, old)
    try:
        os.rename(tmp, dest)
    except OSError:
        os.rename(old, dest)
        raise
    shutil.rmtree(old)
    return False


def publish(version: str, reports_dir: Path, sources: Sequence[Path] = (), force: bool = False) -> Release:
    """Write the release ``reports_dir/version`` from ``sources`` (default: every run folder)."""
    dest = Path(reports_dir) / check_version(version)
    if dest.is_symlink() or (dest.exists() and not is_release(dest)):
        raise HarnessError(
            f"{dest} exists and is not a release folder (no {INDEX_MD}); choose another version"
        )
    chosen = [Path(s) for s in sources] or run_folders(Path(reports_dir))
    if not chosen:
        raise HarnessError(f"nothing to publish: no run folder with {RESULTS} under {reports_dir}")
    tmp = dest.with_name(f".{version}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    with _writing(Path(reports_dir)):
        tmp.mkdir(parents=True)  # os.mkdir honours the umask (tempfile.mkdtemp would make it 0700)
    try:
        with _writing(tmp):
            entries = _build(version, chosen, tmp)
        with _writing(dest):
            unchanged = _install(tmp, dest, force)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Release(dest, entries, unchanged)
