"""Labelled calibration batches and the detection loss, for gradient-based criteria (Taylor).

``loss_batches`` reads the *train* split of an Ultralytics ``data.yaml`` through Ultralytics'
public data API, without augmentation (each image letterboxed to ``imgsz``, no mosaic, no
rectangular batches), and preprocesses each batch as the detection trainer does (images as
float in [0, 1]). ``detection_loss`` is the training loss of a detector on one batch, for every
Ultralytics detection family (``v8DetectionLoss`` for YOLOv8 / YOLO11, ``E2ELoss`` for the
end-to-end YOLO26 head). ``accumulate_gradients`` fills ``.grad`` with the summed loss gradient
over a set of batches, leaving batch-norm statistics and ``requires_grad`` flags as they were;
``accumulate_fisher`` fills it with the mean squared gradient over the batches instead (the
diagonal of the empirical Fisher information when each batch is one image).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sized
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import torch
from torch import nn
from ultralytics.cfg import get_cfg
from ultralytics.data import build_dataloader, build_yolo_dataset
from ultralytics.data.utils import check_det_dataset
from ultralytics.utils import IterableSimpleNamespace

from harness.errors import DatasetError, HarnessError
from harness.heads import detect_head

LOSS_GAINS: tuple[str, ...] = ("box", "cls", "dfl")
"""Loss hyperparameters read from ``model.args`` when present; Ultralytics' defaults otherwise."""

_STRIDE = 32  # the largest stride of every supported detector: imgsz must be a multiple of it


