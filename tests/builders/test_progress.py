"""Training progress lines: epoch n/N, elapsed, ETA and the last loss."""

from __future__ import annotations

import pytest
import torch

from harness.builders.progress import EpochProgress, clock


@pytest.mark.parametrize(("seconds", "text"), [(0, "0:00"), (75.2, "1:15"), (3725, "1:02:05")])
def test_clock(seconds: float, text: str) -> None:
    assert clock(seconds) == text


class _Trainer:
    epochs = 4
    loss_names = ("box_loss", "cls_loss", "dfl_loss")

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        self.tloss = torch.tensor([1.0, 2.0, 0.5])


def test_each_epoch_logs_its_progress_eta_and_loss() -> None:
    lines: list[str] = []
    times = iter([0.0, 100.0, 130.0, 160.0])
    progress = EpochProgress("train yolo11n at 320 px", lines.append, now=lambda: next(times))
    progress.started(None)  # training begins at t = 100
    progress.epoch_end(_Trainer(0))  # t = 130: 30 s an epoch, 3 to go
    progress.epoch_end(_Trainer(1))  # t = 160
    assert lines == [
        "harness: train yolo11n at 320 px: epoch 1/4, 0:30 elapsed, ETA 1:30, loss 3.5 (box 1, cls 2, dfl 0.5)",
        "harness: train yolo11n at 320 px: epoch 2/4, 1:00 elapsed, ETA 1:00, loss 3.5 (box 1, cls 2, dfl 0.5)",
    ]


def test_the_loss_dict_of_ultralytics_8_4() -> None:
    lines: list[str] = []
    trainer = _Trainer(0)
    trainer.tloss = {"box_loss": torch.tensor(1.0), "cls_loss": torch.tensor(2.0), "dfl_loss": 0.5}  # type: ignore[assignment]
    EpochProgress("x", lines.append, now=lambda: 0.0).epoch_end(trainer)
    assert lines[0].endswith(", loss 3.5 (box 1, cls 2, dfl 0.5)")


def test_a_trainer_without_a_loss_still_logs_its_epoch() -> None:
    lines: list[str] = []
    progress = EpochProgress("x", lines.append, now=lambda: 0.0)

    class Bare:
        epoch, epochs = 0, 1

    progress.epoch_end(Bare())
    assert lines == ["harness: x: epoch 1/1, 0:00 elapsed, ETA 0:00"]
