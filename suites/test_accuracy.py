"""Accuracy of every variant: mAP on the val split through the one shared evaluation path.

Budgets: mAP50-95 drop against the same run's FP32 PyTorch reference, and against the stored
baseline of the same variant (compared even when the baseline came from another machine).
"""

from __future__ import annotations

from harness.recipes import Variant
from harness.runstate import RunState
from harness.variant_checks import accuracy_checks


def test_accuracy(variant: Variant, harness_state: RunState) -> None:
    """Measure mAP50 / mAP50-95 and check the accuracy budgets."""
    harness_state.enforce(harness_state.call(accuracy_checks, variant))
