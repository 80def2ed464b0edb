"""Export a checkpoint through Ultralytics' public exporter (ONNX today; other formats plug in)."""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.builders import BuildContext, builder, materialize
from harness.builders.weights import load_yolo
from harness.recipes import ExportRecipe


@builder(ExportRecipe)
def _export(recipe: ExportRecipe, ctx: BuildContext, tmp: Path) -> str:
    source = materialize(recipe.source, ctx)
    local = tmp / "model.pt"
    shutil.copy2(source, local)
    model = load_yolo(local)
    extra = {"nms": False} if recipe.end2end else {}  # Ultralytics' switch to the one-to-one head
    out = model.export(
        format=recipe.format,
        imgsz=recipe.imgsz,
        batch=recipe.batch,
        half=recipe.half,
        dynamic=False,
        simplify=True,
        device=ctx.device,
        verbose=False,
        **extra,
    )
    local.unlink()
    return Path(out).relative_to(tmp).as_posix()
