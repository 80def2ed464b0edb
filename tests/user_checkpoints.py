"""Real Ultralytics checkpoints for tests, with training arguments stored as Ultralytics stores them."""

from __future__ import annotations

import logging
from pathlib import Path

# What a user's run would have trained with (the trainer resolves optimizer="auto" and stores the
# choice), beside run-control keys, paths and prediction settings the harness must not reuse.
USER_TRAIN_ARGS: dict[str, object] = {
    "optimizer": "SGD",
    "lr0": 0.02,
    "momentum": 0.9,
    "mosaic": 0.5,
    "box": 5.0,
    "close_mosaic": 3,
    "freeze": [0, 1],
    "epochs": 120,
    "batch": 32,
    "imgsz": 512,
    "data": "/elsewhere/data.yaml",
    "model": "yolo11n.yaml",
    "device": "0",
    "workers": 4,
    "project": "/elsewhere/runs",
    "name": "train7",
    "seed": 7,
    "amp": True,
    "val": True,
    "conf": 0.3,
    "format": "onnx",
    "save_period": 5,
    "patience": 20,
}


def save_checkpoint(path: Path, **changes: object) -> dict[str, object]:
    """Save an untrained yolo11n to ``path`` as an Ultralytics checkpoint whose ``train_args`` are
    a full argument dict like the trainer's ``vars(self.args)``: every default, then
    :data:`USER_TRAIN_ARGS`, then ``changes``, and the ``save_dir`` the trainer adds. Returns them."""
    from ultralytics import YOLO
    from ultralytics.cfg import DEFAULT_CFG_DICT

    logging.getLogger("ultralytics").setLevel(logging.ERROR)
    stored = {**DEFAULT_CFG_DICT, **USER_TRAIN_ARGS, **changes, "save_dir": "/elsewhere/runs/train7"}
    yolo = YOLO("yolo11n.yaml", task="detect")
    yolo.ckpt = {"train_args": stored}
    path.parent.mkdir(parents=True, exist_ok=True)
    yolo.save(path)
    return stored
