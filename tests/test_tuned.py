"""The reference trained as long: which stages are replayed on the reference, with which arguments."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.config import HarnessConfig, load_config
from harness.matrix import build_variants
from harness.measure.stats import Interval
from harness.recipes import DistillRecipe, PruneRecipe, TrainRecipe, Variant, WeightsRecipe
from harness.replicates import replicated_pairs
from harness.tuned import (
    Stage,
    replay,
    stages_after,
    tuned_control,
    tuned_reference,
    tuned_skip,
    tuned_source,
)


@pytest.fixture()
def config(tmp_path: Path) -> HarnessConfig:
    """The embedded default's recipes (nothing is built)."""
    return load_config(tmp_path, profile="default")


@pytest.fixture()
def matrix(config: HarnessConfig) -> dict[str, Variant]:
    """Its variants by slug."""
    return {v.slug: v for v in build_variants(config)}


def _with_tuned_reference(config: HarnessConfig, on: bool) -> HarnessConfig:
    """``config`` with ``[verdicts] tuned_reference`` set to ``on``."""
    return dataclasses.replace(config, verdicts=dataclasses.replace(config.verdicts, tuned_reference=on))


def test_a_pruned_variant_is_set_against_the_reference_fine_tuned_alike(
    config: HarnessConfig, matrix: dict[str, Variant]
) -> None:
    pruned = matrix["yolo11n-p30-l1-ft8-fp32-onnxruntime"]
    recipe = pruned.source
    assert isinstance(recipe, PruneRecipe)
    tuned = tuned_reference(pruned, config)
    assert tuned is not None and tuned.prune is None and tuned.distill is None
    assert (tuned.backend, tuned.precision, tuned.quant) == ("torch", "fp32", None)
    source = tuned.source
    assert isinstance(source, TrainRecipe) and source.init == recipe.source  # the reference itself
    assert (source.epochs, source.hyp, source.seed) == (8, recipe.hyp, recipe.seed)
    assert (source.data, source.batch, source.imgsz) == (recipe.data, recipe.batch, recipe.imgsz)


def test_the_kd_student_and_its_pruned_twin_are_each_set_against_their_own_length(
    config: HarnessConfig, matrix: dict[str, Variant]
) -> None:
    """Default profile: the student is pruned without fine-tune, then distilled 4 epochs with the
    fine-tune's arguments; the pruned variant fine-tunes 8. Each one's reference trained as long
    trains its own epochs: the same arguments, a different length, so two trainings per seed."""
    kd = next(v for v in matrix.values() if v.distill is not None)
    assert isinstance(kd.source, DistillRecipe)
    (stage,) = stages_after(kd.source, kd.reference().source) or []
    assert (stage.epochs, stage.hyp) == (kd.source.spec.epochs, kd.source.hyp) and stage.epochs == 4
    pruned = matrix["yolo11n-p30-l1-ft8-fp32-torch"]
    kd_tuned, pruned_tuned = tuned_source(kd, config), tuned_source(pruned, config)
    assert isinstance(kd_tuned, TrainRecipe) and isinstance(pruned_tuned, TrainRecipe)
    assert (kd_tuned.epochs, pruned_tuned.epochs) == (4, 8)
    assert dataclasses.replace(kd_tuned, epochs=8) == pruned_tuned


def test_every_pruning_step_is_replayed_at_its_own_seed(
    config: HarnessConfig, matrix: dict[str, Variant]
) -> None:
    pruned = matrix["yolo11n-p30-l1-ft8-fp32-torch"]
    assert isinstance(pruned.source, PruneRecipe)
    stepped = dataclasses.replace(pruned.source, spec=dataclasses.replace(pruned.source.spec, steps=3))
    source = tuned_source(dataclasses.replace(pruned, source=stepped, prune=stepped.spec), config)
    seeds, start = [], source
    while isinstance(start, TrainRecipe) and start != pruned.reference().source:
        seeds.append(start.seed)
        start = start.init
    assert start == pruned.reference().source and seeds == [stepped.seed + 2, stepped.seed + 1, stepped.seed]


