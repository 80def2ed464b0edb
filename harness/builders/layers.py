"""Build a layer-pruned checkpoint: residual blocks removed, then fine-tuned (:class:`LayerPruneRecipe`)."""

from __future__ import annotations

import json
from pathlib import Path

from harness.builders import BuildContext, builder, materialize
from harness.builders.prune import keep_model_trainer
from harness.builders.train import MODEL_FILE, FitArgs, fit
from harness.builders.weights import load_yolo, yolo_net
from harness.fsutil import atomic_write_text
from harness.recipes import LayerPruneRecipe

REPORT_FILE = "layers.json"


@builder(LayerPruneRecipe)
def _layer_prune(recipe: LayerPruneRecipe, ctx: BuildContext, tmp: Path) -> str:
    from harness.prune.layers import drop_blocks

    yolo = load_yolo(materialize(recipe.source, ctx))
    net = yolo_net(yolo)
    before = sum(p.numel() for p in net.parameters())
    removed = drop_blocks(net, recipe.blocks)
    ctx.log(
        f"harness: removed {len(recipe.blocks)} residual blocks ({removed} parameters); fine-tuning {recipe.finetune_epochs} epochs"
    )
    args = FitArgs(
        materialize(recipe.data, ctx),
        recipe.finetune_epochs,
        recipe.batch,
        recipe.imgsz,
        recipe.seed,
        recipe.hyp,
    )
    trained = fit(
        yolo,
        args,
        ctx,
        tmp,
        trainer=keep_model_trainer(),
        label=f"fine-tune without {len(recipe.blocks)} blocks",
    )
    if trained != tmp / MODEL_FILE:
        trained.replace(tmp / MODEL_FILE)
    report = {"blocks": list(recipe.blocks), "params_before": before, "params_removed": removed}
    atomic_write_text(tmp / REPORT_FILE, json.dumps(report, indent=2))
    return MODEL_FILE
