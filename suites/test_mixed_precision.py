"""Mixed precision: keep the layer groups whose quantization costs the most measured mAP in float.

Subject: the model's worst ONNX Runtime static QDQ INT8 configuration in the matrix. Budget:
the search recovers at least ``mixed_precision.recover`` of that configuration's mAP50-95 loss
(and lands within the INT8 mAP budget) with at most ``max_steps`` layer groups in float. Judged like
every accuracy budget: the last step's drop against FP32 has a paired bootstrap interval over the
val images, the check fails only when the whole interval exceeds the drop the target allows, and
an interval that straddles it is inconclusive (``[verdicts] inconclusive`` decides). The report's
mixed-precision table lists every kept group with its held-out gain, mAP gain and speed cost.
"""

from __future__ import annotations

import pytest

from harness.results import MIXED_PRECISION
from harness.runstate import RunState
from harness.studies import study
from harness.studies.mixed_precision import MixedPrecisionCase

# The search times every step interleaved against full INT8: under pytest-xdist it runs alone.
pytestmark = pytest.mark.harness_timing


def test_mixed_precision(mixed_precision_case: MixedPrecisionCase, harness_state: RunState) -> None:
    """Search, record every step, and check that the target mAP was reached."""
    harness_state.judge(study(MIXED_PRECISION), mixed_precision_case, "target")
