"""Calibration of the verdicts on this machine: do they cry wolf, do they sleep?

- **A/A**: a variant timed interleaved against itself, ``trials`` times; each comparison is judged
  like a same-run speedup budget of 1.0x (the candidate must not be slower). A FAIL is a false
  alarm.
- **A/A, two loads**: the same variant loaded twice (two runners on one artifact, as two models
  compared by ``harness compare --ab`` or against a baseline's artifact are two loads), a fresh
  pair every trial: the false-alarm rate those comparisons face (a load may carry its own speed
  offset, which no interleaving cancels); the *confirmed* case measures every FAIL again
  on another fresh pair and counts it only when that fails too (:mod:`harness.confirm`).
- **Injected slowdown**: the same variant with a busy-wait of ``slowdown`` x each call's own time
  after it, against the plain variant; a FAIL is a detection. Again on two loads (every pair's
  candidate slowed, as a real regression slows every load of its artifact), as measured and with
  FAILs confirmed: how many real regressions the fresh-load rule still catches.
- **Accuracy**: the reference's own val detections with box noise calibrated so that mAP50-95
  drops by ``drop`` (one point by default); judged with a limit of 0 (no loss allowed), the paired
  bootstrap must flag it, and must not flag the reference against itself.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from harness.checks import CheckResult, check_bound
from harness.confirm import CONFIRM_ROUNDS
from harness.errors import BackendUnavailable
from harness.measure.latency import Interleaved, interleave, interleave_both_orders, time_call
from harness.measure.map import Detections, GroundTruth, mean_average_precision
from harness.measure.mapboot import MatchTable, paired_map_drop
from harness.measure.stats import Interval, Verdict, false_alarm_bound, verdict
from harness.results import VERDICT_CALIBRATION
from harness.studies.base import Bar, Study

if TYPE_CHECKING:
    from harness.backends.base import Runner
    from harness.bench import Bench
    from harness.recipes import Variant

__all__ = [
    "CalibrationCase",
    "CalibrationRow",
    "LatencyTrials",
    "VerdictCalibrationStudy",
    "accuracy_flags",
    "busy_wait",
    "degrade",
    "degrade_to",
    "latency_trials",
    "load_trials",
    "slowed",
]

Call = Callable[[], object]
SLOWDOWN = 0.10
TWO_LOADS = "A/A, two loads"
TWO_LOADS_CONFIRMED = "A/A, two loads, FAILs confirmed"
SLOWDOWN_CASE = "+10 % (each call busy-waits 10 % of its own time)"
SLOWDOWN_LOADS = "+10 %, two loads"
SLOWDOWN_LOADS_CONFIRMED = "+10 %, two loads, FAILs confirmed"
ACCURACY_LOSS = 0.01
SLOW_LOADS_KEPT = 0.95
"""Share of the +10 % slowdowns of two loads caught at the first measurement that must still FAIL
once confirmed: what the fresh-load rule may cost in detections. A second measurement as long as
the first kept 84 of 92 here (2-core EPYC, 100 trials); with three times the rounds, 92 of 92."""


@dataclass(frozen=True)
class LatencyTrials:
    """Verdicts of repeated interleaved comparisons against a minimum speedup of ``limit``."""

    verdicts: tuple[Verdict, ...]
    intervals: tuple[Interval, ...]
    limit: float

    @property
    def failures(self) -> int:
        """Comparisons judged FAIL."""
        return sum(v is Verdict.FAIL for v in self.verdicts)

    @property
    def rate(self) -> float:
        """Share of comparisons judged FAIL."""
        return self.failures / len(self.verdicts)

    def summary(self) -> dict[str, object]:
        """JSON-ready figures, with a one-sided 95 % upper bound of the FAIL rate."""
        return {
            "trials": len(self.verdicts),
            "fail": self.failures,
            "inconclusive": sum(v is Verdict.INCONCLUSIVE for v in self.verdicts),
            "fail_rate": self.rate,
            "fail_rate_upper95": false_alarm_bound(self.failures, len(self.verdicts)),
            "median_speedup": float(np.median([i.estimate for i in self.intervals])),
            "median_ci_width": float(np.median([i.high - i.low for i in self.intervals])),
        }


def latency_trials(
    candidate: Call,
    reference: Call,
    trials: int,
    rounds: int,
    warmup: int,
    confidence: float,
    limit: float = 1.0,
) -> LatencyTrials:
    """``trials`` interleaved comparisons, each judged against ``min_speedup = limit``."""
    verdicts, intervals = [], []
    for _ in range(trials):
        interval = _compared(candidate, reference, rounds, warmup, confidence)
        verdicts.append(verdict(interval, limit, higher_is_better=True))
        intervals.append(interval)
    return LatencyTrials(tuple(verdicts), tuple(intervals), limit)


def load_trials(
    load: Callable[[], Call],
    trials: int,
    rounds: int,
    warmup: int,
    confidence: float,
    limit: float = 1.0,
    slowdown: float = 0.0,
) -> tuple[LatencyTrials, LatencyTrials]:
    """``trials`` comparisons, each between two fresh ``load()`` s: the verdicts as measured, and
    with each FAIL measured again as :meth:`harness.bench.Bench.fresh_speedup` does, on fresh pairs
    loaded in both orders with :data:`~harness.confirm.CONFIRM_ROUNDS` times the rounds (FAIL only
    if that fails too, else INCONCLUSIVE: the rule of :func:`harness.confirm.confirm_fail`). The
    first measurement loads the candidate first.

    ``slowdown`` 0 is an A/A (a FAIL is a false alarm); above 0 the candidate of every pair is
    :func:`slowed` by it, as a real regression lives in the artifact and every load of it (a FAIL
    is a detection, and the confirmed verdicts say how many the rule still catches)."""

    def candidate() -> Call:
        return slowed(load(), slowdown) if slowdown > 0 else load()

    def compared() -> tuple[Verdict, Interval]:
        interval = _compared(candidate(), load(), rounds, warmup, confidence)
        return verdict(interval, limit, higher_is_better=True), interval

    def again() -> Verdict:
        result = interleave_both_orders(candidate, load, CONFIRM_ROUNDS * rounds, warmup)
        return verdict(_interval(result, confidence), limit, higher_is_better=True)

    measured: list[Verdict] = []
    confirmed: list[Verdict] = []
    intervals: list[Interval] = []
    for _ in range(trials):
        final, first = compared()
        measured.append(final)
        intervals.append(first)
        if final is Verdict.FAIL:
            second = again()
            final = second if second is Verdict.FAIL else Verdict.INCONCLUSIVE
        confirmed.append(final)
    return (
        LatencyTrials(tuple(measured), tuple(intervals), limit),
        LatencyTrials(tuple(confirmed), tuple(intervals), limit),
    )


def _compared(candidate: Call, reference: Call, rounds: int, warmup: int, confidence: float) -> Interval:
    """The interleaved speedup interval of ``candidate`` over ``reference`` (ValueError: too few rounds)."""
    return _interval(interleave(candidate, reference, rounds, warmup), confidence)


def _interval(result: Interleaved, confidence: float) -> Interval:
    """``result``'s speedup interval (ValueError: too few rounds)."""
    interval = result.interval(confidence)
    if interval is None:
        rounds = len(result.candidate_s)
        raise ValueError(f"{rounds} interleaved rounds are too few for an interval (need 3 blocks)")
    return interval


