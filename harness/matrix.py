"""Expand a config into the variant matrix: models x prune x precision x backend."""

from __future__ import annotations

import functools
import itertools

from harness.build.data import synthetic_recipe, user_recipe
from harness.build.prune import BUILDER_VERSION
from harness.build.train import FINETUNE_HYP, REFERENCE_HYP, weights_recipe
from harness.config import HarnessConfig, MatrixSpec, ModelSpec
from harness.errors import ConfigError
from harness.pruneconfig import PruningSpec
from harness.recipes import DataRecipe, PruneRecipe, PruneSpec, SourceRecipe, TrainRecipe, Variant
from harness.versions import versions


def data_recipe(config: HarnessConfig) -> DataRecipe:
    """The user's data.yaml when configured, else the built-in synthetic set."""
    if config.data is not None:
        return user_recipe(config.data)
    ds = config.dataset
    return synthetic_recipe(ds.seed, config.imgsz, ds.n_train, ds.n_val, ds.n_calib)


def source_recipe(model: ModelSpec, data: DataRecipe, config: HarnessConfig) -> SourceRecipe:
    """The checkpoint a model starts from: the user's weights, or a training run from a YAML."""
    if model.weights is not None:
        return weights_recipe(model.weights)
    if model.cfg is None:
        raise ConfigError(f"model {model.name!r} needs either 'weights' or 'cfg'")
    stage = functools.partial(
        TrainRecipe,
        cfg=model.cfg,
        data=data,
        batch=model.batch,
        seed=config.seed,
        versions=versions("torch", "ultralytics"),
        hyp=REFERENCE_HYP,
    )
    first = None
    if model.pre_epochs > 0:  # a cheap low-resolution stage, then the main stage from its weights
        pre_imgsz = model.pre_imgsz or max(32, model.train_imgsz // 64 * 32)
        first = stage(epochs=model.pre_epochs, imgsz=pre_imgsz)
    if first is None:
        return stage(epochs=model.epochs, imgsz=model.train_imgsz)
    return stage(epochs=model.epochs, imgsz=model.train_imgsz, init=first, hyp=REFERENCE_HYP + FINETUNE_HYP)


def prune_specs(matrix: MatrixSpec, pruning: PruningSpec) -> list[PruneSpec]:
    """Every pruning configuration of the matrix: ratio x criterion x strategy for structured
    pruning, ratio alone for unstructured (L1 per layer)."""
    ratios = [r for r in matrix.prune if r > 0.0]
    shared = {
        "round_to": pruning.round_to,
        "steps": pruning.steps,
        "finetune_epochs": pruning.finetune_epochs,
    }
    specs = []
    if "structured" in matrix.prune_method:
        specs += [
            PruneSpec(ratio, criterion, strategy, **shared)
            for ratio, criterion, strategy in itertools.product(
                ratios, matrix.prune_criterion, matrix.prune_strategy
            )
        ]
    if "unstructured" in matrix.prune_method:
        # Zeroed weights come back in ordinary training (no masks), so unstructured pruning is
        # measured as pruned, without fine-tuning.
        specs += [PruneSpec(ratio, method="unstructured") for ratio in ratios]
    return specs


def prune_recipe(
    source: SourceRecipe, spec: PruneSpec, data: DataRecipe, model: ModelSpec, config: HarnessConfig
) -> PruneRecipe:
    """Prune ``source`` by ``spec`` and fine-tune on ``data`` with the model's batch and seed."""
    if isinstance(source, PruneRecipe):
        raise ConfigError(f"model {model.name!r}: cannot prune an already pruned recipe")
    return PruneRecipe(
        source=source,
        data=data,
        spec=spec,
        imgsz=model.train_imgsz,
        batch=model.batch,
        seed=config.seed,
        versions=(*versions("torch", "ultralytics", "torch-pruning"), ("harness-prune", BUILDER_VERSION)),
        hyp=REFERENCE_HYP + FINETUNE_HYP,
        taylor_batches=config.pruning.taylor_batches if spec.criterion == "taylor" else 0,
    )


def build_variants(config: HarnessConfig) -> list[Variant]:
    """Every variant of the matrix, each model's FP32 PyTorch reference first."""
    data = data_recipe(config)
    out: list[Variant] = []
    m = config.matrix
    specs: list[PruneSpec | None] = [None] if 0.0 in m.prune else []
    specs += prune_specs(m, config.pruning)
    for model in config.models:
        source = source_recipe(model, data, config)
        variants = [
            Variant(
                model.name,
                _pruned(source, spec, data, model, config),
                spec,
                precision,
                backend,
                None,
                config.imgsz,
                quant,
            )  # fmt: skip
            for spec, precision, backend in itertools.product(specs, m.precision, m.backend)
            if spec is None or config.pruning.runs_on(backend, precision)
            for quant in (m.quant_for(backend) if precision == "int8" else (None,))
        ]
        out.extend(sorted(variants, key=_order))
    return out


def _order(variant: Variant) -> tuple[bool, float, str, str, str]:
    """Reference first, then by ratio, pruning, precision and backend (INT8 configurations keep
    their config order: the sort is stable)."""
    spec = variant.prune.slug if variant.prune else ""
    return (not variant.is_reference, variant.ratio, spec, variant.precision, variant.backend)


def _pruned(
    source: SourceRecipe, spec: PruneSpec | None, data: DataRecipe, model: ModelSpec, config: HarnessConfig
) -> SourceRecipe:
    return source if spec is None else prune_recipe(source, spec, data, model, config)
