"""Training-seed replicates: claims about training outcomes judged on more than one seed.

A pruned model's recovery, a KD student's gain over its control, a multi-scale training row: each
compares models that this run *trained*, and one seed's difference mixes the effect with that
seed's luck. Here a comparison of ``treated`` against ``control`` replicates every side that the
run trains itself, at ``verdicts.training_seeds`` seeds (``seed``, ``seed + 1``, ...), and judges
the mean difference over seeds and val images (:func:`harness.measure.seeds.replicate_difference`).

A side is replicated when its outermost build step is a training the harness runs (a training
stage, a pruning fine-tune, a distillation) and it is not what the other side was built from: the
reference a model was pruned or distilled from is the input of that claim, fixed, exactly like a
user's ``best.pt``. Two siblings (a KD student and its control, multi-scale training and the plain
stage it repeats) are both replicated, seed for seed. Sides with the same checkpoint (an INT8 or
TTA row against its reference) involve no training and keep the val-image interval.
"""

from __future__ import annotations

import dataclasses

from harness.bench import Bench
from harness.measure.seeds import replicate_difference
from harness.measure.stats import Interval
from harness.recipes import DistillRecipe, PruneRecipe, SourceRecipe, TrainRecipe, Variant

__all__ = ["ancestors", "replicate", "replicated_pairs", "trained_here", "training_difference"]


def trained_here(source: SourceRecipe) -> bool:
    """Whether the source's outermost build step is a seeded training run by the harness."""
    if isinstance(source, PruneRecipe):
        return source.spec.finetune_epochs > 0
    return isinstance(source, TrainRecipe | DistillRecipe)


def replicate(variant: Variant, offset: int) -> Variant:
    """``variant`` with its outermost training at seed + ``offset`` (itself for offset 0 or when
    nothing of it is trained here; earlier stages keep their seed)."""
    source = variant.source
    if offset == 0 or not trained_here(source):
        return variant
    assert isinstance(source, TrainRecipe | PruneRecipe | DistillRecipe)
    return dataclasses.replace(variant, source=dataclasses.replace(source, seed=source.seed + offset))


def ancestors(source: SourceRecipe) -> set[str]:
    """Cache keys of every checkpoint ``source`` was built from (not itself)."""
    parents: list[SourceRecipe] = []
    if isinstance(source, DistillRecipe):
        parents = [source.student, source.teacher]
    elif isinstance(source, PruneRecipe):
        parents = [source.source]
    elif isinstance(source, TrainRecipe) and source.init is not None:
        parents = [source.init]
    keys = {p.key() for p in parents}
    for parent in parents:
        keys |= ancestors(parent)
    return keys


def replicated_pairs(treated: Variant, control: Variant, seeds: int) -> list[tuple[Variant, Variant]]:
    """The ``(treated, control)`` pairs to score, one per seed (a single pair when neither side
    is trained here, or both are the same checkpoint)."""
    if treated.source.key() == control.source.key():
        return [(treated, control)]
    moves = (_replicated(treated, control), _replicated(control, treated))
    if not any(moves):
        return [(treated, control)]
    return [
        (replicate(treated, r) if moves[0] else treated, replicate(control, r) if moves[1] else control)
        for r in range(seeds)
    ]


def _replicated(side: Variant, other: Variant) -> bool:
    return trained_here(side.source) and side.source.key() not in ancestors(other.source)


def training_difference(bench: Bench, treated: Variant, control: Variant) -> Interval:
    """Interval of mAP50-95(treated) - mAP50-95(control): over training seeds and val images where
    a side is trained here (``n`` counts seeds), else a paired bootstrap over val images."""
    verdicts = bench.config.verdicts
    pairs = replicated_pairs(treated, control, verdicts.training_seeds)
    tables = [(bench.matches(t), bench.matches(c)) for t, c in pairs]
    return replicate_difference(tables, verdicts.accuracy_confidence, verdicts.accuracy_resamples)
