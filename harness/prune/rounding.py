"""How many channels a dependency group keeps when kept counts are rounded to a multiple.

Torch-Pruning 1.6 rounds the channels a group keeps **down** to a multiple of ``round_to``
(``BasePruner._round_to``), and a group that rounding would empty is left whole. Above 50 % that
makes uniform pruning non-monotonic on the narrow layers of small detectors: at 60 % with
``round_to = 16`` a 64-channel layer keeps 16 (75 % removed) while a 32-channel layer keeps all 32.
``"nearest"`` rounding keeps the multiple nearest to ``channels * (1 - ratio)`` instead, at least
one multiple, at most the whole group: 64 -> 32 and 32 -> 16 at 60 %. It reaches Torch-Pruning as
its public per-layer ratios (``pruning_ratio_dict``), one per group, with rounding switched off
there, so the channels removed within each group are still ranked by the criterion.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from harness.recipes import PRUNE_CHOICES

if TYPE_CHECKING:
    import torch_pruning as tp
    from torch import nn

ROUNDINGS: tuple[str, ...] = PRUNE_CHOICES["rounding"]
"""How kept channel counts are rounded to ``round_to``: Torch-Pruning's own ("down") or "nearest"."""


def nearest_kept(channels: int, ratio: float, round_to: int | None) -> int:
    """Channels a group of ``channels`` keeps after removing ``ratio`` of them, "nearest" rounding.

    The multiple of ``round_to`` nearest to ``channels * (1 - ratio)`` (halves round up), at least
    ``round_to``, at most ``channels``. (Torch-Pruning's own "down" rule, ``int(channels * (1 -
    ratio))`` rounded down and the whole group when that is 0, is its pruner's and is not restated
    here.)
    """
    step = round_to or 1
    return min(channels, max(step, math.floor(channels * (1.0 - ratio) / step + 0.5) * step))


def nearest_ratios(
    pruner: tp.pruner.BasePruner, ratio: float, round_to: int | None, heads: dict[nn.Module, int]
) -> dict[nn.Module, float]:
    """Per-group ratios for Torch-Pruning's ``pruning_ratio_dict`` that keep the nearest multiple.

    ``pruner`` is a uniform pruner already built over the model (its dependency graph names the
    groups); ``heads`` maps attention convolutions to their head count (channels are counted per
    head, as Torch-Pruning ranks them). Each group's root module gets the ratio at which
    Torch-Pruning's ``int(size * (1 - r))`` is exactly the kept count (half a channel of margin
    against float error); a group kept whole gets 0.
    """
    graph = pruner.DG
    ratios: dict[nn.Module, float] = {}
    for group in graph.get_all_groups(
        ignored_layers=pruner.ignored_layers, root_module_types=pruner.root_module_types
    ):
        root = group[0].dep.target.module
        channels = graph.get_out_channels(root)
        if channels is None:
            continue
        size = channels // heads.get(root, 1)
        kept = nearest_kept(size, ratio, round_to)
        ratios[root] = 0.0 if kept >= size else 1.0 - (kept + 0.5) / size
    return ratios
