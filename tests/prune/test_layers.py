"""Residual blocks of every family, and removing them keeps every shape."""

from __future__ import annotations

import pytest
import torch
from ultralytics.nn.tasks import DetectionModel

from harness.prune.layers import drop_blocks, residual_blocks


@pytest.mark.parametrize("cfg", ["yolov8n.yaml", "yolo11n.yaml", "yolo26n.yaml"])
def test_removing_blocks_keeps_the_output_and_removes_their_parameters(cfg: str) -> None:
    model = DetectionModel(cfg, verbose=False).eval()
    blocks = residual_blocks(model)
    assert len(blocks) >= 4
    x = torch.zeros(1, 3, 64, 64)
    with torch.no_grad():
        before = model(x)[0].shape
    params = sum(p.numel() for p in model.parameters())
    removed = drop_blocks(model, blocks[:2])
    assert removed > 0 and sum(p.numel() for p in model.parameters()) == params - removed
    assert residual_blocks(model) == blocks[2:]
    with torch.no_grad():
        assert model(x)[0].shape == before


def test_a_name_that_is_not_a_residual_block_is_refused() -> None:
    model = DetectionModel("yolo11n.yaml", verbose=False)
    with pytest.raises(ValueError, match="'model.0' is not a residual block"):
        drop_blocks(model, ["model.0"])
