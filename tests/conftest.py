"""Fixtures shared by the harness's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from harness.bench import Bench
from harness.config import HarnessConfig, load_config

pytest_plugins = ("pytester",)

# No per-example deadline (Hypothesis' default is 200 ms): on two cores shared with a training job
# one example of tests/config/test_budgets.py overran it, a measure of the machine's load that
# fails a property test whose property holds.
settings.register_profile("harness", deadline=None)
settings.load_profile("harness")


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One artifact cache for every test that builds real models (the quick reference trains once)."""
    return tmp_path_factory.mktemp("harness-cache")


@pytest.fixture(scope="session")
def quick_config(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> HarnessConfig:
    """The `quick` profile with the shared cache, rooted in a scratch directory."""
    root = tmp_path_factory.mktemp("quick-root")
    (root / "harness.toml").write_text(f'profile = "quick"\ncache_dir = "{shared_cache}"\n')
    return load_config(root)


@pytest.fixture(scope="session")
def session(quick_config: HarnessConfig) -> Bench:
    """One harness session on the quick config, shared by every test that runs real graphs."""
    return Bench.from_config(quick_config)


DETECTOR_NAMES = ("circle", "square")


def save_detector(
    path: Path, names: tuple[str, ...] = DETECTOR_NAMES, train_args: dict | None = None
) -> Path:
    """An untrained yolo11n with ``len(names)`` classes saved as an Ultralytics checkpoint (about
    1 s); ``train_args`` as the trainer stores them (None: the checkpoint has none)."""
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel

    yolo = YOLO("yolo11n.yaml", task="detect")
    yolo.model = DetectionModel("yolo11n.yaml", nc=len(names), verbose=False)
    yolo.model.names = dict(enumerate(names))
    yolo.ckpt = {"train_args": train_args} if train_args is not None else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    yolo.save(path)
    return path


@pytest.fixture(scope="session")
def detector_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with two-class (circle, square) yolo11n checkpoints: ``best.pt`` trained at 320 px
    (its training arguments say so) and ``bare.pt`` with no training arguments."""
    folder = tmp_path_factory.mktemp("checkpoints")
    save_detector(folder / "best.pt", train_args={"imgsz": 320, "epochs": 3})
    save_detector(folder / "bare.pt")
    return folder


@pytest.fixture()
def tiny_dataset(tmp_path: Path) -> Path:
    """``data.yaml`` of a two-class (circle, square) dataset under ``tmp_path / "data"``: 4 train
    and 2 val 64 px PNGs written with cv2, each with a label file."""
    import cv2
    import numpy as np

    root = tmp_path / "data"
    for split, count in (("train", 4), ("val", 2)):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(count):
            image = np.full((64, 64, 3), 40 * i, np.uint8)
            cv2.rectangle(image, (16, 16), (40, 40), (255, 255, 255), -1)
            cv2.imwrite(str(root / "images" / split / f"{i}.png"), image)
            (root / "labels" / split / f"{i}.txt").write_text("1 0.4453 0.4453 0.375 0.375\n")
    yaml = root / "data.yaml"
    yaml.write_text("train: images/train\nval: images/val\nnames: [circle, square]\n")
    return yaml
