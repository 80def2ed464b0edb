"""One harness run without pytest: records, baseline notes, study memo, summary lines, report.

A :class:`HarnessRun` owns the :class:`~harness.bench.Bench` (what is built and measured) and the
:class:`~harness.results.RunResults` (what is recorded). The pytest layer
(:mod:`harness.runstate`) holds one; a script can use it the same way::

    run = HarnessRun.from_config(load_config(Path(".")))
    checks = accuracy_checks(run, run.bench.variants[0])      # harness.variant_checks
    run.finish(Path("reports"), update_baselines=False)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.backends.base import Runner
from harness.baselines import ArtifactRef, Baseline, artifact_ref, format_changes
from harness.bench import Bench
from harness.checks import CheckResult
from harness.config import HarnessConfig
from harness.inputs import calibration_rows, input_rows
from harness.recipes import Variant
from harness.report.summary import summary_lines
from harness.report.writer import write_run
from harness.results import INPUTS, INT8_CALIBRATION, VERDICTS, RunResults
from harness.studies.base import Bar, Study
from harness.studies.registry import registered
from harness.verdicts import LAYOUT, row, settle, skipped_row

__all__ = ["HarnessRun", "Metrics"]

Metrics = dict[str, float | None]
AnyStudy = Study[Any, Any]


@dataclass
class HarnessRun:
    """The bench and results of one run, the notes for its summary, and each study case's row."""

    bench: Bench
    results: RunResults
    log: Callable[[str], None] = print
    lines: list[str] = field(default_factory=list)
    _noted_models: set[str] = field(default_factory=set)
    _rows: dict[tuple[str, str], object] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: HarnessConfig, log: Callable[[str], None] = print) -> HarnessRun:
        """Expand the matrix (nothing is built until something is measured)."""
        config.studies.check_names([s.name for s in registered()])
        bench = Bench.from_config(config, log=log)
        return cls(bench, RunResults.new(config.profile, bench.fingerprint), log)

    @property
    def config(self) -> HarnessConfig:
        """The validated config."""
        return self.bench.config

    # -- records -------------------------------------------------------------------------

    def record(self, variant: Variant, metrics: Metrics, runner: Runner | None = None) -> None:
        """Merge measured metrics (and the artifact that produced them) into the variant's record."""
        self.record_fields(
            variant,
            artifact=str(runner.artifact) if runner else None,
            artifact_sha256=runner.artifact_sha256 if runner else None,
            metrics=metrics,
        )

    def record_fields(self, variant: Variant, **fields: object) -> None:
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

    def baseline(self, variant: Variant) -> tuple[Baseline | None, bool]:
        """The stored baseline of the variant's model, and whether it is from this machine (a
        baseline from another machine is noted once per model)."""
        baseline, same = self.bench.baseline(variant.model)
        if baseline is not None and not same and variant.model not in self._noted_models:
            self._noted_models.add(variant.model)
            self.note(
                f"harness: baseline for {variant.model} is from fingerprint {baseline.fingerprint_id}, "
                f"this machine is {self.bench.fingerprint.id}: accuracy is compared, "
                "absolute latency is not"
            )
        return baseline, same

    def stored(self, variant: Variant, metric: str) -> float | None:
        """The variant's ``metric`` in its stored baseline (None: no baseline or no value)."""
        baseline, _ = self.baseline(variant)
        return baseline.metric(variant.slug, metric) if baseline else None

    # -- notes ---------------------------------------------------------------------------

    def note(self, line: str) -> None:
        """Add a line to the terminal summary."""
        self.lines.append(line)

    def verdicts(self, checks: Sequence[CheckResult], test: str) -> list[CheckResult]:
        """The checks with the config's waivers applied, each recorded as a row of the
        ``verdicts`` table under ``test`` (the pytest node id, or any name a script gives)."""
        settled = settle(checks, self.config.budgets)
        self.results.add_study(VERDICTS, [row(c, test) for c in settled])
        self.results.describe_study(VERDICTS, LAYOUT)
        return settled

    def skipped(self, test: str, subject: str, check: str, reason: str) -> None:
        """Record a check that was not made, with the reason, as a ``skipped`` row of ``verdicts``."""
        self.results.add_study(VERDICTS, [skipped_row(test, subject, check, reason)])
        self.results.describe_study(VERDICTS, LAYOUT)

    def note_inconclusive(self, checks: Sequence[CheckResult]) -> None:
        """Say every inconclusive verdict in the summary (it passes or fails by policy), once: a
        study case's bars are judged again by each of its tests."""
        for line in (f"harness: {c.message}" for c in checks if c.inconclusive):
            if line not in self.lines:
                self.lines.append(line)

    # -- studies -------------------------------------------------------------------------

    def study_row(self, study: AnyStudy, case: Any) -> Any:
        """The study's row for ``case``, measured once per run and recorded in ``studies``."""
        key = (study.name, case.slug)
        if key not in self._rows:
            row = study.measure(self.bench, case)
            self._rows[key] = row
            self.results.add_study(study.name, study.rows(self.bench, row))
            if study.layout is not None:
                self.results.describe_study(study.name, study.layout)
            line = study.summary(case, row)
            if line:
                self.note(line)
        return self._rows[key]

    def study_bars(self, study: AnyStudy, case: Any) -> list[Bar]:
        """The case's bars (measuring it first if needed); inconclusive verdicts are noted."""
        bars = study.bars(self.bench, case, self.study_row(study, case))
        for bar in bars:
            self.note_inconclusive(bar.checks)
        return bars

    # -- end of run ----------------------------------------------------------------------

    def finish(self, reports_dir: Path | None, update_baselines: bool) -> None:
        """Record the inputs, write the report and, when asked, the baselines (nothing measured:
        nothing written)."""
        if not self.results.variants and not self.results.studies:
            return
        self._record_inputs()
        reports_dir = reports_dir or self.config.reports_dir
        out = write_run(self.results, reports_dir)
        self.lines.extend(summary_lines(self.results))
        self.note(f"harness: report written to {out / 'report.html'} (latest: {reports_dir / 'latest'})")
        if update_baselines:
            self._update_baselines()

    def _record_inputs(self) -> None:
        """Record every input file's sha256 and the calibration sets of the measured INT8 variants."""
        results = self.results
        results.studies.pop(INPUTS, None)
        results.studies.pop(INT8_CALIBRATION, None)
        results.add_study(INPUTS, input_rows(self.bench))
        calibration = calibration_rows(self.bench, [v.variant for v in results.variants])
        if calibration:
            results.add_study(INT8_CALIBRATION, calibration)

    def _update_baselines(self) -> None:
        by_model: dict[str, dict[str, Metrics]] = {}
        artifacts: dict[str, dict[str, ArtifactRef]] = {}
        for record in self.results.variants:
            if record.status == "passed" or record.metrics:
                by_model.setdefault(record.model, {})[record.variant] = dict(record.metrics)
                if record.artifact and record.artifact_sha256:
                    ref = artifact_ref(
                        Path(record.artifact), record.artifact_sha256, self.bench.ctx.cache.root
                    )
                    artifacts.setdefault(record.model, {})[record.variant] = ref
        store, fingerprint = self.bench.baselines, self.bench.fingerprint
        for model, variants in by_model.items():
            changes = store.update(fingerprint, model, variants, artifacts.get(model))
            path = store.path(fingerprint.id, model)
            self.note(f"harness: baseline {path} updated: " + (format_changes(changes) or "no change"))
