"""The focal-loss patch of Ultralytics' detection loss, pinned to the version it was written for."""

from __future__ import annotations

import torch
import ultralytics
from ultralytics.utils.loss import FocalLoss, v8DetectionLoss

from harness.builders.focal import TESTED_ULTRALYTICS, ElementwiseFocal, detection_losses, use_focal_loss


def test_written_for_this_ultralytics() -> None:
    """The patch replaces v8DetectionLoss.bce, an internal: re-check it when Ultralytics moves."""
    assert ultralytics.__version__ == TESTED_ULTRALYTICS


def test_elementwise_focal_is_ultralytics_focal_loss_before_reduction() -> None:
    pred, label = torch.randn(4, 7, 3), (torch.rand(4, 7, 3) > 0.7).float()
    ours = ElementwiseFocal(1.5, 0.25)(pred, label)
    assert ours.shape == pred.shape
    assert torch.allclose(ours.mean(1).sum(), FocalLoss(1.5, 0.25)(pred, label))


def test_the_model_trains_with_focal_class_loss() -> None:
    from ultralytics.nn.tasks import DetectionModel
    from ultralytics.utils import DEFAULT_CFG

    model = DetectionModel("yolo11n.yaml", nc=3, verbose=False)
    model.args = DEFAULT_CFG  # type: ignore[assignment]
    use_focal_loss(model, 2.0, 0.25)
    (loss,) = detection_losses(model.criterion)
    assert isinstance(loss, v8DetectionLoss) and isinstance(loss.bce, ElementwiseFocal)
    batch = {
        "img": torch.rand(2, 3, 64, 64), "batch_idx": torch.tensor([0.0, 1.0]), "cls": torch.tensor([[0.0], [2.0]]),
        "bboxes": torch.tensor([[0.5, 0.5, 0.3, 0.3], [0.4, 0.4, 0.2, 0.2]]),
    }  # fmt: skip
    focal, _ = model.loss(batch)
    model.criterion = model.init_criterion()
    plain, _ = model.loss(batch)
    assert focal.sum() < plain.sum()  # focal down-weights the many easy negatives
