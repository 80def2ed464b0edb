"""Calibration of the verdicts on this machine (``harness.calibration``).

- ``test_latency_false_alarms``: the model's fastest FP32 variant against itself,
  ``verdicts.calibration_trials`` times; at most 1 % may fail a 1.0x minimum speedup.
- ``test_latency_detects_slowdown``: the same variant made 10 % slower (each call busy-waits 10 %
  of its own time); at least 95 % of the trials must fail it.
- ``test_map_loss_flagged``: the reference's val detections degraded to cost one point of
  mAP50-95 are flagged; the reference against itself never is.

The two latency tests take ``trials`` interleaved comparisons each (about 3 minutes each at 100
trials of 40 rounds here), so the default profile sets no trials and they skip; the full profile
runs 100.
"""

from __future__ import annotations

import pytest

from harness.calibration import accuracy_flags, degrade_to, latency_trials, slowed
from harness.measure.mapboot import MatchTable
from harness.measure.stats import Verdict
from harness.runstate import RunState


def _trials(harness_state: RunState) -> int:
    trials = harness_state.config.verdicts.calibration_trials
    if trials == 0:
        pytest.skip("verdicts.calibration_trials is 0 (set it, e.g. 100, to calibrate on this machine)")
    return trials


@pytest.mark.harness_timing
def test_latency_false_alarms(model_name: str, harness_state: RunState) -> None:
    """A/A: at most 1 % of the comparisons of a variant against itself fail."""
    trials = _trials(harness_state)
    call, name = harness_state.calibration_call(model_name)
    result = latency_trials(call, call, trials, *_lat(harness_state))
    harness_state.record_calibration(name, "A/A", result)
    assert result.failures <= 0.01 * trials, f"{name}: {result.failures}/{trials} A/A comparisons failed"


@pytest.mark.harness_timing
def test_latency_detects_slowdown(model_name: str, harness_state: RunState) -> None:
    """An injected 10 % slowdown fails in at least 95 % of the trials."""
    trials = _trials(harness_state)
    call, name = harness_state.calibration_call(model_name)
    result = latency_trials(slowed(call, 0.10), call, trials, *_lat(harness_state))
    harness_state.record_calibration(name, "+10 % (each call busy-waits 10 % of its own time)", result)
    assert result.failures >= 0.95 * trials, f"{name}: only {result.failures}/{trials} slowdowns caught"


def _lat(harness_state: RunState) -> tuple[int, int, float]:
    lat = harness_state.config.latency
    return lat.interleaved_rounds, lat.warmup, harness_state.config.verdicts.latency_confidence


def test_map_loss_flagged(model_name: str, harness_state: RunState) -> None:
    """A one-point mAP50-95 loss is flagged; the reference against itself is not."""
    session = harness_state.session()
    reference = next(v for v in session.variants if v.model == model_name).reference()
    dets, gts = session.detections(reference)
    base = session.accuracy(reference).map50_95
    if base < 0.05:
        pytest.skip(f"{reference.slug}: mAP50-95 {base:.4f} leaves no point to lose (an untrained model)")
    worse, lost = degrade_to(dets, gts, 0.01)
    verdicts = harness_state.config.verdicts
    ref = session.matches(reference)
    level, draws = verdicts.accuracy_confidence, verdicts.accuracy_resamples
    flagged, interval = accuracy_flags(MatchTable.build(worse, gts), ref, level, draws)
    itself, same = accuracy_flags(ref, ref, level, draws)
    harness_state.note(
        f"harness: accuracy verdict {reference.slug}: degraded by {lost:.4f}, drop {interval.describe(4)}: "
        f"{flagged.value}; against itself {same.describe(4)}: {itself.value}"
    )
    assert itself is Verdict.PASS, f"{reference.slug} flagged against itself: {same.describe(4)}"
    assert flagged is Verdict.FAIL, (
        f"{reference.slug}: a {lost:.4f} loss was not flagged: {interval.describe(4)}"
    )
