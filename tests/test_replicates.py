"""Training-seed replicates: which side of a comparison is trained again, and at which seeds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.config import HarnessConfig, load_config
from harness.matrix import build_variants, control_recipe, data_recipe
from harness.recipes import DistillRecipe, PruneRecipe, TrainRecipe, Variant, WeightsRecipe
from harness.replicates import ancestors, replicate, replicated_pairs, trained_here


@pytest.fixture()
def config(tmp_path: Path) -> HarnessConfig:
    """The default profile (recipes only: nothing is built)."""
    (tmp_path / "harness.toml").write_text('profile = "default"\n')
    return load_config(tmp_path)


def _find(config: HarnessConfig, slug: str) -> Variant:
    return next(v for v in build_variants(config) if v.slug == slug)


def _seed(variant: Variant) -> int:
    source = variant.source
    assert isinstance(source, TrainRecipe | PruneRecipe | DistillRecipe)
    return source.seed


def test_default_profile_decides_on_two_seeds_and_full_on_three(tmp_path: Path) -> None:
    assert load_config(tmp_path).verdicts.training_seeds == 2  # no config file: the default profile
    (tmp_path / "harness.toml").write_text('profile = "full"\n')
    assert load_config(tmp_path).verdicts.training_seeds == 3


def test_a_pruned_model_is_fine_tuned_again_and_its_reference_stays(config: HarnessConfig) -> None:
    """The reference is the pruning's input (like a user's best.pt): only the fine-tune is replicated."""
    pruned, reference = (
        _find(config, "yolo11n-p30-l1-ft8-fp32-onnxruntime"),
        _find(config, "yolo11n-p00-fp32-torch"),
    )
    pairs = replicated_pairs(reference, pruned, 2)
    assert [t for t, _ in pairs] == [reference, reference]
    assert [_seed(c) for _, c in pairs] == [config.seed, config.seed + 1]
    again = pairs[1][1]
    assert isinstance(again.source, PruneRecipe) and again.source.source == pruned.source.source
    assert again.slug == pruned.slug and again.source.key() != pruned.source.key()


def test_kd_and_its_control_are_replicated_seed_for_seed(config: HarnessConfig) -> None:
    kd = next(v for v in build_variants(config) if v.distill is not None)
    assert isinstance(kd.source, DistillRecipe)
    fair = control_recipe(kd.source.student, data_recipe(config), config.model("yolo11n"), config)
    assert isinstance(fair, PruneRecipe)
    control = dataclasses.replace(kd, source=fair, prune=fair.spec, distill=None)
    pairs = replicated_pairs(kd, control, 3)
    assert [(_seed(t), _seed(c)) for t, c in pairs] == [(s, s) for s in range(config.seed, config.seed + 3)]
    # against its reference (the teacher and the pruning's input) only the student is trained again
    to_reference = replicated_pairs(kd.reference(), kd, 3)
    assert {t for t, _ in to_reference} == {kd.reference()} and len({c for _, c in to_reference}) == 3
    assert kd.reference().source.key() in ancestors(kd.source)


def test_sibling_training_stages_are_both_replicated_from_the_same_first_stage(config: HarnessConfig) -> None:
    """+Multi-scale training repeats the reference's last stage: both stages at every seed, the
    shared 160 px first stage never trained again."""
    reference = _find(config, "yolo11n-p00-fp32-onnxruntime")
    assert isinstance(reference.source, TrainRecipe) and reference.source.init is not None
    scaled = dataclasses.replace(
        reference, source=dataclasses.replace(reference.source, hyp=(("multi_scale", 0.5),))
    )
    pairs = replicated_pairs(scaled, reference, 2)
    assert [(_seed(t), _seed(c)) for t, c in pairs] == [(0, 0), (1, 1)]
    for treated, control in pairs:
        assert isinstance(treated.source, TrainRecipe) and isinstance(control.source, TrainRecipe)
        assert treated.source.init == control.source.init == reference.source.init


def test_nothing_trained_means_one_pair(config: HarnessConfig) -> None:
    """An INT8 graph of the reference, or TTA, is the same checkpoint: no training, no replicates."""
    reference = _find(config, "yolo11n-p00-fp32-torch")
    int8 = next(v for v in build_variants(config) if v.precision == "int8" and v.prune is None)
    assert replicated_pairs(reference, int8, 3) == [(reference, int8)]
    weights = dataclasses.replace(reference, source=WeightsRecipe(sha256="ab"))
    assert not trained_here(weights.source) and replicate(weights, 2) == weights
    assert replicate(reference, 0) == reference


def test_a_pruning_without_fine_tune_is_not_trained(config: HarnessConfig) -> None:
    pruned = _find(config, "yolo11n-p30-l1-ft8-fp32-torch")
    assert isinstance(pruned.source, PruneRecipe)
    raw = dataclasses.replace(pruned.source, spec=dataclasses.replace(pruned.source.spec, finetune_epochs=0))
    assert trained_here(pruned.source) and not trained_here(raw)
