"""Channel-importance criteria for structured pruning, by name.

Each name maps to one Torch-Pruning (1.6) importance estimator. Every estimator scores a
dependency group (all the layers that lose the same channels), reduces the per-layer scores
to one score per channel by averaging them, and, except ``random``, normalizes the scores
within the group (divided by their mean; LAMP's own normalization for ``lamp``), which is
what makes scores from different groups comparable in global pruning.

- ``l1``: group L1 norm of the weights (``GroupMagnitudeImportance(p=1)``).
- ``l2``: group L2 norm, squared, of the weights (``GroupMagnitudeImportance(p=2)``).
- ``taylor``: first-order Taylor estimate of the loss change, |w * dL/dw| summed per channel
  (``GroupTaylorImportance``); it reads ``.grad``, so it needs labelled calibration batches.
  A group whose gradients are all zero (e.g. a YOLO26 one-to-one box branch at a scale where the
  calibration batches assign no object) scores NaN (0 / 0 in the mean normalization): global
  pruning then leaves it whole, uniform pruning removes arbitrary channels from it.
- ``fisher``: second order, Optimal Brain Damage with the diagonal of the empirical Fisher
  information as the Hessian: sum of w^2 * E[(dL/dw)^2] per channel (``GroupHessianImportance``),
  the expectation over single labelled images (:func:`harness.prune.taylor.accumulate_fisher`
  fills ``.grad`` with it; Torch-Pruning 1.6's own ``accumulate_grad`` keeps only the last sample).
- ``lamp``: layer-adaptive magnitude pruning scores over the squared L2 norms (``LAMPImportance(p=2)``).
- ``random``: uniform random scores, the baseline every other criterion should beat (``RandomImportance``).

Torch-Pruning is imported lazily, when an estimator is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from harness.errors import HarnessError

if TYPE_CHECKING:
    import torch_pruning as tp

CRITERIA: tuple[str, ...] = ("l1", "l2", "taylor", "fisher", "lamp", "random")
"""Names ``importance`` accepts."""

_GRADIENT_CRITERIA = frozenset({"taylor", "fisher"})
_SQUARED_GRADIENT_CRITERIA = frozenset({"fisher"})


class UnknownCriterionError(HarnessError):
    """A pruning criterion name is not one of ``CRITERIA``."""


def check_criterion(criterion: str) -> str:
    """Return ``criterion`` if it is one of ``CRITERIA``; else raise ``UnknownCriterionError``."""
    if criterion not in CRITERIA:
        raise UnknownCriterionError(
            f"unknown pruning criterion {criterion!r}; expected one of: {', '.join(CRITERIA)}"
        )
    return criterion


def importance(criterion: str) -> tp.importance.Importance:
    """A fresh Torch-Pruning importance estimator for ``criterion`` (one of ``CRITERIA``).

    Raises:
        UnknownCriterionError: ``criterion`` is not one of ``CRITERIA``.
    """
    return _FACTORIES[check_criterion(criterion)]()


def needs_gradients(criterion: str) -> bool:
    """Whether ``criterion`` reads parameter gradients, which a loss backward pass must fill first.

    Raises:
        UnknownCriterionError: ``criterion`` is not one of ``CRITERIA``.
    """
    return check_criterion(criterion) in _GRADIENT_CRITERIA


def needs_squared_gradients(criterion: str) -> bool:
    """Whether ``criterion`` reads the mean squared per-image gradient (the empirical Fisher diagonal)
    from ``.grad`` rather than the summed gradient.

    Raises:
        UnknownCriterionError: ``criterion`` is not one of ``CRITERIA``.
    """
    return check_criterion(criterion) in _SQUARED_GRADIENT_CRITERIA


def _l1() -> tp.importance.Importance:
    import torch_pruning as tp

    return tp.importance.GroupMagnitudeImportance(p=1)


def _l2() -> tp.importance.Importance:
    import torch_pruning as tp

    return tp.importance.GroupMagnitudeImportance(p=2)


def _taylor() -> tp.importance.Importance:
    import torch_pruning as tp

    return tp.importance.GroupTaylorImportance()


def _fisher() -> tp.importance.Importance:
    import torch_pruning as tp

    return tp.importance.GroupHessianImportance()


def _lamp() -> tp.importance.Importance:
    import torch_pruning as tp

    return tp.importance.LAMPImportance(p=2)


def _random() -> tp.importance.Importance:
    import torch_pruning as tp

    return tp.importance.RandomImportance()


_FACTORIES: dict[str, Callable[[], tp.importance.Importance]] = {
    "l1": _l1,
    "l2": _l2,
    "taylor": _taylor,
    "fisher": _fisher,
    "lamp": _lamp,
    "random": _random,
}
