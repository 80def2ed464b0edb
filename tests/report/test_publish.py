"""`harness publish`: release folders with copies of the runs and an index, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.environment import Fingerprint
from harness.errors import HarnessError, ResultsError
from harness.fsutil import atomic_symlink
from harness.report.publish import INDEX_HTML, INDEX_MD, check_version, publish, run_folders
from harness.results import RunResults

FP = Fingerprint("AMD EPYC 9B14", 2, 2, None, "3.11.7", "2.5.0", "8.4.0", "1.20.0", "2.1.0")


def _run(run_id: str, statuses: tuple[str, ...] = ("passed", "failed", "skipped")) -> RunResults:
    run = RunResults.new("quick", FP, run_id=run_id)
    for i, status in enumerate(statuses):
        run.record(f"m-p00-fp32-b{i}", model="m", backend=f"b{i}", precision="fp32", prune=0.0, status=status)
    return run


def _run_folder(reports: Path, run_id: str, report_html: bool = True) -> Path:
    """A run folder as write_run leaves it (results.json, a table, report.html)."""
    folder = reports / run_id
    folder.mkdir(parents=True)
    _run(run_id).save(folder / "results.json")
    (folder / "deployment.md").write_text("# table\n")
    if report_html:
        (folder / "report.html").write_text("<html></html>\n")
    return folder


@pytest.fixture()
def reports(tmp_path: Path) -> Path:
    """reports/ with two runs, the latest link, a README and an old release."""
    reports = tmp_path / "reports"
    _run_folder(reports, "20250101-000000-aaaa")
    _run_folder(reports, "20250102-000000-bbbb", report_html=False)
    atomic_symlink("20250102-000000-bbbb", reports / "latest")
    (reports / "README.md").write_text("reports\n")
    old = _run_folder(reports, "v0.9")
    (old / INDEX_MD).write_text("# Release v0.9\n")
    return reports


def test_run_folders_exclude_latest_releases_and_files(reports: Path) -> None:
    assert [p.name for p in run_folders(reports)] == ["20250101-000000-aaaa", "20250102-000000-bbbb"]


def test_publish_copies_every_run_and_writes_the_index(reports: Path) -> None:
    release = publish("v1.0.0", reports)
    assert release.path == reports / "v1.0.0" and not release.unchanged
    assert sorted(p.name for p in release.path.iterdir()) == [
        "20250101-000000-aaaa", "20250102-000000-bbbb", INDEX_HTML, INDEX_MD,
    ]  # fmt: skip
    assert (release.path / "20250101-000000-aaaa" / "report.html").is_file()
    index = (release.path / INDEX_MD).read_text()
    assert index.startswith("# Release v1.0.0\n\n2 run(s).")
    row = next(line for line in index.splitlines() if line.startswith("| 20250101-000000-aaaa"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2:] == [
        "quick", FP.id, "3", "1", "1", "1",
        "[report](20250101-000000-aaaa/report.html)", "[results.json](20250101-000000-aaaa/results.json)",
    ]  # fmt: skip
    assert "[report](20250102-000000-bbbb/deployment.md)" in index  # no report.html: the table
    page = (release.path / INDEX_HTML).read_text()
    assert '<a href="20250101-000000-aaaa/report.html">report</a>' in page
    assert '<a href="20250102-000000-bbbb/results.json">results.json</a>' in page
    assert [p.name for p in run_folders(reports)] == ["20250101-000000-aaaa", "20250102-000000-bbbb"]


def test_publish_given_runs_folder_link_and_bare_results_file(reports: Path, tmp_path: Path) -> None:
    bare = tmp_path / "shard.json"
    _run("20250103-000000-cccc", ("passed",)).save(bare)
    release = publish("rc1", reports, [reports / "latest", bare])
    assert [e.run_id for e in release.entries] == ["20250102-000000-bbbb", "20250103-000000-cccc"]
    rendered = release.path / "20250103-000000-cccc"
    assert (rendered / "results.json").read_bytes() == bare.read_bytes()
    assert (rendered / "deployment.md").is_file()  # tables rendered next to a bare file
    assert release.entries[1].report is not None


def test_republishing_the_same_runs_is_a_no_op_and_other_runs_need_force(reports: Path) -> None:
    runs = [reports / "20250101-000000-aaaa"]
    publish("v1", reports, runs)
    assert publish("v1", reports, runs).unchanged
    other = [reports / "20250102-000000-bbbb"]
    with pytest.raises(HarnessError, match="v1 exists with other content; pass --force"):
        publish("v1", reports, other)
    assert (reports / "v1" / "20250101-000000-aaaa").is_dir()  # untouched
    release = publish("v1", reports, other, force=True)
    assert [p.name for p in release.path.iterdir() if p.is_dir()] == ["20250102-000000-bbbb"]
    assert not [p for p in reports.iterdir() if p.name.startswith(".")]  # no temporary left


@pytest.mark.parametrize("version", ["", "latest", "../up", "v1/2", ".hidden", "-x", "v 1", "x" * 65, "v1\n"])
def test_bad_version_is_a_clear_error(reports: Path, version: str) -> None:
    with pytest.raises(HarnessError, match="is not a safe folder name"):
        publish(version, reports)
    assert check_version("v1.2.0_rc-1") == "v1.2.0_rc-1"


def test_version_naming_a_run_folder_is_refused(reports: Path) -> None:
    with pytest.raises(HarnessError, match="exists and is not a release folder"):
        publish("20250101-000000-aaaa", reports, force=True)


def test_nothing_to_publish(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="nothing to publish: no run folder"):
        publish("v1", tmp_path / "reports")


def test_bad_inputs_leave_no_release_and_no_temporary(reports: Path, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{")
    with pytest.raises(ResultsError, match="corrupt.json: not valid JSON"):
        publish("v2", reports, [reports / "20250101-000000-aaaa", corrupt])
    with pytest.raises(HarnessError, match="already in the release"):
        publish("v2", reports, [reports / "20250101-000000-aaaa", reports / "20250101-000000-aaaa"])
    with pytest.raises(HarnessError, match="not a run folder"):
        publish("v2", reports, [tmp_path])
    assert not (reports / "v2").exists()
    assert not [p for p in reports.iterdir() if p.name.startswith(".")]


def test_index_html_escapes_text(reports: Path) -> None:
    run = _run("r1")
    run.profile = "<script>alert(1)</script>"
    folder = reports / "r1"
    folder.mkdir()
    run.save(folder / "results.json")
    page = (publish("v3", reports, [folder]).path / INDEX_HTML).read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_reports_dir_names_it(reports: Path) -> None:
    reports.chmod(0o500)
    try:
        with pytest.raises(HarnessError, match=f"cannot write the release to {reports}"):
            publish("v4", reports)
    finally:
        reports.chmod(0o700)
