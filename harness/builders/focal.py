"""Focal loss on the class branch of an Ultralytics detection loss: the one private piece replaced.

Ultralytics' ``v8DetectionLoss`` computes the class loss as ``self.bce(pred_scores, targets)``
(element-wise ``BCEWithLogitsLoss(reduction="none")``), then applies the model's class weights and
sums. It has no public switch for focal loss, so :func:`use_focal_loss` builds the model's
criterion (``init_criterion``, public) and replaces that ``bce`` attribute, in every detection loss
the criterion holds (YOLO26's end-to-end loss holds two), with Ultralytics' own ``FocalLoss``
arithmetic kept element-wise. ``bce`` and the element-wise contract are internals: the test
``tests/builders/test_focal.py`` pins them to the Ultralytics version this was written against.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

__all__ = ["TESTED_ULTRALYTICS", "ElementwiseFocal", "detection_losses", "use_focal_loss"]

TESTED_ULTRALYTICS = "8.4.190"


class ElementwiseFocal(nn.Module):
    """Sigmoid focal loss per element: BCE x (1 - p_t)^gamma x alpha_t (alpha 0: no alpha_t)."""

    def __init__(self, gamma: float, alpha: float) -> None:
        super().__init__()
        self.gamma, self.alpha = gamma, alpha

    def forward(self, pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """The loss of every element (the detection loss weights and sums them)."""
        loss = functional.binary_cross_entropy_with_logits(pred, label, reduction="none")
        prob = pred.sigmoid()
        p_t = label * prob + (1 - label) * (1 - prob)
        loss = loss * (1.0 - p_t) ** self.gamma
        if self.alpha > 0:
            loss = loss * (label * self.alpha + (1 - label) * (1 - self.alpha))
        return loss


def detection_losses(criterion: object) -> list[object]:
    """Every object of ``criterion`` (itself, or the parts of an end-to-end loss) with a ``bce``."""
    parts = [criterion, *(getattr(criterion, name, None) for name in ("one2many", "one2one"))]
    return [part for part in parts if part is not None and hasattr(part, "bce")]


def use_focal_loss(model: nn.Module, gamma: float, alpha: float) -> None:
    """Give ``model`` a fresh criterion whose class loss is focal (raises when none has a ``bce``)."""
    criterion = model.init_criterion()  # type: ignore[operator]
    losses = detection_losses(criterion)
    if not losses:
        raise RuntimeError(
            f"{type(criterion).__name__} has no 'bce' class loss to replace (written for Ultralytics "
            f"{TESTED_ULTRALYTICS}); focal loss cannot be applied"
        )
    for loss in losses:
        loss.bce = ElementwiseFocal(gamma, alpha)  # type: ignore[attr-defined]
    model.criterion = criterion
