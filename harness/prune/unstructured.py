"""Unstructured (weight) pruning: zero the smallest convolution weights, layer by layer.

``prune_unstructured`` applies ``torch.nn.utils.prune.l1_unstructured`` to the weight of every
``nn.Conv2d`` except the prediction layers (``harness.prune.structured.prediction_layers``):
in each layer, ``ratio`` of the weights with the smallest magnitude become zero. It then calls
``prune.remove``, so the zeros are written into the weights and the model is an ordinary model
again (no ``weight_orig`` parameter, no ``weight_mask`` buffer, no forward pre-hook): it saves,
loads and exports like the original.

No tensor shape changes. Dense kernels (every backend this harness runs) multiply the zeros
like any other value, so unstructured pruning by itself gains no speed and no memory; the
harness reports only measured latency for it, never a speedup derived from the sparsity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import prune

from harness.errors import HarnessError
from harness.prune.structured import check_ratio, count_params, prediction_layers


@dataclass(frozen=True)
class UnstructuredResult:
    """What one unstructured pruning run did, counted on the weights afterwards."""

    ratio: float  # the fraction of each pruned layer's weights asked to be zeroed
    layers: int  # convolutions pruned
    sparsity: float  # zeros / elements over the pruned convolution weights
    sparsity_all: float  # zeros / elements over all parameters
    params: int  # parameter count, unchanged by pruning
    nonzero_params: int  # parameters that are not zero


def prunable_convolutions(model: nn.Module) -> list[nn.Conv2d]:
    """Every ``nn.Conv2d`` of a detector except those inside ``prediction_layers``."""
    fixed = {id(m) for layer in prediction_layers(model) for m in layer.modules()}
    return [m for m in model.modules() if isinstance(m, nn.Conv2d) and id(m) not in fixed]


def prune_unstructured(model: nn.Module, ratio: float) -> UnstructuredResult:
    """Zero ``ratio`` of the weights, by smallest magnitude, in every prunable convolution, in place.

    The zeros are permanent (``prune.remove``) and every tensor keeps its shape. Dense kernels
    gain no speed from zeros: report measured latency only.

    Raises:
        HarnessError: ``ratio`` is not in (0, 1), or the model has no convolution to prune.
    """
    check_ratio(ratio)
    convs = prunable_convolutions(model)
    if not convs:
        raise HarnessError("unstructured pruning found no convolution outside the prediction layers")
    with torch.no_grad():
        for conv in convs:
            prune.l1_unstructured(conv, "weight", amount=ratio)
            prune.remove(conv, "weight")
    weights = [conv.weight for conv in convs]
    params = list(model.parameters())
    return UnstructuredResult(
        ratio=ratio,
        layers=len(convs),
        sparsity=_zero_fraction(weights),
        sparsity_all=_zero_fraction(params),
        params=count_params(model),
        nonzero_params=sum(int(torch.count_nonzero(p)) for p in params),
    )


def _zero_fraction(tensors: Sequence[torch.Tensor]) -> float:
    """Zeros over elements, counted across ``tensors`` (at least one element)."""
    total = sum(t.numel() for t in tensors)
    return (total - sum(int(torch.count_nonzero(t)) for t in tensors)) / total
