"""Training through Ultralytics: the harness's thread count holds during and after ``fit``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from ultralytics import YOLO

from harness.bench import Bench
from harness.builders import materialize
from harness.builders.train import FitArgs, channels_last, fit, no_val_trainer, use_threads
from harness.matrix import data_recipe

pytestmark = pytest.mark.slow


def test_use_threads_sets_torch_threads() -> None:
    before = torch.get_num_threads()
    try:
        use_threads(1)(None)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_fit_trains_on_the_context_threads(session: Bench, tmp_path: Path) -> None:
    """Ultralytics' select_device sets cpu_count - 1 threads on the CPU; fit keeps ctx.threads."""
    ctx = session.ctx
    data_yaml = materialize(data_recipe(session.config), ctx)
    seen: list[int] = []
    model = YOLO("yolo11n.yaml", task="detect")
    model.add_callback("on_train_batch_end", lambda _trainer: seen.append(torch.get_num_threads()))
    torch.set_num_threads(1)  # what Ultralytics would leave on a 2-core machine
    checkpoint = fit(model, FitArgs(data_yaml, 1, 8, 64, 0), ctx, tmp_path, trainer=no_val_trainer())
    assert checkpoint.is_file()
    assert seen and set(seen) == {ctx.threads}
    assert torch.get_num_threads() == ctx.threads


def _first_conv(model: torch.nn.Module) -> torch.Tensor:
    return next(m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d))


def test_channels_last_converts_cpu_models_only() -> None:
    trainer = type("Trainer", (), {"model": torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3))})()
    channels_last("cuda:0")(trainer)
    assert _first_conv(trainer.model).is_contiguous()
    channels_last("cpu")(trainer)
    assert _first_conv(trainer.model).is_contiguous(memory_format=torch.channels_last)
    assert not _first_conv(trainer.model).is_contiguous()


def test_fit_trains_channels_last_and_saves_the_default_layout(session: Bench, tmp_path: Path) -> None:
    """A CPU training runs channels-last; the checkpoint (its EMA) keeps contiguous NCHW weights."""
    from harness.builders.weights import load_yolo

    ctx = session.ctx
    data_yaml = materialize(data_recipe(session.config), ctx)
    seen: list[bool] = []
    model = YOLO("yolo11n.yaml", task="detect")
    model.add_callback(
        "on_train_batch_end",
        lambda t: seen.append(_first_conv(t.model).is_contiguous(memory_format=torch.channels_last)),
    )
    checkpoint = fit(model, FitArgs(data_yaml, 1, 8, 64, 0), ctx, tmp_path, trainer=no_val_trainer())
    assert seen and all(seen)
    assert _first_conv(load_yolo(checkpoint).model).is_contiguous()


def test_fit_passes_the_recipe_arguments_to_ultralytics(session: Bench, tmp_path: Path) -> None:
    """A recipe's ``hyp`` reaches Ultralytics' trainer (a tuple as the list it expects) and is what
    the checkpoint stores; :func:`checkpoint_hyp` reads it back, less what the harness sets."""
    from harness.builders.weights import checkpoint_train_args
    from harness.config.trainargs import checkpoint_hyp

    ctx = session.ctx
    data_yaml = materialize(data_recipe(session.config), ctx)
    hyp = (("optimizer", "SGD"), ("lr0", 0.003), ("freeze", (0,)), ("mosaic", 0.0), ("warmup_epochs", 0))
    args = FitArgs(data_yaml, 1, 8, 64, 0, hyp)
    checkpoint = fit(YOLO("yolo11n.yaml", task="detect"), args, ctx, tmp_path, trainer=no_val_trainer())
    stored = checkpoint_train_args(checkpoint)
    assert (stored["optimizer"], stored["lr0"], stored["freeze"]) == ("SGD", 0.003, [0])
    assert (stored["epochs"], stored["imgsz"], stored["val"]) == (1, 64, False)
    read = dict(checkpoint_hyp(stored))
    assert read.items() >= dict(hyp).items()
    assert not {"epochs", "batch", "imgsz", "data", "device", "val", "seed", "workers"} & set(read)
