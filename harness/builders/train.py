"""Train reference models from an Ultralytics model YAML with a fixed seed, and resolve user weights."""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.builders import BuildContext, builder, external, materialize
from harness.builders.progress import EpochProgress
from harness.builders.weights import load_yolo
from harness.cache import file_sha256
from harness.errors import WeightsError
from harness.recipes import TrainRecipe, UserDataRecipe, WeightsRecipe
from harness.versions import versions

if TYPE_CHECKING:
    from ultralytics import YOLO

MODEL_FILE = "model.pt"
BUILDER_VERSION = "2"  # part of every TrainRecipe's hash: bump when the training procedure changes (2: channels-last on the CPU)
RESULTS_FILE = "train_results.csv"  # Ultralytics' per-epoch results.csv, kept beside the checkpoint

# Training hyperparameters of the embedded references (Ultralytics argument names), chosen so that
# a from-scratch yolo11n reaches mAP50-95 >= 0.5 on the synthetic set within the main job's time
# bar on 2 CPU cores. They are part of every TrainRecipe, hence of its cache key. A config's
# `train` arguments go over them key by key (harness.matrix); a user's .pt is fine-tuned with its
# checkpoint's own arguments instead.
REFERENCE_HYP: tuple[tuple[str, object], ...] = (
    ("optimizer", "AdamW"),
    ("lr0", 0.002),
    ("warmup_epochs", 1),
    ("mosaic", 0.0),
    ("nbs", 8),  # nominal batch = batch: one optimizer step per batch, not per 64 images
)
FINETUNE_HYP: tuple[tuple[str, object], ...] = (
    ("warmup_epochs", 0),  # a stage that starts from trained weights skips the warm-up's high bias LR
)


def weights_recipe(
    path: Path, data: UserDataRecipe | None = None, expected_sha256: str | None = None
) -> WeightsRecipe:
    """Describe a user's checkpoint by its content hash (validating that it exists), paired with
    the config's dataset ``data``. With ``expected_sha256`` (the config's ``weights_sha256``) a
    file whose content differs is refused here, before anything unpickles it."""
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist (expected an Ultralytics .pt checkpoint)")
    digest = file_sha256(path)
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise WeightsError(
            f"weights file {path} has sha256 {digest}, but weights_sha256 pins {expected_sha256}; "
            "refusing to load it (a .pt is a pickle that runs code when loaded)"
        )
    return WeightsRecipe(sha256=digest, path=str(path.resolve()), data=data)


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
    trainer = no_val_trainer()
    label = f"train {Path(recipe.cfg).stem if recipe.cfg else 'from weights'} at {recipe.imgsz} px"
    if recipe.balance is not None:
        from harness.builders.balance import balanced_trainer, focal_callback

        trainer = balanced_trainer(trainer, recipe.balance.method, recipe.seed)
        if recipe.balance.method == "focal":
            model.add_callback("on_train_start", focal_callback(recipe.balance))
        label += f" ({recipe.balance.method.replace('_', ' ')})"
    fit(
        model,
        FitArgs(data_yaml, recipe.epochs, recipe.batch, recipe.imgsz, recipe.seed, recipe.hyp),
        ctx,
        tmp,
        trainer=trainer,
        label=label,
    )
    return MODEL_FILE


@functools.cache
def no_val_trainer() -> type:
    """Ultralytics' detection trainer, except that ``val=False`` also skips validation after the
    last epoch and the final evaluation of ``best.pt``.

    The stock trainer validates on the last epoch whatever ``val`` says, then validates ``best.pt``
    again: two passes over the val split per training that change no weight (the harness measures
    accuracy itself, on every backend, through one path). ``last.pt`` is still stripped of its
    optimizer state, and of a distillation wrapper, with Ultralytics' own ``strip_optimizer``.
    """
    from ultralytics.models.yolo.detect import DetectionTrainer
    from ultralytics.utils.torch_utils import strip_optimizer

    class NoValTrainer(DetectionTrainer):
        def validate(self) -> tuple[object, object]:
            """The stock validation when ``val`` is set; else nothing (metrics unchanged, no fitness)."""
            if self.args.val:
                return super().validate()
            return self.metrics, None

        def final_eval(self) -> None:
            """The stock final evaluation when ``val`` is set; else only strip ``last.pt``."""
            if self.args.val:
                super().final_eval()
            elif self.last.exists():
                strip_optimizer(self.last)

    return NoValTrainer


@dataclass(frozen=True)
class FitArgs:
    """One Ultralytics training run: dataset, epochs, batch, image size, seed and hyperparameters."""

    data_yaml: Path
    epochs: int
    batch: int
    imgsz: int
    seed: int
    hyp: tuple[tuple[str, object], ...] = ()  # Ultralytics arguments; lists stored as tuples