def loss_batches(
    data_yaml: Path, imgsz: int, n_batches: int, batch_size: int, seed: int = 0
) -> list[dict[str, Any]]:
    """``n_batches`` distinct, labelled batches of ``batch_size`` train images, ready for ``detection_loss``.

    The images are drawn in an order fixed by ``seed`` (the global random state is left as it was).

    Raises:
        HarnessError: ``imgsz`` is not a positive multiple of 32, or a count is below 1.
        DatasetError: the data.yaml is unusable, or its train split has fewer than
            ``n_batches * batch_size`` images.
    """
    _check_counts(imgsz=imgsz, n_batches=n_batches, batch_size=batch_size)
    data = _dataset_info(data_yaml)
    cfg = _cfg({"imgsz": imgsz, "rect": False, "cache": False, "fraction": 1.0, "mosaic": 0.0})
    # mode="val" turns augmentation off (each image letterboxed to imgsz); the split read is still train
    dataset = build_yolo_dataset(cfg, data["train"], batch_size, data, mode="val", rect=False, fraction=1.0)
    needed, images = n_batches * batch_size, len(cast(Sized, dataset))
    if images < needed:
        raise DatasetError(
            f"{data_yaml}: the train split has {images} images; {n_batches} batches of "
            f"{batch_size} need {needed}"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # build_dataloader seeds its shuffle from torch.initial_seed()
        loader = build_dataloader(dataset, batch_size, 0, shuffle=True, pin_memory=False, device="cpu")
        batches = iter(loader)
        return [_preprocess(next(batches)) for _ in range(n_batches)]


def _check_counts(*, imgsz: int, n_batches: int, batch_size: int) -> None:
    """Raise ``HarnessError`` naming the first argument out of range."""
    if imgsz < _STRIDE or imgsz % _STRIDE:
        raise HarnessError(f"imgsz must be a positive multiple of {_STRIDE}, got {imgsz}")
    for name, value in (("n_batches", n_batches), ("batch_size", batch_size)):
        if value < 1:
            raise HarnessError(f"{name} must be at least 1, got {value}")


def _dataset_info(data_yaml: Path) -> dict[str, Any]:
    """Ultralytics' resolved dataset dictionary for ``data_yaml`` (never downloads)."""
    try:
        return check_det_dataset(str(data_yaml), autodownload=False)
    except (FileNotFoundError, SyntaxError, KeyError) as exc:
        raise DatasetError(f"{data_yaml}: not a usable detection data.yaml ({exc})") from exc


def _preprocess(batch: dict[str, Any]) -> dict[str, Any]:
    """As ``DetectionTrainer.preprocess_batch`` (without multi-scale): images to float in [0, 1]."""
    return {**batch, "img": batch["img"].float() / 255}


def detection_loss(model: nn.Module, batch: Mapping[str, Any]) -> torch.Tensor:
    """The detector's training loss on ``batch`` (box + cls + dfl, gain-weighted, times batch size), a scalar.

    The loss gains come from ``model.args`` (a dict, as in a checkpoint, or a namespace) where it
    has them, Ultralytics' defaults otherwise; ``model.args`` itself is left unchanged. The model
    runs in its current mode: in training mode the YOLO26 one-to-one branch is detached from the
    backbone, as in Ultralytics training.

    Raises:
        DatasetError: the batch holds a class id the model does not predict.
    """
    device = next(model.parameters()).device
    batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    _check_classes(model, batch)
    criterion = loss_criterion(model)
    loss, _items = criterion(model(batch["img"]), batch)
    return loss.sum()


def loss_criterion(model: nn.Module) -> Any:
    """A new loss criterion from ``model.init_criterion()``, with gains from ``loss_hyperparameters``."""
    net: Any = model  # Ultralytics' attributes, untyped by torch
    had_args = "args" in vars(net)
    saved = vars(net).get("args")
    net.args = loss_hyperparameters(saved)
    try:
        return net.init_criterion()
    finally:
        if had_args:
            net.args = saved
        else:
            del net.args


def loss_hyperparameters(args: object) -> IterableSimpleNamespace:
    """Ultralytics' default configuration, with the ``LOSS_GAINS`` that ``args`` (dict, namespace, None) sets.

    Raises:
        HarnessError: a gain in ``args`` is not a finite, non-negative number.
    """
    source = vars(args) if isinstance(args, SimpleNamespace) else args if isinstance(args, Mapping) else {}
    cfg = _cfg()
    for key in LOSS_GAINS:
        if key in source:
            setattr(cfg, key, _gain(key, source[key]))
    return cfg


def _cfg(overrides: dict[str, object] | None = None) -> IterableSimpleNamespace:
    """Ultralytics' default configuration with ``overrides`` (``get_cfg`` is typed as returning a
    plain ``SimpleNamespace``; it returns an ``IterableSimpleNamespace``)."""
    return cast(IterableSimpleNamespace, get_cfg(overrides=overrides))


def _gain(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise HarnessError(f"model.args[{key!r}] must be a finite, non-negative number, got {value!r}")
    return float(value)


def _check_classes(model: nn.Module, batch: Mapping[str, Any]) -> None:
    nc = int(detect_head(model).nc)
    cls = batch["cls"]
    if cls.numel() and int(cls.max()) >= nc:
        raise DatasetError(
            f"batch holds class id {int(cls.max())} but the model predicts {nc} classes "
            "(the dataset's nc and the model's differ)"
        )


def accumulate_gradients(model: nn.Module, batches: Iterable[Mapping[str, Any]]) -> int:
    """Zero the gradients, then add the loss gradient of every batch to ``.grad``; return the batch count.

    The model runs in training mode with its batch norms in eval mode, so that the running
    statistics are not updated; every parameter takes gradients for the duration. Modes and
    ``requires_grad`` flags are restored afterwards; the gradients stay.
    """
    model.zero_grad(set_to_none=True)
    count = 0
    with _gradient_mode(model), torch.enable_grad():
        for batch in batches:
            detection_loss(model, batch).backward()
            count += 1
    return count


def accumulate_fisher(model: nn.Module, batches: Iterable[Mapping[str, Any]]) -> int:
    """Fill ``.grad`` with the mean over ``batches`` of each batch's squared loss gradient; return the
    batch count. With one image per batch this is the diagonal of the empirical Fisher information,
    E[(dL/dw)^2], the Hessian estimate of Optimal Brain Damage. Modes and flags as
    :func:`accumulate_gradients`.
    """
    squares: dict[nn.Parameter, torch.Tensor] = {}
    count = 0
    with _gradient_mode(model), torch.enable_grad():
        for batch in batches:
            model.zero_grad(set_to_none=True)
            detection_loss(model, batch).backward()
            for p in model.parameters():
                if p.grad is not None:
                    squares[p] = squares[p] + p.grad.pow(2) if p in squares else p.grad.pow(2)
            count += 1
    model.zero_grad(set_to_none=True)
    for p, total in squares.items():
        p.grad = total / count
    return count


@contextmanager
def _gradient_mode(model: nn.Module) -> Iterator[None]:
    """Training mode with frozen batch-norm statistics and all parameters trainable; restored on exit."""
    modes = {m: m.training for m in model.modules()}
    flags = {p: p.requires_grad for p in model.parameters()}
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
    for p in flags:
        p.requires_grad_(True)
    try:
        yield
    finally:
        for m, training in modes.items():
            m.training = training
        for p, flag in flags.items():
            p.requires_grad_(flag)
