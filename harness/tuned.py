"""The reference trained as long: the fair control of a variant that trained after the reference.

A pruned model fine-tuned N epochs, or a student distilled N epochs, has had training that the
reference never had. When the reference has not converged (a short demo training, a user's
checkpoint stopped early) that training alone raises mAP, and a drop measured against the
reference hides what pruning or distillation cost: on this repository's 23-epoch yolo11n reference
a p65 student fine-tuned 160 epochs came out 0.013 *above* the reference, while the reference
fine-tuned 30 epochs with the same arguments was 0.019 above the student.

:func:`tuned_source` replays on the reference every training stage the variant ran after it: each
pruning step's fine-tune and the distillation, with the same epochs, Ultralytics arguments, data,
batch, image size and seed, without pruning and without a teacher. :func:`tuned_reference` is that
checkpoint as an FP32 PyTorch variant; :func:`tuned_control` is it where ``[verdicts]
tuned_reference`` asks for it, and :func:`tuned_skip` says why a bar against it is not judged.
Replicated at another training seed
(:func:`harness.replicates.replicate`) only its last stage moves, as only a variant's outermost
training does; with one stage (one pruning step, or KD from an unpruned student) the two match
seed for seed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from harness.config import HarnessConfig
from harness.matrix import finetune_recipe
from harness.measure.stats import Interval
from harness.recipes import (
    DataRecipe,
    DistillRecipe,
    PruneRecipe,
    SourceRecipe,
    TrainRecipe,
    Variant,
    WeightsRecipe,
)

__all__ = [
    "Stage",
    "replay",
    "stages_after",
    "tuned_control",
    "tuned_reference",
    "tuned_skip",
    "tuned_source",
]


@dataclass(frozen=True)
class Stage:
    """One training a variant ran: epochs, Ultralytics arguments, data, batch, image size, seed."""

    epochs: int
    hyp: tuple[tuple[str, object], ...]
    data: DataRecipe
    batch: int
    imgsz: int
    seed: int


def stages_after(source: SourceRecipe, reference: SourceRecipe) -> list[Stage] | None:
    """The trainings ``source`` ran after ``reference``, oldest first (None: ``source`` is not
    built from ``reference`` by pruning and distillation alone)."""
    if source == reference:
        return []
    if isinstance(source, PruneRecipe):
        before = stages_after(source.source, reference)
        epochs = source.spec.finetune_epochs
        steps = source.spec.steps if epochs else 0  # each step's fine-tune at seed + step
        own = [_stage(source, epochs, source.seed + step) for step in range(steps)]
        return None if before is None else before + own
    if isinstance(source, DistillRecipe):
        before = stages_after(source.student, reference)
        return None if before is None else [*before, _stage(source, source.spec.epochs, source.seed)]
    return None


def _stage(recipe: PruneRecipe | DistillRecipe, epochs: int, seed: int) -> Stage:
    return Stage(epochs, recipe.hyp, recipe.data, recipe.batch, recipe.imgsz, seed)


def replay(
    start: TrainRecipe | WeightsRecipe, stages: list[Stage], model: str, config: HarnessConfig
) -> TrainRecipe:
    """``start`` trained through ``stages`` in turn, each from the last one's weights."""
    if not stages:
        raise ValueError("replay needs at least one training stage")
    spec = config.model(model)
    tuned: TrainRecipe | WeightsRecipe = start
    for stage in stages:
        tuned = dataclasses.replace(
            finetune_recipe(tuned, stage.epochs, stage.data, spec, config),
            hyp=stage.hyp, batch=stage.batch, imgsz=stage.imgsz, seed=stage.seed,
        )  # fmt: skip
    assert isinstance(tuned, TrainRecipe)
    return tuned


def tuned_source(variant: Variant, config: HarnessConfig) -> TrainRecipe | None:
    """The reference of ``variant`` trained through every stage ``variant`` trained after it (None:
    it trained nothing after the reference, or it is not built from the reference alone)."""
    reference = variant.reference().source
    found = stages_after(variant.source, reference)
    if not found or not isinstance(reference, TrainRecipe | WeightsRecipe):
        return None
    return replay(reference, found, variant.model, config)


def tuned_reference(variant: Variant, config: HarnessConfig) -> Variant | None:
    """:func:`tuned_source` as the FP32 PyTorch variant it is scored as (None: no such control)."""
    source = tuned_source(variant, config)
    return None if source is None else dataclasses.replace(variant.reference(), source=source)


def tuned_control(variant: Variant, config: HarnessConfig) -> Variant | None:
    """:func:`tuned_reference` where ``[verdicts] tuned_reference`` is on (None: off, or no such
    control)."""
    return tuned_reference(variant, config) if config.verdicts.tuned_reference else None


def tuned_skip(
    slug: str, config: HarnessConfig, drop: Interval | None, limit: float | None, budget: str
) -> str | None:
    """Why a bar against the reference trained as long is not judged for ``slug`` (None: it is).

    ``drop`` is the measured drop below that reference (None: no control), ``limit`` the bar and
    ``budget`` the name of the setting that would give one."""
    if not config.verdicts.tuned_reference:
        return f"{slug}: not measured ([verdicts] tuned_reference = false)"
    if drop is None:
        return f"{slug}: no control: nothing trained after the reference, or not built from it alone"
    if limit is None:
        return (
            f"{slug}: drop {drop.estimate:+.4f} below the reference trained as long recorded; "
            f"no {budget} set for it"
        )
    return None
