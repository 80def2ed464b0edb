"""Calibration of the verdicts on this machine (``harness.studies.verdict_calibration``).

- ``test_latency_false_alarms``: the model's fastest FP32 variant against itself,
  ``verdicts.calibration_trials`` times, and two fresh loads of it against each other as many
  times (each FAIL measured again on fresh pairs loaded in both orders, :mod:`harness.confirm`); at most 1 % of
  each may fail a 1.0x minimum speedup.
- ``test_latency_detects_slowdown``: the same variant made 10 % slower (each call busy-waits 10 %
  of its own time); at least 95 % of the trials must fail it; and as many comparisons of two
  fresh loads (every candidate load slowed): of those that FAIL, at least 95 % must FAIL again
  when measured on fresh pairs with three times the rounds (:mod:`harness.confirm`).
- ``test_map_loss_flagged``: the reference's val detections degraded to cost one point of
  mAP50-95 are flagged; the reference against itself never is.

The latency cases take ``trials`` interleaved comparisons each, and two loads one more (longer) on
each FAIL: 20 trials of the quick model at 96 px took 142 s on a 2-core EPYC (100, about 12 minutes),
yolo11n at 320 px several times that, so the default profile sets no trials and they skip; the full profile
runs 100.
"""

from __future__ import annotations

import pytest

from harness.results import VERDICT_CALIBRATION
from harness.runstate import RunState
from harness.studies import study
from harness.studies.verdict_calibration import CalibrationCase

# A case is measured as a whole (latency trials, then the accuracy check) by whichever of these
# tests reaches it first, so every one of them may time: under pytest-xdist each runs alone.
pytestmark = pytest.mark.harness_timing


def test_latency_false_alarms(calibration_case: CalibrationCase, harness_state: RunState) -> None:
    """A/A: at most 1 % of the comparisons of a variant against itself, and of two loads of it
    with FAILs confirmed, fail."""
    harness_state.judge(study(VERDICT_CALIBRATION), calibration_case, "false_alarms")


def test_latency_detects_slowdown(calibration_case: CalibrationCase, harness_state: RunState) -> None:
    """An injected 10 % slowdown fails in at least 95 % of the trials; of two loads, 95 % of the
    FAILs are confirmed."""
    harness_state.judge(study(VERDICT_CALIBRATION), calibration_case, "detects_slowdown")


def test_map_loss_flagged(calibration_case: CalibrationCase, harness_state: RunState) -> None:
    """A one-point mAP50-95 loss is flagged; the reference against itself is not."""
    harness_state.judge(study(VERDICT_CALIBRATION), calibration_case, "map_loss")
