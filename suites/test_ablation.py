"""The ablation table: Baseline, +KD, +INT8, +Multi-scale training, +TTA, +Pruning, All combined.

Parametrized by ``ablation_row`` (model x row, ids like ``yolo11n-tta``); each row is built and
measured once (``harness.ablation``) and lands in the report's ablation table. A row whose
component this run's config does not have is skipped with its reason (and shown as ``-``).

Budget: the row's mAP50-95 drop against Baseline, as a paired bootstrap interval over the val
images, within the row's limit: the variant's own budget for +INT8, +Pruning and All combined
(``[budgets]``), ``ablation.max_map_drop`` for the techniques meant to add accuracy (+KD,
+Multi-scale training, +TTA). Baseline against itself is the accuracy verdict's A/A check.
"""

from __future__ import annotations

import pytest

from harness.ablation import AblationRow
from harness.budgets import Budget, check_map_drop
from harness.measure.stats import Interval
from harness.runstate import RunState

_OWN_BUDGET = ("+INT8", "+Pruning", "All combined")


@pytest.mark.harness_timing
def test_ablation_row(ablation_row: AblationRow, harness_state: RunState) -> None:
    """Measure the row; its mAP50-95 drop against Baseline stays within its limit."""
    figures = harness_state.measure_ablation(ablation_row)
    if "map50_95" not in figures:
        pytest.skip(f"{ablation_row.model} {ablation_row.name}: {figures['reason']}")
    variant = ablation_row.variant
    assert variant is not None
    config = harness_state.config
    if ablation_row.name in _OWN_BUDGET:
        budget = config.budgets.for_variant(variant.slug, variant.precision, variant.prune is not None)
    else:
        budget = Budget(max_map_drop=config.ablation.max_map_drop)
    low, high = figures["map_drop_ci"]
    value, reference = float(figures["map50_95"]), float(figures["baseline_map50_95"])
    drop = Interval(reference - value, low, high, config.verdicts.accuracy_confidence)
    check = check_map_drop(
        budget, f"{variant.slug} ({ablation_row.name})", value, reference, None, drop,
        config.verdicts.inconclusive_fails,
    )  # fmt: skip
    harness_state.enforce([check])
