"""Tiny detectors built from Ultralytics' YAML (no weights are downloaded) for the pruning tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from ultralytics.nn.tasks import DetectionModel

from harness.datasets.synthetic import SyntheticSpec, generate
from harness.prune.taylor import loss_batches

MODELS = ("yolov8n", "yolo11n", "yolo26n")
NC = 6
DATA_IMGSZ = 64
TRAIN_IMAGES = 8


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> Iterator[None]:
    """One intra-op thread: the tests share their cores with timing-sensitive benchmarks."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module", params=MODELS)
def detector_name(request: pytest.FixtureRequest) -> str:
    """Each model family in turn: YOLOv8, YOLO11, YOLO26 (nano)."""
    return request.param


def _randomize_batchnorm(model: nn.Module, generator: torch.Generator) -> None:
    """Give every batch norm distinct statistics, so that a mis-copied channel changes the output."""
    for bn in model.modules():
        if isinstance(bn, nn.BatchNorm2d):
            n = bn.num_features
            bn.running_mean.copy_(torch.rand(n, generator=generator) - 0.5)
            bn.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            bn.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            bn.bias.data.copy_(torch.rand(n, generator=generator) * 0.6 - 0.3)


@pytest.fixture(scope="module")
def make_detector() -> Callable[[str], DetectionModel]:
    """Factory: a detector from ``<name>.yaml`` with nc=6, fixed seed, random BN statistics, eval mode."""

    def make(name: str) -> DetectionModel:
        torch.manual_seed(0)
        model = DetectionModel(f"{name}.yaml", nc=NC, verbose=False)
        _randomize_batchnorm(model, torch.Generator().manual_seed(1))
        return model.eval()

    return make


@pytest.fixture(scope="module")
def randomize_bn() -> Callable[[nn.Module], None]:
    """Give a block's batch norms distinct, seeded statistics."""
    return lambda model: _randomize_batchnorm(model, torch.Generator().manual_seed(1))


@pytest.fixture(scope="session")
def data_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic dataset with the detectors' 6 classes: 8 train images of 64 px, in Ultralytics layout."""
    spec = SyntheticSpec(n_train=TRAIN_IMAGES, n_val=1, n_calib=0, imgsz=DATA_IMGSZ)
    return generate(spec, tmp_path_factory.mktemp("synthetic") / "data")


@pytest.fixture(scope="session")
def calibration_batches(data_yaml: Path) -> list[dict[str, Any]]:
    """Two labelled batches of 4 train images for gradient criteria (shared: tests must not modify them)."""
    return loss_batches(data_yaml, DATA_IMGSZ, n_batches=2, batch_size=4)
