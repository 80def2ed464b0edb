"""Kept channel counts under Torch-Pruning's rounding ("down") and the nearest multiple."""

from __future__ import annotations

import pytest

from harness.prune.rounding import kept_channels


@pytest.mark.parametrize(
    ("channels", "ratio", "round_to", "down", "nearest"),
    [
        (64, 0.5, 16, 32, 32),  # exact multiples: both rules agree
        (64, 0.6, 16, 16, 32),  # 25.6 kept: down removes 75 %, nearest 50 %
        (32, 0.6, 16, 32, 16),  # 12.8: down would empty the layer, so it stays whole
        (16, 0.6, 16, 16, 16),  # 6.4: nearest keeps at least one multiple, here the whole layer
        (256, 0.6, 8, 96, 104),  # 102.4
        (64, 0.625, 16, 16, 32),  # 24.0 is half-way: nearest rounds up
        (100, 0.3, None, 70, 70),  # no rounding
    ],
)
def test_kept_channels_down_and_nearest(
    channels: int, ratio: float, round_to: int | None, down: int, nearest: int
) -> None:
    assert kept_channels(channels, ratio, round_to, "down") == down
    assert kept_channels(channels, ratio, round_to, "nearest") == nearest


def test_an_unknown_rounding_is_refused() -> None:
    with pytest.raises(ValueError, match="rounding must be one of"):
        kept_channels(64, 0.5, 16, "up")
