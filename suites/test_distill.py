"""Knowledge distillation: each KD student against its fair control, in one run.

Parametrized by ``distill_case``: student x teacher x method from ``[distill]``, ids like
``yolo11n-p30-l1-kd-response-reference``. The control is the same starting checkpoint trained the
same epochs, seed, batch and data without the teacher (``harness.studies.distillation``). The tests check:

- gain: the KD student's mAP50-95 is at least the control's + the case's ``min_gain``;
- reference: where the case's bar sets ``max_reference_drop``, the KD student is within it of the
  student's unpruned reference;
- tuned: with ``[verdicts] tuned_reference``, where the bar sets ``max_reference_drop``, the KD
  student is within it of the reference trained as long (every stage the student trained after the
  reference, replayed on it with the same arguments and seeds: ``harness.tuned``), so that training
  an unconverged reference alone would do is not counted as recovery (skipped, with the reason,
  when not configured);
- cost: an epoch with the teacher takes at most ``max_epoch_ratio`` x a plain epoch.

The distilled variants also go through test_accuracy (budgets against the FP32 reference, and
baselines) and test_speed on ``distill.backends``.
"""

from __future__ import annotations

import pytest

from harness.results import DISTILLATION
from harness.runstate import RunState
from harness.studies import study
from harness.studies.distillation import DistillCase

# A case is measured as a whole (training, then teacher/control/KD latency interleaved) by whichever
# of these tests reaches it first on a worker, so every one of them may time: under xdist each runs alone.
pytestmark = pytest.mark.harness_timing


def test_kd_gain(distill_case: DistillCase, harness_state: RunState) -> None:
    """KD mAP50-95 >= control mAP50-95 + min_gain."""
    harness_state.judge(study(DISTILLATION), distill_case, "gain")


def test_kd_near_reference(distill_case: DistillCase, harness_state: RunState) -> None:
    """KD mAP50-95 >= unpruned reference - max_reference_drop (when the case's bar sets one)."""
    harness_state.judge(study(DISTILLATION), distill_case, "reference")


def test_kd_near_tuned_reference(distill_case: DistillCase, harness_state: RunState) -> None:
    """KD mAP50-95 >= the reference trained as long - max_reference_drop (when configured)."""
    harness_state.judge(study(DISTILLATION), distill_case, "tuned")


def test_kd_epoch_cost(distill_case: DistillCase, harness_state: RunState) -> None:
    """Seconds per epoch with the teacher <= max_epoch_ratio x seconds per plain epoch."""
    harness_state.judge(study(DISTILLATION), distill_case, "epoch_cost")
