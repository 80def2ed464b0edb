"""The ablation table: Baseline, +KD, +INT8, +Multi-scale training, +TTA, +Pruning, All combined.

Parametrized by ``ablation_row`` (model x row, ids like ``yolo11n-tta``); each row is built and
measured once (:class:`harness.studies.ablation.AblationStudy`) and lands in the report's ablation
table. A row whose component this run's config does not have is skipped with its reason (and
shown as ``-``).

Budget: the row's mAP50-95 drop against Baseline, as a paired bootstrap interval over the val
images, within the row's limit: the variant's own budget for +INT8, +Pruning and All combined
(``[budgets]``), ``ablation.max_map_drop`` for the techniques meant to add accuracy (+KD,
+Multi-scale training, +TTA). Baseline against itself is the accuracy verdict's A/A check.
"""

from __future__ import annotations

import pytest

from harness.results import ABLATION
from harness.runstate import RunState
from harness.studies import study
from harness.studies.ablation import AblationRow


@pytest.mark.harness_timing
def test_ablation_row(ablation_row: AblationRow, harness_state: RunState) -> None:
    """Measure the row; its mAP50-95 drop against Baseline stays within its limit."""
    harness_state.judge(study(ABLATION), ablation_row, "map_drop")
