"""The mixed-precision search for ONNX Runtime INT8: put measured layer groups back in float.

The groups come ranked by the mAP50-95 each one alone takes back on held-out images
(:mod:`harness.builders.quantize.revert`); the search keeps the best 0, 1, 2, ... of them in
float (``OrtQuantRecipe.keep_float``, ONNX Runtime's own ``nodes_to_exclude``) and measures each
step until the target mAP holds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.builders.quantize.onnxruntime import OrtQuantRecipe
from harness.builders.quantize.revert import GroupGain

__all__ = ["MixedStep", "keep_float", "ranked", "search"]


@dataclass(frozen=True)
class MixedStep:
    """One point of the search: layer groups kept in float and what that measured."""

    kept: tuple[str, ...]  # group names, best first
    map50_95: float
    latency_ratio: float | None  # full-INT8 median / this step's median (same run): below 1 = slower
    latency_ms: float | None = None  # this step's median in that measurement


def ranked(groups: Sequence[GroupGain]) -> list[GroupGain]:
    """Every group, the largest share of full INT8's output error removed first (ties in graph
    order); groups that removed nothing still follow, since each group in float also takes its
    quantization noise out of the drop's interval, which the target must clear."""
    order = {g.name: i for i, g in enumerate(groups)}
    return sorted(groups, key=lambda g: (-g.gain, order[g.name]))


def keep_float(recipe: OrtQuantRecipe, groups: Sequence[GroupGain]) -> OrtQuantRecipe:
    """``recipe`` with every node of ``groups`` kept in float."""
    return dataclasses.replace(recipe, keep_float=tuple(n for g in groups for n in g.nodes))


def search(
    measure: Callable[[OrtQuantRecipe, tuple[str, ...]], MixedStep],
    recipe: OrtQuantRecipe,
    groups: Sequence[GroupGain],
    holds: Callable[[MixedStep], bool],
    max_steps: int,
) -> list[MixedStep]:
    """Measure k = 0, 1, 2, ... best groups in float until a step ``holds`` the target (or
    ``max_steps`` groups, or the groups, run out). ``measure`` gets the recipe and group names."""
    out: list[MixedStep] = []
    for k in range(min(max_steps, len(groups)) + 1):
        chosen = groups[:k]
        step = measure(keep_float(recipe, chosen), tuple(g.name for g in chosen))
        out.append(step)
        if holds(step):
            break
    return out
