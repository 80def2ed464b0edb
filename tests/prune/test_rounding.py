"""Kept channel counts under "nearest" rounding (Torch-Pruning's own "down" rule in the comments).

The pruner's real widths under both rules are pinned in ``tests/prune/test_structured.py``.
"""

from __future__ import annotations

import pytest

from harness.prune.rounding import nearest_kept


@pytest.mark.parametrize(
    ("channels", "ratio", "round_to", "nearest"),
    [
        (64, 0.5, 16, 32),  # exact multiple: "down" keeps 32 too
        (64, 0.6, 16, 32),  # 25.6 kept: "down" keeps 16 (75 % removed)
        (32, 0.6, 16, 16),  # 12.8: "down" would empty the layer, so it keeps all 32
        (16, 0.6, 16, 16),  # 6.4: at least one multiple, here the whole layer ("down" too)
        (256, 0.6, 8, 104),  # 102.4: "down" keeps 96
        (64, 0.625, 16, 32),  # 24.0 is half-way: rounds up ("down" keeps 16)
        (100, 0.3, None, 70),  # no rounding
    ],
)
def test_nearest_kept(channels: int, ratio: float, round_to: int | None, nearest: int) -> None:
    assert nearest_kept(channels, ratio, round_to) == nearest