def busy_wait(seconds: float) -> None:
    """Spin on the clock for ``seconds`` (a sleep would hand the core to someone else)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def slowed(fn: Call, slowdown: float) -> Call:
    """``fn`` made ``slowdown`` slower: each call busy-waits ``slowdown`` x that call's own time.

    A wait fixed from a median taken beforehand would be a different share of each call once the
    machine switches latency regime (13 ms and 20 ms here): a 2.0 ms wait set in the slow regime
    slowed 13 ms calls by 15 %, not 10 %.
    """

    def call() -> None:
        busy_wait(slowdown * time_call(fn))

    return call


def degrade(dets: Sequence[Detections], sigma: float, seed: int = 0) -> list[Detections]:
    """Detections with every box corner moved by Gaussian noise of ``sigma`` x the box size."""
    rng = np.random.default_rng(seed)
    out = []
    for det in dets:
        size = np.tile(det.boxes[:, 2:] - det.boxes[:, :2], 2)
        boxes = det.boxes + rng.standard_normal(det.boxes.shape) * sigma * size
        out.append(Detections(boxes, det.scores, det.classes))
    return out


def degrade_to(
    dets: Sequence[Detections], gts: Sequence[GroundTruth], drop: float, tolerance: float = 0.001
) -> tuple[list[Detections], float]:
    """Box noise found by bisection so that mAP50-95 drops by ``drop`` (+- tolerance); returns the
    degraded detections and the exact drop."""
    base = mean_average_precision(dets, gts).map50_95
    low, high = 0.0, 0.5
    for _ in range(30):
        sigma = (low + high) / 2
        worse = degrade(dets, sigma)
        lost = base - mean_average_precision(worse, gts).map50_95
        if abs(lost - drop) <= tolerance:
            return worse, lost
        low, high = (sigma, high) if lost < drop else (low, sigma)
    raise ValueError(f"no box noise gives a mAP50-95 drop of {drop} +- {tolerance}")


def accuracy_flags(
    variant: MatchTable, reference: MatchTable, confidence: float, resamples: int
) -> tuple[Verdict, Interval]:
    """The accuracy verdict with no loss allowed (limit 0): FAIL means "flagged as worse"."""
    interval = paired_map_drop(variant, reference, confidence, resamples)
    return verdict(interval, 0.0, higher_is_better=False), interval


@dataclass(frozen=True)
class CalibrationCase:
    """One model's calibration; its slug is the model name."""

    model: str

    @property
    def slug(self) -> str:
        """Test id: the model name."""
        return self.model


