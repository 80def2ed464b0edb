"""The pytest side of a run: options, verdicts as pass/fail/skip, outcomes, xdist and finish.

The plugin keeps one :class:`RunState` in ``config.stash``. Everything it measures goes through a
pytest-free :class:`~harness.run.HarnessRun` (:mod:`harness.variant_checks` for matrix variants,
the study registry for studies); this module only turns their results into pytest outcomes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from harness.checks import CheckResult
from harness.config import HarnessConfig, load_config
from harness.config.latency import TRACE_ROUNDS
from harness.config.root import harness_root
from harness.errors import BackendUnavailable
from harness.recipes import Variant
from harness.results import RunResults
from harness.run import HarnessRun
from harness.studies.base import Bar, NotMeasurable, Study


@dataclass
class RunState:
    """Options of this pytest run plus the lazily created harness run."""

    rootdir: Path
    config_path: Path | None
    profile: str | None
    reports_dir: Path | None
    update_baselines: bool
    is_worker: bool
    trace: bool = False
    log: Callable[[str], None] = print
    _run: HarnessRun | None = None

    @classmethod
    def from_pytest(cls, config: pytest.Config, log: Callable[[str], None] = print) -> RunState:
        """Read the harness options; load nothing yet (the rootdir is :func:`harness_root`'s)."""
        return cls(
            rootdir=harness_root(Path(config.rootpath), Path(config.invocation_params.dir)),
            config_path=config.getoption("harness_config"),
            profile=config.getoption("harness_profile"),
            reports_dir=config.getoption("harness_reports"),
            update_baselines=bool(config.getoption("update_baselines")),
            is_worker=hasattr(config, "workerinput"),
            trace=bool(config.getoption("harness_trace")),
            log=log,
        )

    @property
    def run(self) -> HarnessRun:
        """Load and validate the config and expand the matrix, once per pytest run."""
        if self._run is None:
            config = load_config(self.rootdir, path=self.config_path, profile=self.profile)
            if self.trace and not config.latency.trace_rounds:
                latency = dataclasses.replace(config.latency, trace_rounds=TRACE_ROUNDS)
                config = dataclasses.replace(config, latency=latency)
            self._run = HarnessRun.from_config(config, log=self.log)
        return self._run

    @property
    def config(self) -> HarnessConfig:
        """The validated config."""
        return self.run.config

    @contextlib.contextmanager
    def skipping(self, what: str) -> Iterator[None]:
        """Turn "cannot run here" (an absent backend, a case without a subject) into a skip."""
        try:
            yield
        except BackendUnavailable as exc:
            self._skip(what, f"{what}: {exc}")
        except NotMeasurable as exc:
            self._skip(what, str(exc))

    def _skip(self, subject: str, reason: str) -> NoReturn:
        """Record the skip as a ``skipped`` verdict (the report counts and lists it), then skip."""
        self.run.skipped(_current_test(), subject, "-", reason)
        pytest.skip(reason)

    def call(self, fn: Callable[..., Any], variant: Variant, *args: object) -> Any:
        """``fn(run, variant, *args)`` from :mod:`harness.variant_checks`, skipping when it cannot run."""
        with self.skipping(variant.slug):
            return fn(self.run, variant, *args)

    def judge(self, study: Study[Any, Any], case: Any, bar: str | None = None) -> None:
        """Fail on a failed verdict of the case's bar (every bar when ``bar`` is None), else skip
        when it was not judged; the case is measured first if it was not yet."""
        with self.skipping(case.slug):
            bars = self.run.study_bars(study, case)
        chosen = [b for b in bars if bar is None or b.name == bar]
        if not chosen:
            raise ValueError(f"study {study.name!r} has no bar {bar!r} ({', '.join(b.name for b in bars)})")
        self.enforce([c for b in chosen for c in b.checks])
        for unjudged in chosen:
            if unjudged.skip:
                self.run.skipped(_current_test(), case.slug, unjudged.name, unjudged.skip)
        _skip_unjudged(chosen)

    def enforce(self, checks: Sequence[CheckResult]) -> None:
        """Apply waivers and record the verdicts, then fail the test when any check failed; its
        message names variant, metric, value, limit (and the interval where there is one)."""
        test = _current_test()
        failed = [c for c in self.run.verdicts(checks, test) if c.failed]
        if failed:
            pytest.fail("\n".join(c.message for c in failed), pytrace=False)

    def outcome(self, variant: Variant, test: str, report: pytest.TestReport) -> None:
        """Record the test's outcome (worst one wins) with the reason for a skip or failure."""
        if self._run is None:
            return
        status = {"passed": "passed", "skipped": "skipped"}.get(report.outcome, "failed")
        if report.when != "call" and report.outcome == "failed":
            status = "error"
        message = _reason(report)
        self._run.record_fields(variant, status=status, messages=[f"{test}: {message}"] if message else [])

    def has_records(self) -> bool:
        """Whether anything (a variant, a study row) was recorded in this process."""
        return self._run is not None and bool(self._run.results.variants or self._run.results.studies)

    def absorb(self, results_json: str) -> None:
        """Merge records measured by a pytest-xdist worker into this (controller) run."""
        self.run.results.absorb(RunResults.from_dict(json.loads(results_json), source="xdist worker"))

    def finish(self) -> None:
        """Write the report (controller only) and, when asked, the baselines."""
        if self._run is not None and not self.is_worker:
            self._run.finish(self.reports_dir, self.update_baselines)

    def summary_lines(self) -> list[str]:
        """Lines for the terminal summary."""
        return list(self._run.lines) if self._run is not None else []


def _current_test() -> str:
    """The running test's node id (empty outside a test)."""
    return os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]


def _skip_unjudged(bars: Sequence[Bar]) -> None:
    """Skip when every chosen bar went unjudged (the reasons joined)."""
    reasons = [b.skip for b in bars if b.skip]
    if reasons and len(reasons) == len(bars):
        pytest.skip("; ".join(reasons))


def _reason(report: pytest.TestReport) -> str:
    """One-line reason of a skip or failure ("" for a pass)."""
    if report.passed:
        return ""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    text = str(report.longrepr or "")
    return text.strip().splitlines()[-1] if text.strip() else report.outcome
