"""Per-layer widths of a structured prune: what each convolution kept, and a summary of the spread.

The ratio asked for is not what every layer gets: each group's kept channels are rounded to a
multiple of ``round_to`` (``harness.prune.rounding``), and a group that rounding down would empty is
left whole, so single layers can keep far less or far more than ``1 - ratio`` (at 60 % with 16, a
64-channel layer keeps 25 % and a 32-channel layer 100 %). The widths are recorded per step in
``prune.json`` and per case in the pruning study, so that a user sees it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

Widths = dict[str, tuple[int, int]]
"""Convolution name -> (output channels before, after)."""


def conv_widths(model: nn.Module, skip: Iterable[nn.Module] = ()) -> dict[str, int]:
    """Output channels of every ``Conv2d`` of ``model`` by module name, except the ``skip`` modules."""
    from torch import nn

    skipped = {id(m) for m in skip}
    return {
        name: module.out_channels
        for name, module in model.named_modules()
        if isinstance(module, nn.Conv2d) and id(module) not in skipped
    }


def paired(before: Mapping[str, int], after: Mapping[str, int]) -> Widths:
    """(before, after) per convolution present in both."""
    return {name: (before[name], after[name]) for name in before if name in after}


def across_steps(steps: Sequence[Mapping[str, object]]) -> Widths | None:
    """Widths from the first step's before to the last step's after (None: a step did not record them,
    e.g. an artifact built before they were recorded, or unstructured pruning)."""
    recorded = [step.get("widths") for step in steps]
    if not steps or not all(isinstance(w, Mapping) and w for w in recorded):
        return None
    first, last = recorded[0], recorded[-1]
    assert isinstance(first, Mapping) and isinstance(last, Mapping)
    return {name: (int(first[name][0]), int(last[name][1])) for name in first if name in last}


def summary(widths: Widths | None) -> dict[str, float | None]:
    """``layers_whole`` (layers that kept every channel), ``layer_kept_min`` and ``layer_kept_max``
    (the smallest and largest fraction of its channels a layer kept); None when not recorded."""
    if not widths:
        return {"layers_whole": None, "layer_kept_min": None, "layer_kept_max": None}
    kept = [after / before for before, after in widths.values() if before > 0]
    return {
        "layers_whole": float(sum(after == before for before, after in widths.values())),
        "layer_kept_min": min(kept),
        "layer_kept_max": max(kept),
    }