def use_threads(threads: int) -> Callable[[object], None]:
    """An Ultralytics callback that gives torch ``threads`` intra-op threads.

    On the CPU Ultralytics' ``select_device`` sets ``torch.set_num_threads(NUM_THREADS)``, where
    ``NUM_THREADS`` is ``cpu_count - 1``: one thread on a 2-core machine. Registered for
    ``on_pretrain_routine_start`` (after the trainer chose its device, before the first batch),
    this gives training ``ctx.threads`` back: an epoch of yolo11n at 160 px on this 2-core
    machine took 37.4 s with Ultralytics' one thread and 21.0 s with two.
    """

    def callback(_trainer: object) -> None:
        import torch  # the CLI's report path never trains: keep torch out of its imports

        torch.set_num_threads(threads)

    return callback


def channels_last(device: str) -> Callable[[object], None]:
    """An Ultralytics callback (``on_pretrain_routine_end``) that trains a CPU model in channels-last
    memory format.

    Ultralytics converts the model only on CUDA ("no benefit on CPU"), but PyTorch's oneDNN
    convolutions run NHWC directly: two epochs of yolo11n at 320 px (640 images, batch 8, two
    threads) took 52.2 s NCHW and 43.9 s channels-last on this 2-core Xeon. Only the trained model
    is converted: its EMA copy, which is what the checkpoint saves, keeps the default layout.
    """

    def callback(trainer: object) -> None:
        import torch

        if str(device).startswith("cpu"):
            trainer.model.to(memory_format=torch.channels_last)  # type: ignore[attr-defined]

    return callback


def train_versions() -> tuple[tuple[str, str], ...]:
    """The library and procedure versions in every training recipe's hash."""
    return (*versions("torch", "ultralytics"), ("harness-train", BUILDER_VERSION))


def fit(
    model: YOLO,
    args: FitArgs,
    ctx: BuildContext,
    tmp: Path,
    trainer: type | None = None,
    label: str = "training",
) -> Path:
    """Train ``model`` through Ultralytics' public ``train`` on ``ctx.threads`` threads and copy its
    last checkpoint to ``tmp / MODEL_FILE`` (and its ``results.csv`` to ``tmp / RESULTS_FILE``);
    each epoch logs ``label`` with its progress (:class:`~harness.builders.progress.EpochProgress`)."""
    restore = use_threads(ctx.threads)
    model.add_callback("on_pretrain_routine_start", restore)
    model.add_callback("on_pretrain_routine_end", channels_last(ctx.device))
    progress = EpochProgress(label, ctx.log)
    model.add_callback("on_train_start", progress.started)
    model.add_callback("on_train_epoch_end", progress.epoch_end)
    try:
        _run_train(model, args, ctx, tmp, trainer)
    finally:  # Ultralytics leaves its own count behind; later work in this process gets ours
        restore(None)
    run = tmp / "run"
    shutil.copy2(run / "weights" / "last.pt", tmp / MODEL_FILE)
    if (run / "results.csv").is_file():
        shutil.copy2(run / "results.csv", tmp / RESULTS_FILE)
    shutil.rmtree(run)
    return tmp / MODEL_FILE


def _run_train(model: YOLO, args: FitArgs, ctx: BuildContext, tmp: Path, trainer: type | None) -> None:
    """One call of Ultralytics' ``train`` into ``tmp / "run"``; the recipe's arguments last (a tuple
    as the list Ultralytics expects, e.g. ``freeze``; a key given twice: the later one)."""
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
        **{key: list(value) if isinstance(value, tuple) else value for key, value in args.hyp},
    )


def epoch_columns(results_csv: Path) -> dict[str, list[float]]:
    """The columns of an Ultralytics ``results.csv`` (one value per epoch), by header name.

    ``time`` there is cumulative seconds since training started; :func:`epoch_seconds` turns it
    into the seconds each epoch took.
    """
    import csv

    try:
        with results_csv.open(newline="") as f:
            rows = [{k.strip(): v for k, v in row.items()} for row in csv.DictReader(f)]
    except OSError as exc:
        raise WeightsError(f"training results {results_csv} are missing or unreadable: {exc}") from exc
    if not rows:
        raise WeightsError(f"training results {results_csv} hold no epochs")
    return {key: [float(row[key]) for row in rows] for key in rows[0]}


def epoch_seconds(results_csv: Path) -> list[float]:
    """Seconds each training epoch took, from ``results.csv``'s cumulative ``time`` column."""
    cumulative = epoch_columns(results_csv)["time"]
    return [t - prev for prev, t in zip([0.0, *cumulative[:-1]], cumulative, strict=True)]
