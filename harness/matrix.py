"""Expand a config into the variant matrix: models x prune x precision x backend."""

from __future__ import annotations

import functools
import itertools

from harness.build.data import synthetic_recipe, user_recipe
from harness.build.train import FINETUNE_HYP, REFERENCE_HYP, weights_recipe
from harness.config import HarnessConfig, ModelSpec
from harness.errors import ConfigError
from harness.recipes import DataRecipe, SourceRecipe, TrainRecipe, Variant
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


def build_variants(config: HarnessConfig) -> list[Variant]:
    """Every variant of the matrix, each model's FP32 PyTorch reference first."""
    _check_axes(config)
    data = data_recipe(config)
    out: list[Variant] = []
    m = config.matrix
    for model in config.models:
        source = source_recipe(model, data, config)
        variants = [
            Variant(model.name, source, prune, precision, backend, None, config.imgsz, quant)
            for prune, precision, backend in itertools.product(m.prune, m.precision, m.backend)
            for quant in (m.quant_for(backend) if precision == "int8" else (None,))
        ]
        out.extend(sorted(variants, key=lambda v: (not v.is_reference, v.prune, v.precision, v.backend)))
    return out


def _check_axes(config: HarnessConfig) -> None:
    """Axes the matrix accepts but no builder fills yet fail here, before anything runs."""
    unbuilt = [p for p in config.matrix.prune if p != 0.0]
    if unbuilt:
        raise ConfigError(
            f"matrix.prune contains {unbuilt}: no structured-pruning builder is registered in this "
            "version of the harness; use prune = [0.0]"
        )
