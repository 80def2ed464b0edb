"""Tiny detectors built from Ultralytics' YAML (no weights are downloaded) for the distillation tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch
from ultralytics.cfg import get_cfg
from ultralytics.nn.tasks import DetectionModel

NAMES = {0: "a", 1: "b", 2: "c"}


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> Iterator[None]:
    """One intra-op thread: the tests share their cores with a training run."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def make_detector() -> Callable[..., DetectionModel]:
    """Factory: a seeded detector from a YAML config (or dict), with class names and loss hyperparameters."""

    def make(
        cfg: str | dict = "yolo11n.yaml", nc: int = 3, names: dict[int, str] | None = None, seed: int = 0
    ) -> DetectionModel:
        torch.manual_seed(seed)
        model = DetectionModel(cfg, nc=nc, verbose=False)
        model.names = dict(names) if names is not None else {i: NAMES.get(i, f"c{i}") for i in range(nc)}
        model.args = get_cfg()  # the detection loss reads its box/cls/dfl gains from here
        return model

    return make