def test_nothing_trained_after_the_reference_has_no_control(
    config: HarnessConfig, matrix: dict[str, Variant]
) -> None:
    reference = matrix["yolo11n-p00-fp32-torch"]
    int8 = next(v for v in matrix.values() if v.precision == "int8" and v.prune is None)
    pruned = matrix["yolo11n-p30-l1-ft8-fp32-torch"]
    assert isinstance(pruned.source, PruneRecipe)
    raw = pruned.source.spec.without_finetune()
    unfinetuned = dataclasses.replace(pruned, source=dataclasses.replace(pruned.source, spec=raw), prune=raw)
    assert [tuned_reference(v, config) for v in (reference, int8, unfinetuned)] == [None, None, None]
    assert stages_after(reference.source, pruned.source) is None  # not built from it


def test_a_users_weights_are_the_start(tmp_path: Path) -> None:
    """A user's best.pt is fine-tuned as the pruned model was (the arguments stored in it): the
    control starts from the file and replays each stage in turn."""
    from user_checkpoints import save_checkpoint

    save_checkpoint(tmp_path / "best.pt")
    (tmp_path / "harness.toml").write_text(
        'profile = "quick"\n[matrix]\nprune = [0.0, 0.3]\n[pruning]\nfinetune_epochs = 2\n'
        '[[models]]\nname = "mine"\nweights = "best.pt"\n'
    )
    config = load_config(tmp_path)
    pruned = next(v for v in build_variants(config) if v.prune is not None)
    assert isinstance(pruned.source, PruneRecipe) and isinstance(pruned.source.source, WeightsRecipe)
    tuned = tuned_source(pruned, config)
    assert tuned is not None and tuned.init == pruned.source.source
    assert (tuned.epochs, tuned.hyp, tuned.seed) == (2, pruned.source.hyp, pruned.source.seed)
    stage = Stage(3, (("lr0", 0.001),), pruned.source.data, 4, 96, 7)
    twice = replay(pruned.source.source, [stage, stage], "mine", config)
    assert isinstance(twice.init, TrainRecipe) and twice.init.init == pruned.source.source
    assert (twice.epochs, twice.hyp, twice.batch, twice.imgsz, twice.seed) == (3, (("lr0", 0.001),), 4, 96, 7)


def test_the_control_is_replicated_seed_for_seed_with_the_pruned_variant(
    config: HarnessConfig, matrix: dict[str, Variant]
) -> None:
    pruned = matrix["yolo11n-p30-l1-ft8-fp32-torch"]
    tuned = tuned_reference(pruned, config)
    assert tuned is not None
    pairs = replicated_pairs(tuned, pruned, 2)
    seeds = [(t.source.seed, p.source.seed) for t, p in pairs]  # type: ignore[union-attr]
    assert seeds == [(config.seed, config.seed), (config.seed + 1, config.seed + 1)]


def test_replaying_no_stage_is_refused(config: HarnessConfig, matrix: dict[str, Variant]) -> None:
    reference = matrix["yolo11n-p00-fp32-torch"].source
    assert isinstance(reference, TrainRecipe)
    with pytest.raises(ValueError, match="at least one training stage"):
        replay(reference, [], "yolo11n", config)


def test_the_control_is_built_only_where_the_verdicts_ask_for_it(
    config: HarnessConfig, matrix: dict[str, Variant]
) -> None:
    pruned = matrix["yolo11n-p30-l1-ft8-fp32-torch"]
    on, off = _with_tuned_reference(config, True), _with_tuned_reference(config, False)
    assert tuned_control(pruned, on) == tuned_reference(pruned, on) is not None
    assert tuned_control(pruned, off) is None
    assert tuned_control(matrix["yolo11n-p00-fp32-torch"], on) is None  # nothing trained after it


def test_a_bar_against_the_tuned_reference_says_why_it_was_not_judged(config: HarnessConfig) -> None:
    on, off = _with_tuned_reference(config, True), _with_tuned_reference(config, False)
    drop = Interval(0.02, 0.01, 0.03, 0.95)
    assert "tuned_reference = false" in (tuned_skip("s", off, drop, 0.01, "max_map_drop") or "")
    assert "not built from it alone" in (tuned_skip("s", on, None, 0.01, "max_map_drop") or "")
    unbounded = tuned_skip("s", on, drop, None, "max_map_drop")
    assert (
        unbounded
        == "s: drop +0.0200 below the reference trained as long recorded; no max_map_drop set for it"
    )
    assert tuned_skip("s", on, drop, 0.01, "max_map_drop") is None
