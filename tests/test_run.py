"""A run driven from a script, without pytest: measure, check, study, write the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.bench import Bench
from harness.checks import check_interval_bound
from harness.config import HarnessConfig
from harness.measure.stats import Interval
from harness.results import ABLATION, RunResults
from harness.run import HarnessRun
from harness.studies import study
from harness.variant_checks import accuracy_checks

pytestmark = pytest.mark.slow


def test_a_script_measures_checks_and_reports(session: Bench, tmp_path: Path) -> None:
    run = HarnessRun(session, RunResults.new(session.config.profile, session.fingerprint))
    variant = next(v for v in session.variants if v.backend == "onnxruntime")
    checks = accuracy_checks(run, variant)
    assert [c.name for c in checks] == ["map_drop", "baseline_drop"]
    assert checks[0].ok is not None and checks[0].interval is not None  # judged by its interval
    assert run.results.variant(variant.slug).metrics["map50_95"] == session.accuracy(variant).map50_95
    ablation = study(ABLATION)
    baseline = ablation.cases(session)[0]
    row = run.study_row(ablation, baseline)
    assert run.study_row(ablation, baseline) is row  # measured once per run
    assert [b.name for b in run.study_bars(ablation, baseline)] == ["map_drop"]
    assert run.results.studies[ABLATION] == [row]
    run.finish(tmp_path / "reports", update_baselines=False)
    written = RunResults.load(tmp_path / "reports" / "latest" / "results.json")
    assert written.studies[ABLATION][0]["row"] == "Baseline"
    assert (tmp_path / "reports" / "latest" / "ablation.md").is_file()


def test_an_inconclusive_verdict_is_noted_once(quick_config: HarnessConfig) -> None:
    """Each test of a study case judges the case's bars again; the summary says each verdict once."""
    run = HarnessRun.from_config(quick_config, log=lambda _: None)  # nothing is built
    straddles = check_interval_bound(
        "kd_gain", "case", "KD gain", Interval(0.01, -0.01, 0.03, 0.95), 0.0, False
    )
    assert straddles.inconclusive
    for _ in range(3):
        run.note_inconclusive([straddles])
    assert run.lines == [f"harness: {straddles.message}"]