@dataclass
class CalibrationRow:
    """What the calibration of one model measured (latency trials only when configured)."""

    model: str
    trials: int
    timed: str = ""  # slug of the variant timed against itself
    latency: dict[str, LatencyTrials] = field(default_factory=dict)  # "A/A" / SLOWDOWN_CASE
    latency_skip: str = ""
    reference: str = ""
    accuracy: AccuracyFlags | None = None
    accuracy_skip: str = ""


class AccuracyFlags(NamedTuple):
    """The accuracy check: the verdict and drop interval of the degraded detections (``lost``
    mAP50-95 below the reference) and of the reference against itself."""

    flagged: Verdict
    drop: Interval
    itself: Verdict
    same: Interval
    lost: float


class VerdictCalibrationStudy(Study[CalibrationCase, CalibrationRow]):
    """Verdict calibration as a study: A/A and injected-slowdown latency trials, one-point mAP loss."""

    name = VERDICT_CALIBRATION
    table = "verdicts"
    fixture = "calibration_case"

    def cases(self, bench: Bench) -> list[CalibrationCase]:
        """One case per model."""
        return [CalibrationCase(m) for m in bench.models]

    def measure(self, bench: Bench, case: CalibrationCase) -> CalibrationRow:
        """Latency trials (when ``verdicts.calibration_trials`` > 0), then the accuracy check."""
        row = CalibrationRow(case.model, bench.config.verdicts.calibration_trials)
        _measure_latency(bench, row)
        _measure_accuracy(bench, row)
        return row

    def rows(self, bench: Bench, row: CalibrationRow) -> list[dict[str, object]]:
        """One row per latency trial set (``studies.verdict_calibration``)."""
        return [
            {"variant": row.timed, "case": name, "limit": trials.limit} | trials.summary()
            for name, trials in row.latency.items()
        ]

    def bars(self, bench: Bench, case: CalibrationCase, row: CalibrationRow) -> list[Bar]:
        """false_alarms (at most 1 % A/A FAIL, of one runner and of two loads with FAILs confirmed),
        detects_slowdown (at least 95 % caught by one runner; of those caught on two loads,
        :data:`SLOW_LOADS_KEPT` still caught once confirmed), map_loss."""
        if row.latency_skip:
            latency = [
                Bar.skipped("false_alarms", row.latency_skip),
                Bar.skipped("detects_slowdown", row.latency_skip),
            ]
        else:
            aa, slow = row.latency["A/A"].failures, row.latency[SLOWDOWN_CASE].failures
            loads = row.latency[TWO_LOADS_CONFIRMED].failures
            caught = row.latency[SLOWDOWN_LOADS].failures
            kept = row.latency[SLOWDOWN_LOADS_CONFIRMED].failures
            latency = [
                Bar("false_alarms", (
                    check_bound("aa_fail", row.timed, "A/A comparisons that failed", aa,
                                0.01 * row.trials, at_most=True, digits=1),
                    check_bound("aa_loads_fail", row.timed, "A/A comparisons of two loads that failed twice",
                                loads, 0.01 * row.trials, at_most=True, digits=1),
                )),
                Bar("detects_slowdown", (
                    check_bound("slowdown_fail", row.timed, "+10 % slowdowns caught", slow,
                                0.95 * row.trials, at_most=False, digits=1),
                    check_bound("slowdown_loads_kept", row.timed,
                                f"+10 % slowdowns of two loads still caught once confirmed (of {caught} caught)",
                                kept, SLOW_LOADS_KEPT * caught, at_most=False, digits=1),
                )),
            ]  # fmt: skip
        return [*latency, _accuracy_bar(row)]

    def summary(self, case: CalibrationCase, row: CalibrationRow) -> str | None:
        """One line per latency trial set and one for the accuracy check."""
        lines = [_trials_line(row.timed, name, trials) for name, trials in row.latency.items()]
        flags = row.accuracy
        if flags is not None:
            lines.append(
                f"harness: accuracy verdict {row.reference}: degraded by {flags.lost:.4f}, drop "
                f"{flags.drop.describe(4)}: {flags.flagged.value}; against itself {flags.same.describe(4)}: "
                f"{flags.itself.value}"
            )
        return "\n".join(lines) or None


