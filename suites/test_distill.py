"""Knowledge distillation: each KD student against its fair control, in one run.

Parametrized by ``distill_case``: student x teacher x method from ``[distill]``, ids like
``yolo11n-p30-l1-kd-response-reference``. The control is the same starting checkpoint trained the
same epochs, seed, batch and data without the teacher (``harness.diststudy``). The tests check:

- gain: the KD student's mAP50-95 is at least the control's + the case's ``min_gain``;
- reference: where the case's bar sets ``max_reference_drop``, the KD student is within it of the
  student's unpruned reference;
- cost: an epoch with the teacher takes at most ``max_epoch_ratio`` x a plain epoch.

The distilled variants also go through test_accuracy (budgets against the FP32 reference, and
baselines) and test_speed on ``distill.backends``.
"""

from __future__ import annotations

import pytest

from harness.diststudy import DistillCase
from harness.runstate import RunState

# A case is measured as a whole (training, then teacher/control/KD latency interleaved) by whichever
# of these tests reaches it first on a worker, so every one of them may time: under xdist each runs alone.
pytestmark = pytest.mark.harness_timing


def test_kd_gain(distill_case: DistillCase, harness_state: RunState) -> None:
    """KD mAP50-95 >= control mAP50-95 + min_gain."""
    row = harness_state.measure_distillation(distill_case)
    kd, control, gain = row.maps["kd"], row.maps["control"], row.gain
    assert kd is not None and control is not None and gain is not None
    wanted = row.bar.min_gain if row.bar.min_gain is not None else 0.0
    assert gain >= wanted - 1e-9, (
        f"{distill_case.slug}: KD mAP50-95 {kd:.4f} vs control {control:.4f}: "
        f"gain {gain:+.4f} < {wanted:+.4f} "
        f"(teacher {row.maps['teacher']:.4f}, {row.spec.epochs} epochs each)"
    )


def test_kd_near_reference(distill_case: DistillCase, harness_state: RunState) -> None:
    """KD mAP50-95 >= unpruned reference - max_reference_drop (when the case's bar sets one)."""
    row = harness_state.measure_distillation(distill_case)
    limit = row.bar.max_reference_drop
    drop = row.reference_drop
    if limit is None:
        pytest.skip(
            f"{distill_case.slug}: reference drop {drop:+.4f} recorded; no bar sets max_reference_drop"
        )
    assert drop is not None
    assert drop <= limit + 1e-9, (
        f"{distill_case.slug}: KD mAP50-95 {row.maps['kd']:.4f} is {drop:.4f} below the unpruned reference "
        f"{row.maps['reference']:.4f} > {limit:.4f}"
    )


def test_kd_epoch_cost(distill_case: DistillCase, harness_state: RunState) -> None:
    """Seconds per epoch with the teacher <= max_epoch_ratio x seconds per plain epoch."""
    row = harness_state.measure_distillation(distill_case)
    ratio = row.epoch_ratio
    if ratio is None:
        pytest.skip(
            f"{distill_case.slug}: epoch time not measured: {'; '.join(row.notes) or 'no results.csv'}"
        )
    limit = harness_state.config.distill.max_epoch_ratio
    assert ratio <= limit, (
        f"{distill_case.slug}: {row.epoch_s['kd']:.1f} s per KD epoch vs "
        f"{row.epoch_s['control']:.1f} s plain = {ratio:.2f}x > {limit:.2f}x"
    )
