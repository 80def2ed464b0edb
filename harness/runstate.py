"""The pytest-facing run state: turns measurements into records, budget verdicts and reports.

The plugin keeps one :class:`RunState` in ``config.stash``. Measurement itself lives in
:mod:`harness.session` and :mod:`harness.measure`; this module decides what to record, which
checks apply, and what the terminal says.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from harness.ablation import ABLATION, AblationRow, safe_measure
from harness.backends.base import Runner
from harness.baselines import Baseline, format_changes
from harness.budgets import (
    CheckResult,
    check_baseline_drop,
    check_latency_regression,
    check_map_drop,
    check_speedup,
)
from harness.calibration import CALIBRATION, LatencyTrials
from harness.config import HarnessConfig, find_config, load_config
from harness.diststudy import DISTILLATION, DistillCase, DistillRow
from harness.diststudy import measure_case as measure_distill_case
from harness.errors import BackendUnavailable, ConfigError
from harness.inputs import INPUTS, INT8_CALIBRATION, calibration_rows, input_rows
from harness.measure.latency import interleave
from harness.measure.mapboot import paired_map_drop
from harness.measure.memprobe import ProbeRequest
from harness.measure.size import file_bytes
from harness.measure.speed import latency_metrics, memory_metrics, speedup_metrics, throughput_metrics
from harness.measure.stats import Interval
from harness.mixed import (
    MIXED_PRECISION,
    MixedPrecisionStudy,
    candidates,
    run_study,
    target_check,
    worst_int8,
)
from harness.prunestudy import PRUNING, PruneCase, PruneRow, measure_case
from harness.recipes import Variant
from harness.report.writer import write_run
from harness.results import RunResults
from harness.session import HarnessSession

Metrics = dict[str, float | None]
THROUGHPUT_ROUNDS = 8  # timed batched calls; each is batch x slower than a batch-1 call
# Untimed batched calls first: every backend here was steady from its third batched call on
# (14 calls of batch 8 traced per backend), so the batch-1 warm-up count is not repeated.
THROUGHPUT_WARMUP = 2


@dataclass
class RunState:
    """Options of this pytest run plus the lazily created harness session and its results."""

    rootdir: Path
    config_path: Path | None
    profile: str | None
    reports_dir: Path | None
    update_baselines: bool
    is_worker: bool
    log: Callable[[str], None] = print
    _session: HarnessSession | None = None
    _results: RunResults | None = None
    _lines: list[str] = field(default_factory=list)
    _noted_models: set[str] = field(default_factory=set)
    _pruning: dict[str, PruneRow] = field(default_factory=dict)
    _distill: dict[str, DistillRow] = field(default_factory=dict)
    _ablation: dict[str, dict[str, object]] = field(default_factory=dict)

    @classmethod
    def from_pytest(cls, config: pytest.Config) -> RunState:
        """Read the harness options; load nothing yet (the rootdir is :func:`harness_root`'s)."""
        return cls(
            rootdir=harness_root(Path(config.rootpath), Path(config.invocation_params.dir)),
            config_path=config.getoption("harness_config"),
            profile=config.getoption("harness_profile"),
            reports_dir=config.getoption("harness_reports"),
            update_baselines=bool(config.getoption("update_baselines")),
            is_worker=hasattr(config, "workerinput"),
            log=_terminal_writer(config),
        )

    # -- session ------------------------------------------------------------------------

    def session(self) -> HarnessSession:
        """Load and validate the config and expand the matrix, once per run."""
        if self._session is None:
            config = load_config(self.rootdir, path=self.config_path, profile=self.profile)
            self._session = HarnessSession.from_config(config, log=self.log)
            self._results = RunResults.new(config.profile, self._session.fingerprint)
        return self._session

    @property
    def config(self) -> HarnessConfig:
        """The validated config."""
        return self.session().config

    @property
    def results(self) -> RunResults:
        """Records of this run."""
        self.session()
        if self._results is None:  # set together with the session
            raise RuntimeError("run results missing after the session was created")
        return self._results

    def _runner(self, variant: Variant, batch: int = 1) -> Runner:
        try:
            return self.session().runner(variant, batch)
        except BackendUnavailable as exc:
            pytest.skip(f"{variant.slug}: {exc}")

    def record(self, variant: Variant, metrics: Metrics, runner: Runner | None = None) -> None:
        """Merge measured metrics into the variant's record."""
        self._record(
            variant,
            artifact=str(runner.artifact) if runner else None,
            artifact_sha256=runner.artifact_sha256 if runner else None,
            metrics=metrics,
        )

    def _record(self, variant: Variant, **fields: object) -> None:
        """Create or merge the variant's record; identity fields come from the variant."""
        self.results.record(
            variant.slug,
            model=variant.model,
            backend=variant.backend,
            precision=variant.precision,
            prune=variant.ratio,
            recipe=variant.to_dict(),
            **fields,  # type: ignore[arg-type]
        )

    # -- baselines ----------------------------------------------------------------------

    def baseline(self, variant: Variant) -> tuple[Baseline | None, bool]:
        """The stored baseline of the variant's model, and whether it is from this machine."""
        baseline, same = self.session().baseline(variant.model)
        if baseline is not None and not same and variant.model not in self._noted_models:
            self._noted_models.add(variant.model)
            self._lines.append(
                f"harness: baseline for {variant.model} is from fingerprint {baseline.fingerprint_id}, "
                f"this machine is {self.session().fingerprint.id}: accuracy is compared, "
                "absolute latency is not"
            )
        return baseline, same

    def _stored(self, variant: Variant, metric: str) -> float | None:
        baseline, _ = self.baseline(variant)
        return baseline.metric(variant.slug, metric) if baseline else None

    # -- measurements -------------------------------------------------------------------

    def measure_accuracy(self, variant: Variant) -> list[CheckResult]:
        """mAP of the variant and of its reference; accuracy budget checks."""
        runner = self._runner(variant)
        session, verdicts = self.session(), self.config.verdicts
        result = session.accuracy(variant)
        reference = session.accuracy(variant.reference())
        drop = paired_map_drop(
            session.matches(variant),
            session.matches(variant.reference()),
            verdicts.accuracy_confidence,
            verdicts.accuracy_resamples,
        )
        metrics = {"map50": result.map50, "map50_95": result.map50_95}
        metrics |= {"map50_95_drop_ci_low": drop.low, "map50_95_drop_ci_high": drop.high}
        self.record(variant, metrics, runner)
        budget = self.config.budgets.for_variant(variant.slug, variant.precision, variant.prune is not None)
        stored = self._stored(variant, "map50_95")
        fails = verdicts.inconclusive_fails
        checks = [
            check_map_drop(budget, variant.slug, result.map50_95, reference.map50_95, stored, drop, fails),
            check_baseline_drop(budget, variant.slug, result.map50_95, stored),
        ]
        self._note_inconclusive(checks)
        return checks

    def timing_input(self, variant: Variant) -> tuple[Runner, np.ndarray]:
        """The variant's batch-1 runner and a real preprocessed val image."""
        runner = self._runner(variant)
        return runner, self.session().input_batch(variant, 1)

    def measure_speed(
        self, variant: Variant, runner: Runner, x: np.ndarray, samples_s: Sequence[float] | None
    ) -> list[CheckResult]:
        """Latency stats, same-run speedup, throughput, size and memory; speed budget checks.

        ``runner`` and ``x`` are what :meth:`timing_input` gave the benchmark.
        """
        session, lat = self.session(), self.config.latency
        reference = self._runner(variant.reference())
        metrics: Metrics = latency_metrics(samples_s)
        timed, interval = speedup_metrics(
            runner, reference, x, lat.interleaved_rounds, lat.warmup, self.config.verdicts.latency_confidence
        )
        metrics |= timed
        batched = self._runner(variant, lat.throughput_batch)
        batch_x = session.input_batch(variant, lat.throughput_batch)
        metrics |= throughput_metrics(batched, batch_x, THROUGHPUT_ROUNDS, min(lat.warmup, THROUGHPUT_WARMUP))
        metrics |= session.network_size(variant) | {"file_bytes": float(file_bytes(runner.artifact))}
        ctx = session.ctx
        metrics |= memory_metrics(ProbeRequest(variant, ctx.cache.root, ctx.device, ctx.threads))
        ref_ms = metrics.pop("reference_latency_median_ms")
        self.record(variant, metrics, runner)
        budget = self.config.budgets.for_variant(variant.slug, variant.precision, variant.prune is not None)
        baseline, same = self.baseline(variant)
        stored = baseline.metric(variant.slug, "latency_median_ms") if baseline else None
        stored_speedup = baseline.metric(variant.slug, "speedup_vs_reference") if baseline else None
        fails = self.config.verdicts.inconclusive_fails
        speedup = metrics["speedup_vs_reference"]
        checks = [
            check_speedup(budget, variant.slug, speedup, ref_ms, stored_speedup, interval, fails),
            check_latency_regression(budget, variant.slug, metrics["latency_median_ms"], stored, same),
        ]
        self._note_inconclusive(checks)
        return checks

    def measure_repeatability(self, model: str) -> Interval:
        """Latency ratio of the model's reference against itself, interleaved in this run, with its
        interval (a point interval when too few rounds were timed for one)."""
        reference = next(v for v in self.session().variants if v.model == model).reference()
        runner = self._runner(reference)
        x = self.session().input_batch(reference, 1)
        lat = self.config.latency
        timed = interleave(lambda: runner(x), lambda: runner(x), lat.interleaved_rounds, lat.warmup)
        level = self.config.verdicts.latency_confidence
        interval = timed.interval(level) or Interval(timed.speedup, timed.speedup, timed.speedup, level)
        self._lines.append(
            f"harness: {reference.slug} measured twice, interleaved: latency ratio {interval.describe()}"
        )
        return interval

    def measure_mixed_precision(self, model: str) -> MixedPrecisionStudy:
        """The mixed-precision study of ``model`` (skips when it is not configured or has no subject)."""
        spec = self.config.mixed_precision
        if spec is None:
            pytest.skip("no [mixed_precision] table in the config (the default and full profiles have one)")
        session = self.session()
        if not candidates(session, model):
            pytest.skip(f"{model}: the matrix has no static QDQ ONNX Runtime INT8 variant to study")
        base = worst_int8(session, model)
        if base is None:
            pytest.skip(f"{model}: none of its ONNX Runtime INT8 variants can run here")
        reference_map = session.accuracy(base.reference()).map50_95
        budget = self.config.budgets.for_variant(base.slug, base.precision).limit("max_map_drop", reference_map)
        verdicts = self.config.verdicts
        limit = budget if budget is not None else 1.0
        level, draws = verdicts.accuracy_confidence, verdicts.accuracy_resamples
        study = run_study(session, base, spec, limit, confidence=level, resamples=draws)
        self.results.add_study(MIXED_PRECISION, study.rows())
        if study.steps:
            last = study.steps[-1]
            cost = f", {last.latency_ratio:.2f}x the speed of full INT8" if last.latency_ratio else ""
            self._lines.append(
                f"harness: mixed precision {base.slug}: {len(last.kept)} layers kept in float, mAP50-95 "
                f"{study.int8_map:.4f} -> {last.map50_95:.4f} (FP32 {study.float_map:.4f}){cost}"
            )
        return study

    def mixed_precision_check(self, study: MixedPrecisionStudy) -> CheckResult:
        """The study's target check (:func:`harness.mixed.target_check`), noted when inconclusive."""
        check = target_check(study, self.config.verdicts.inconclusive_fails)
        self._note_inconclusive([check])
        return check

    def pruning_speedup_checks(self, row: PruneRow, min_speedup: float) -> list[CheckResult]:
        """The pruning bar's speedup checks (:meth:`PruneRow.speedup_checks`), noted when inconclusive."""
        checks = row.speedup_checks(min_speedup, self.config.verdicts.inconclusive_fails)
        self._note_inconclusive(checks)
        return checks

    def measure_pruning(self, case: PruneCase) -> PruneRow:
        """The pruning study row of ``case``, measured once per run and recorded in ``studies``."""
        key = case.slug
        if key not in self._pruning:
            row = measure_case(self.session(), case)
            self._pruning[key] = row
            self.results.add_study(PRUNING, [row.to_dict(self.config.pruning)])
            self._lines.append(_pruning_line(case, row))
        return self._pruning[key]

    def measure_distillation(self, case: DistillCase) -> DistillRow:
        """The distillation study row of ``case``, measured once per run and recorded in ``studies``."""
        if case.slug not in self._distill:
            row = measure_distill_case(self.session(), case)
            self._distill[case.slug] = row
            self.results.add_study(DISTILLATION, [row.to_dict()])
            self._lines.append(_distill_line(row))
        return self._distill[case.slug]

    def measure_ablation(self, row: AblationRow) -> dict[str, object]:
        """The ablation row's figures, measured once per run and recorded in ``studies``."""
        key = f"{row.model}/{row.name}"
        if key not in self._ablation:
            figures = safe_measure(self.session(), row)
            self._ablation[key] = figures
            self.results.add_study(ABLATION, [figures])
        return self._ablation[key]

    def calibration_call(self, model: str) -> tuple[Callable[[], object], str]:
        """A batch-1 call of the model's fastest FP32 variant here (ONNX Runtime, else PyTorch)."""
        reference = next(v for v in self.session().variants if v.model == model).reference()
        for variant in (reference.unpruned(backend="onnxruntime"), reference):
            try:
                runner = self.session().runner(variant)
            except BackendUnavailable:
                continue
            x = self.session().input_batch(variant, 1)
            return (lambda: runner(x)), variant.slug
        pytest.skip(f"{model}: neither ONNX Runtime nor PyTorch can run it here")

    def record_calibration(self, variant: str, case: str, trials: LatencyTrials) -> None:
        """Keep a calibration result in ``studies`` and in the terminal summary."""
        row = {"variant": variant, "case": case, "limit": trials.limit} | trials.summary()
        self.results.add_study(CALIBRATION, [row])
        self._lines.append(
            f"harness: verdict calibration {variant} {case}: {trials.failures}/{len(trials.verdicts)} FAIL "
            f"(median speedup {row['median_speedup']:.3f}, median CI width {row['median_ci_width']:.3f})"
        )

    def note(self, line: str) -> None:
        """Add a line to the terminal summary."""
        self._lines.append(line)

    # -- verdicts, outcomes, end of run ---------------------------------------------------

    def _note_inconclusive(self, checks: Sequence[CheckResult]) -> None:
        """Say every inconclusive verdict in the terminal summary (it passes or fails by policy)."""
        self._lines.extend(f"harness: {c.message}" for c in checks if c.inconclusive)

    def enforce(self, checks: Sequence[CheckResult]) -> None:
        """Fail the test when any check failed; its message names variant, metric, value, limit, baseline."""
        failed = [c for c in checks if c.failed]
        if failed:
            pytest.fail("\n".join(c.message for c in failed), pytrace=False)

    def outcome(self, variant: Variant, test: str, report: pytest.TestReport) -> None:
        """Record the test's outcome (worst one wins) with the reason for a skip or failure."""
        if self._results is None:
            return
        status = {"passed": "passed", "skipped": "skipped"}.get(report.outcome, "failed")
        if report.when != "call" and report.outcome == "failed":
            status = "error"
        message = _reason(report)
        self._record(variant, status=status, messages=[f"{test}: {message}"] if message else [])

    def has_records(self) -> bool:
        """Whether any variant was recorded in this process."""
        return self._results is not None and bool(self._results.variants)

    def absorb(self, results_json: str) -> None:
        """Merge records measured by a pytest-xdist worker into this (controller) run."""
        self.results.absorb(RunResults.from_dict(json.loads(results_json), source="xdist worker"))

    def finish(self) -> None:
        """Write the report (controller only) and, when asked, the baselines."""
        if self._results is None or self.is_worker:
            return
        if not self._results.variants and not self._results.studies:  # nothing measured
            return
        self._record_inputs()
        reports_dir = self.reports_dir or self.config.reports_dir
        out = write_run(self._results, reports_dir)
        self._lines.append(f"harness: report written to {out} (latest: {reports_dir / 'latest'})")
        if self.update_baselines:
            self._update_baselines()

    def _record_inputs(self) -> None:
        """Record every input file's sha256 and the calibration sets of the measured INT8 variants."""
        results, session = self.results, self.session()
        results.studies.pop(INPUTS, None)
        results.studies.pop(INT8_CALIBRATION, None)
        results.add_study(INPUTS, input_rows(session))
        calibration = calibration_rows(session, [v.variant for v in results.variants])
        if calibration:
            results.add_study(INT8_CALIBRATION, calibration)

    def _update_baselines(self) -> None:
        by_model: dict[str, dict[str, Metrics]] = {}
        for record in self.results.variants:
            if record.status == "passed" or record.metrics:
                by_model.setdefault(record.model, {})[record.variant] = dict(record.metrics)
        for model, variants in by_model.items():
            changes = self.session().baselines.update(self.session().fingerprint, model, variants)
            path = self.session().baselines.path(self.session().fingerprint.id, model)
            self._lines.append(
                f"harness: baseline {path} updated: " + (format_changes(changes) or "no change")
            )

    def summary_lines(self) -> list[str]:
        """Lines for the terminal summary."""
        return list(self._lines)


def harness_root(rootdir: Path, invocation_dir: Path) -> Path:
    """The folder a run takes its config from and resolves the cache, reports and baselines against.

    pytest's ``rootdir`` when it holds a harness config (``harness.toml`` or ``[tool.harness]`` in
    ``pyproject.toml``), else the folder pytest was started in when that holds one: with
    ``pytest --pyargs harness.suites`` pytest roots the run at the nearest folder with a pytest
    config, which need not be the user's harness folder. With no config in either, the rootdir,
    unless it lies inside the installed harness package (``pytest .../site-packages/harness/suites``):
    then the invocation folder, so that nothing is ever written into site-packages.
    """
    for folder in (rootdir, invocation_dir):
        if _has_config(folder):
            return folder
    return invocation_dir if _inside(rootdir, _PACKAGE_DIR) else rootdir


_PACKAGE_DIR = Path(__file__).resolve().parent


def _has_config(folder: Path) -> bool:
    """Whether ``folder`` holds a harness config (an unreadable one counts: loading it says why)."""
    try:
        return find_config(folder) is not None
    except ConfigError:
        return True


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies below it (symlinks resolved)."""
    return path.resolve().is_relative_to(folder)


def _distill_line(row: DistillRow) -> str:
    """One summary line: teacher, control and KD mAP50-95 of a distillation case."""
    maps = " / ".join(
        f"{role} {'-' if row.maps.get(role) is None else format(row.maps[role], '.4f')}"
        for role in ("teacher", "control", "kd")
    )
    gain = "-" if row.gain is None else f"{row.gain:+.4f}"
    return f"harness: distillation {row.case}: mAP50-95 {maps} (gain {gain})"


def _pruning_line(case: PruneCase, row: PruneRow) -> str:
    """One summary line: parameters, speedups and mAP of a pruning case."""
    speed = ", ".join(f"{b} {s:.2f}x" for b in row.latency_ms if (s := row.speedup(b)) is not None)
    params = f"params -{row.params_reduction:.0%}" if row.params_reduction is not None else "params -"
    maps = " -> ".join(
        "-" if m is None else f"{m:.4f}" for m in (row.map_reference, row.map_pruned, row.map_finetuned)
    )
    what = f"{params}, speedup {speed or '-'}, mAP50-95 {maps}"
    return f"harness: pruning {case.slug}: {what} (reference -> pruned -> fine-tuned)"


def _terminal_writer(config: pytest.Config) -> Callable[[str], None]:
    """Write progress lines past output capturing (long builds must not look like a hang)."""

    def write(message: str) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        capture = config.pluginmanager.get_plugin("capturemanager")
        if reporter is None:
            return
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.ensure_newline()
            reporter.write_line(message)

    return write


def _reason(report: pytest.TestReport) -> str:
    """One-line reason of a skip or failure ("" for a pass)."""
    if report.passed:
        return ""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    text = str(report.longrepr or "")
    return text.strip().splitlines()[-1] if text.strip() else report.outcome
