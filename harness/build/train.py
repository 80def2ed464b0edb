"""Train reference models from an Ultralytics model YAML with a fixed seed, and resolve user weights."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.build import BuildContext, builder, external, materialize
from harness.build.weights import load_yolo
from harness.cache import file_sha256
from harness.errors import WeightsError
from harness.recipes import TrainRecipe, WeightsRecipe

if TYPE_CHECKING:
    from ultralytics import YOLO

MODEL_FILE = "model.pt"

# Training hyperparameters of the embedded references (Ultralytics argument names), chosen so that
# a from-scratch yolo11n reaches mAP50-95 >= 0.5 on the synthetic set within the main job's time
# bar on 2 CPU cores. They are part of every TrainRecipe, hence of its cache key.
REFERENCE_HYP: tuple[tuple[str, float | int | str], ...] = (
    ("optimizer", "AdamW"),
    ("lr0", 0.002),
    ("warmup_epochs", 1),
    ("mosaic", 0.0),
    ("nbs", 8),  # nominal batch = batch: one optimizer step per batch, not per 64 images
)
FINETUNE_HYP: tuple[tuple[str, float | int | str], ...] = (
    ("warmup_epochs", 0),  # a stage that starts from trained weights skips the warm-up's high bias LR
)


def weights_recipe(path: Path) -> WeightsRecipe:
    """Describe a user's checkpoint by its content hash (validating that it exists)."""
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist (expected an Ultralytics .pt checkpoint)")
    return WeightsRecipe(sha256=file_sha256(path), path=str(path.resolve()))


@external(WeightsRecipe)
def _resolve_weights(recipe: WeightsRecipe, ctx: BuildContext) -> Path:
    path = Path(recipe.path)
    load_yolo(path)  # fail early and clearly on a corrupt checkpoint
    return path


@builder(TrainRecipe)
def _train(recipe: TrainRecipe, ctx: BuildContext, tmp: Path) -> str:
    from ultralytics import YOLO

    data_yaml = materialize(recipe.data, ctx)
    model = load_yolo(materialize(recipe.init, ctx)) if recipe.init else YOLO(recipe.cfg, task="detect")
    fit(
        model,
        FitArgs(data_yaml, recipe.epochs, recipe.batch, recipe.imgsz, recipe.seed, recipe.hyp),
        ctx,
        tmp,
    )
    return MODEL_FILE


@dataclass(frozen=True)
class FitArgs:
    """One Ultralytics training run: dataset, epochs, batch, image size, seed and hyperparameters."""

    data_yaml: Path
    epochs: int
    batch: int
    imgsz: int
    seed: int
    hyp: tuple[tuple[str, float | int | str], ...] = ()


def fit(model: YOLO, args: FitArgs, ctx: BuildContext, tmp: Path, trainer: type | None = None) -> Path:
    """Train ``model`` through Ultralytics' public ``train`` and copy its last checkpoint to
    ``tmp / MODEL_FILE`` (and its ``results.csv`` to ``tmp / train_results.csv``)."""
    model.train(
        data=str(args.data_yaml),
        epochs=args.epochs,
        batch=args.batch,
        imgsz=args.imgsz,
        seed=args.seed,
        deterministic=True,
        device=ctx.device,
        workers=min(ctx.threads, 2),
        project=str(tmp),
        name="run",
        exist_ok=True,
        plots=False,
        val=False,
        amp=False,
        verbose=False,
        trainer=trainer,
        **dict(args.hyp),
    )
    run = tmp / "run"
    shutil.copy2(run / "weights" / "last.pt", tmp / MODEL_FILE)
    if (run / "results.csv").is_file():
        shutil.copy2(run / "results.csv", tmp / "train_results.csv")
    shutil.rmtree(run)
    return tmp / MODEL_FILE