def _trials_line(timed: str, name: str, trials: LatencyTrials) -> str:
    """One summary line of a latency trial set."""
    figures = trials.summary()
    return (
        f"harness: verdict calibration {timed} {name}: {trials.failures}/{len(trials.verdicts)} FAIL "
        f"(median speedup {figures['median_speedup']:.3f}, median CI width {figures['median_ci_width']:.3f})"
    )


def _measure_latency(bench: Bench, row: CalibrationRow) -> None:
    """A/A and injected-slowdown trials of the model's fastest FP32 variant here."""
    if row.trials == 0:
        row.latency_skip = "verdicts.calibration_trials is 0 (set it, e.g. 100, to calibrate on this machine)"
        return
    found = _fastest_call(bench, row.model)
    if found is None:
        row.latency_skip = f"{row.model}: neither ONNX Runtime nor PyTorch can run it here"
        return
    variant, runner = found
    row.timed = variant.slug
    x = bench.input_batch(variant, 1)
    call = functools.partial(runner, x)
    lat, level = bench.config.latency, bench.config.verdicts.latency_confidence
    rounds = (lat.interleaved_rounds, lat.warmup, level)
    row.latency["A/A"] = latency_trials(call, call, row.trials, *rounds)
    load = lambda: functools.partial(bench.fresh_runner(variant), x)
    row.latency[TWO_LOADS], row.latency[TWO_LOADS_CONFIRMED] = load_trials(load, row.trials, *rounds)
    row.latency[SLOWDOWN_CASE] = latency_trials(slowed(call, SLOWDOWN), call, row.trials, *rounds)
    row.latency[SLOWDOWN_LOADS], row.latency[SLOWDOWN_LOADS_CONFIRMED] = load_trials(
        load, row.trials, *rounds, slowdown=SLOWDOWN
    )


def _fastest_call(bench: Bench, model: str) -> tuple[Variant, Runner] | None:
    """The model's fastest FP32 variant here (ONNX Runtime, else PyTorch) and its batch-1 runner."""
    reference = bench.reference(model)
    for variant in (reference.unpruned(backend="onnxruntime"), reference):
        try:
            return variant, bench.runner(variant)
        except BackendUnavailable:
            continue
    return None


def _measure_accuracy(bench: Bench, row: CalibrationRow) -> None:
    """The reference's detections degraded to cost one point of mAP50-95, and the reference itself."""
    reference = bench.reference(row.model)
    row.reference = reference.slug
    base = bench.accuracy(reference).map50_95
    if base < 0.05:
        row.accuracy_skip = (
            f"{reference.slug}: mAP50-95 {base:.4f} leaves no point to lose (an untrained model)"
        )
        return
    dets, gts = bench.detections(reference)
    worse, lost = degrade_to(dets, gts, ACCURACY_LOSS)
    verdicts = bench.config.verdicts
    ref = bench.matches(reference)
    level, draws = verdicts.accuracy_confidence, verdicts.accuracy_resamples
    flagged, interval = accuracy_flags(MatchTable.build(worse, gts), ref, level, draws)
    itself, same = accuracy_flags(ref, ref, level, draws)
    row.accuracy = AccuracyFlags(flagged, interval, itself, same, lost)


def _accuracy_bar(row: CalibrationRow) -> Bar:
    """The degraded detections are flagged (FAIL); the reference against itself is not (PASS)."""
    if row.accuracy is None:
        return Bar.skipped("map_loss", row.accuracy_skip)
    flags = row.accuracy
    return Bar("map_loss", (
        _verdict_check("aa_accuracy", row.reference, "against itself", flags.itself, Verdict.PASS, flags.same),
        _verdict_check("loss_flagged", row.reference, f"degraded by {flags.lost:.4f}", flags.flagged, Verdict.FAIL,
                       flags.drop),
    ))  # fmt: skip


def _verdict_check(
    name: str, subject: str, what: str, got: Verdict, wanted: Verdict, interval: Interval
) -> CheckResult:
    """A check that an accuracy verdict came out as ``wanted`` (the drop interval is its evidence)."""
    ok = got is wanted
    message = f"{subject} {what}: mAP50-95 drop {interval.describe(4)}: {got.value} ({'as' if ok else 'not'} expected: {wanted.value})"
    return CheckResult(name, ok, subject, "map50_95", interval.estimate, 0.0, None, None, message, interval)
