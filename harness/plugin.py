"""pytest plugin: options, matrix parametrization, fixtures, and the end-of-session report.

Hooks stay thin; the work happens in :mod:`harness.run`, :mod:`harness.variant_checks` and the
registered studies (:mod:`harness.studies`). Per-run
state lives in ``config.stash``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.errors import HarnessError
from harness.runstate import RunState
from harness.studies.base import GENERIC_FIXTURE, Study
from harness.studies.registry import registered
from harness.timing_lock import LOCK_NAME, TimingLock

STATE_KEY = pytest.StashKey[RunState]()
LOCK_KEY = pytest.StashKey[TimingLock]()
TIMING_MARKER = "harness_timing"


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``harness`` option group; every option has the ``--harness-`` prefix but one."""
    group = parser.getgroup("harness", "YOLO compression harness")
    group.addoption(
        "--harness-profile",
        choices=("quick", "default", "full"),
        default=None,
        help="matrix size: quick | default | full (default: the config's profile, else 'default')",
    )
    group.addoption(
        "--harness-config",
        type=Path,
        default=None,
        help="config file (default: harness.toml, else [tool.harness] in pyproject.toml, in the rootdir, "
        "else in the current folder)",
    )
    group.addoption(
        "--harness-reports",
        type=Path,
        default=None,
        help="reports directory (default: the config's reports_dir, 'reports')",
    )
    group.addoption(
        "--update-baselines",
        action="store_true",
        default=False,
        help="write today's numbers to baselines/ (default: off; nothing stored is ever overwritten)",
    )
    group.addoption(
        "--harness-trace",
        action="store_true",
        default=False,
        help="also record a profiler trace of every timed variant into reports/<run>/traces/ "
        "(default: the config's [latency] trace_rounds, 0 = none)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Create the (lazy) run state (nothing is loaded until a suite asks for it) and the timing lock.

    The lock lives in ``.harness-cache/`` of the run's harness folder (the folder of its config,
    else the invocation folder: :func:`harness.config.root.harness_root`), never beside the installed
    suites."""
    state = RunState.from_pytest(config, log=_terminal_writer(config))
    config.stash[STATE_KEY] = state
    config.stash[LOCK_KEY] = TimingLock.from_env(state.rootdir / ".harness-cache" / LOCK_NAME)
    config.addinivalue_line(
        "markers",
        f"{TIMING_MARKER}: measures latency; under pytest-xdist it runs while no other test runs",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize the suites from the matrix (:func:`_parametrize`); a bad config or input file
    is one line naming it (a collection error without a traceback), not a stack of frames."""
    try:
        _parametrize(metafunc)
    except HarnessError as exc:
        raise pytest.Collector.CollectError(f"harness: {exc}") from None


def _parametrize(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``variant`` (ids like yolo11n-p00-fp32-onnxruntime) and ``model_name`` from the
    matrix, and each registered study's fixture by its cases (ids: their slugs, e.g.
    yolo11n-p30-l1); ``study_case`` takes every study without a suite of its own (ids like
    pruning-yolo11n-p30-l1)."""
    names = metafunc.fixturenames
    wanted = {"variant", "model_name", GENERIC_FIXTURE} | {s.fixture for s in registered()}
    if not wanted.intersection(names):
        return
    bench = metafunc.config.stash[STATE_KEY].run.bench
    if "variant" in names:
        metafunc.parametrize("variant", bench.variants, ids=[v.slug for v in bench.variants])
    if "model_name" in names:
        metafunc.parametrize("model_name", bench.models)
    for study in registered():
        if study.fixture in names and study.fixture != GENERIC_FIXTURE:
            _parametrize_cases(metafunc, study.fixture, study.cases(bench), study.empty)
    if GENERIC_FIXTURE in names:
        found = [
            StudyCase(s, c) for s in registered() if s.fixture == GENERIC_FIXTURE for c in s.cases(bench)
        ]
        _parametrize_cases(metafunc, GENERIC_FIXTURE, found, "no registered study without a suite of its own")


def _parametrize_cases(metafunc: pytest.Metafunc, name: str, found: Sequence[Any], reason: str) -> None:
    """Parametrize ``name`` by the study's cases (ids: their slugs), or one skipped "none" when
    there are none, so that the run says why the study did not run."""
    if found:
        metafunc.parametrize(name, found, ids=[c.slug for c in found])
    else:
        metafunc.parametrize(name, [pytest.param(None, marks=pytest.mark.skip(reason=reason))], ids=["none"])


@dataclass(frozen=True)
class StudyCase:
    """A case of a study that the generic suite runs (``suites/test_studies.py``)."""

    study: Study[Any, Any]
    case: Any

    @property
    def slug(self) -> str:
        """Test id: ``<study>-<case>``."""
        return f"{self.study.name}-{self.case.slug}"


@pytest.fixture(scope="session")
def harness_state(pytestconfig: pytest.Config) -> RunState:
    """The run state: session, results being collected, baseline notes."""
    return pytestconfig.stash[STATE_KEY]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):  # type: ignore[no-untyped-def]
    """Under pytest-xdist, run a ``harness_timing`` test alone and other tests side by side
    (:mod:`harness.timing_lock`); a plain run takes no lock."""
    lock = item.config.stash[LOCK_KEY]
    hold = lock.exclusive if item.get_closest_marker(TIMING_MARKER) else lock.shared
    with hold():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Record each variant test's outcome (passed, failed, skipped and why) in the results."""
    report = yield
    if call.excinfo is not None and isinstance(call.excinfo.value, HarnessError) and report.failed:
        report.longrepr = f"{type(call.excinfo.value).__name__}: {call.excinfo.value}"  # bad input: one line
    variant = getattr(getattr(item, "callspec", None), "params", {}).get("variant")
    if variant is not None and (report.when == "call" or report.outcome != "passed"):
        name = item.originalname if isinstance(item, pytest.Function) else item.name
        item.config.stash[STATE_KEY].outcome(variant, name, report)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write reports/<run>/ and, when asked, the baselines (an xdist worker hands its records up)."""
    state = session.config.stash[STATE_KEY]
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None and state.has_records():
        workeroutput["harness_results"] = state.run.results.to_json()
    state.finish()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """pytest-xdist controller: merge the records a worker measured."""
    data = getattr(node, "workeroutput", {}).get("harness_results")
    if data:
        node.config.stash[STATE_KEY].absorb(data)  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say where the report went, which baselines changed, and any fingerprint mismatch."""
    for line in terminalreporter.config.stash[STATE_KEY].summary_lines():
        terminalreporter.write_line(line)


def _terminal_writer(config: pytest.Config) -> Callable[[str], None]:
    """Write progress lines past output capturing (long builds must not look like a hang); ``-q``
    quiets them."""

    def write(message: str) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        capture = config.pluginmanager.get_plugin("capturemanager")
        if reporter is None or config.get_verbosity() < 0:
            return
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.ensure_newline()
            reporter.write_line(message)

    return write
