"""Report folder: results.json + tables per run, atomic 'latest' link, clear errors."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from harness.environment import Fingerprint
from harness.errors import HarnessError
from harness.report.writer import (
    LATEST,
    STUDY_TABLES,
    render_markdown,
    render_summary_markdown,
    write_run,
    write_tables,
)
from harness.results import RunResults

FP = Fingerprint("AMD EPYC 9B14", 2, 2, None, "3.11.7", "2.5.0", "8.4.0", "1.20.0", "2.1.0")


def _run(run_id: str) -> RunResults:
    run = RunResults.new("quick", FP, run_id=run_id)
    run.record("m-p00-fp32-torch", model="m", backend="torch", precision="fp32", prune=0.0,
               metrics={"map50_95": 0.5, "latency_median_ms": None})  # fmt: skip
    return run


def test_write_run_writes_files_and_latest(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    run = _run("run1")
    run_dir = write_run(run, reports)
    assert run_dir == reports / "run1"
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "deployment.csv", "deployment.md", "precision.csv", "precision.md", "report.html", "results.json",
    ]  # fmt: skip
    assert RunResults.load(run_dir / "results.json") == run
    assert os.readlink(reports / LATEST) == "run1"
    assert json.loads((reports / LATEST / "results.json").read_text())["run_id"] == "run1"


def test_latest_moves_to_the_newest_run_and_old_runs_stay(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    write_run(_run("run1"), reports)
    write_run(_run("run2"), reports)
    assert os.readlink(reports / LATEST) == "run2"
    assert (reports / "run1" / "results.json").is_file()
    assert not [p for p in reports.iterdir() if p.name.endswith(".tmp")]


def test_markdown_report_has_environment_and_table() -> None:
    text = render_markdown(_run("run1"))
    assert text.startswith("# Deployment: run run1\n")
    assert FP.id in text and "AMD EPYC 9B14" in text
    assert "| m-p00-fp32-torch" in text and "`-` = not measured" in text


def test_write_tables_into_any_folder(tmp_path: Path) -> None:
    paths = write_tables(_run("r"), tmp_path / "out")  # no plot: no variant has both latency and mAP
    assert [p.name for p in paths] == [
        "deployment.md", "deployment.csv", "precision.md", "precision.csv", "report.html",
    ]  # fmt: skip
    assert all(p.is_file() for p in paths)


def test_unwritable_reports_dir_names_the_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "reports"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(HarnessError, match=r"cannot write reports to .*reports"):
        write_run(_run("run1"), blocker)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_reports_dir(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    reports.chmod(0o500)
    try:
        with pytest.raises(HarnessError, match=str(reports)):
            write_run(_run("run1"), reports)
    finally:
        reports.chmod(0o700)


def test_latest_that_is_a_real_directory_is_an_error(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    (reports / LATEST).mkdir(parents=True)
    with pytest.raises(HarnessError, match=str(reports)):
        write_run(_run("run1"), reports)


@pytest.mark.parametrize("run_id", ["../x", "latest", "a/b", ""])
def test_unsafe_run_ids_are_refused(tmp_path: Path, run_id: str) -> None:
    run = _run("x")
    run.run_id = run_id
    with pytest.raises(HarnessError, match="report folder name"):
        write_run(run, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_mixed_precision_table_is_written_with_the_run(tmp_path: Path) -> None:
    run = _run("r")
    run.add_study("mixed_precision", [
        {"model": "m", "base": "m-int8", "kept": [], "added": None, "added_error_removed": None, "map50_95": 0.50,
         "recovered": 0.0, "latency_median_ms": 4.0, "int8_latency_median_ms": 4.0, "latency_vs_int8": 1.0},
        {"model": "m", "base": "m-int8", "kept": ["model.1"], "added": "model.1", "added_error_removed": 0.43,
         "added_nodes": ["/model.1/conv/Conv"],
         "map50_95": 0.53, "recovered": 0.6, "latency_median_ms": 4.4, "int8_latency_median_ms": 4.0,
         "latency_vs_int8": 0.91},
    ])  # fmt: skip
    paths = write_tables(run, tmp_path)
    assert tmp_path / "mixed-precision.md" in paths
    text = (tmp_path / "mixed-precision.md").read_text()
    assert (
        "| model.1" in text
        and "+0.0300" in text
        and "0.91" in text
        and "60" in text
        and re.search(r"\|\s+43 \|", text)
    )
    first = next(line for line in text.splitlines() if "| m-int8" in line)
    assert "(none: full INT8)" in first
    # its held-out gain, val gain and speed against the previous step: "-", never 0
    assert len(re.findall(r"\|\s+-\s+(?=\|)", first)) == 3


def test_summary_markdown_has_every_table_with_title_and_legend() -> None:
    run = _run("r")
    run.add_study("mixed_precision", [
        {"model": "m", "base": "m-int8", "kept": [], "added": None, "added_error_removed": None, "map50_95": 0.50,
         "recovered": 0.0, "latency_median_ms": 4.0, "int8_latency_median_ms": 4.0, "latency_vs_int8": 1.0},
    ])  # fmt: skip
    text = render_summary_markdown(run)
    assert text.startswith(render_markdown(run))
    titles = [STUDY_TABLES[stem].title for stem in ("precision", "mixed-precision")]
    assert [line[3:] for line in text.splitlines() if line.startswith("## ")] == titles
    assert STUDY_TABLES["mixed-precision"].legend in text and "| m-int8" in text
    assert "![" not in text and "<img" not in text  # tables only: a job summary cannot show local files
