"""Unstructured pruning: counted sparsity matches the ratio, the model stays an ordinary model."""

from __future__ import annotations

import copy
import io
import pickle
from collections.abc import Callable
from typing import NamedTuple

import pytest
import torch
from torch import nn
from ultralytics.nn.tasks import DetectionModel

from harness.errors import HarnessError
from harness.prune.structured import prediction_layers
from harness.prune.unstructured import UnstructuredResult, prunable_convolutions, prune_unstructured

IMGSZ = 64
RATIO = 0.4


class Zeroed(NamedTuple):
    """A detector before (a deep copy) and after unstructured pruning."""

    original: DetectionModel
    model: DetectionModel
    result: UnstructuredResult


@pytest.fixture(scope="module")
def zeroed(detector_name: str, make_detector: Callable[[str], DetectionModel]) -> Zeroed:
    """Each family with 40 % of every prunable convolution's weights zeroed."""
    model = make_detector(detector_name)
    original = copy.deepcopy(model)
    return Zeroed(original, model, prune_unstructured(model, RATIO))


def _zero_fraction(t: torch.Tensor) -> float:
    return float((t == 0).sum()) / t.numel()


def test_counted_sparsity_matches_the_ratio(zeroed: Zeroed) -> None:
    result, convs = zeroed.result, prunable_convolutions(zeroed.model)
    assert result.ratio == RATIO and result.layers == len(convs) > 50
    assert result.sparsity == pytest.approx(RATIO, abs=0.005)
    for conv in convs:  # per layer, not one global threshold
        assert _zero_fraction(conv.weight) == pytest.approx(RATIO, abs=1 / conv.weight.numel())
    zeros = sum(int((p == 0).sum()) for p in zeroed.model.parameters())
    assert result.params == sum(p.numel() for p in zeroed.original.parameters())  # nothing removed
    assert result.nonzero_params == result.params - zeros
    assert result.sparsity_all == pytest.approx(zeros / result.params)
    assert 0 < result.sparsity_all < result.sparsity


def test_smallest_weights_go_and_the_rest_are_unchanged(zeroed: Zeroed) -> None:
    before = dict(zeroed.original.named_modules())
    pruned = {id(c) for c in prunable_convolutions(zeroed.model)}
    for name, conv in zeroed.model.named_modules():
        if id(conv) in pruned:
            w, w0 = conv.weight, before[name].weight
            kept = w != 0
            assert torch.equal(w[kept], w0[kept])
            assert w0[~kept].abs().max() <= w0[kept].abs().min()


def test_prediction_layers_are_untouched(zeroed: Zeroed) -> None:
    original = [p for layer in prediction_layers(zeroed.original) for p in layer.parameters()]
    pruned = [p for layer in prediction_layers(zeroed.model) for p in layer.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(original, pruned, strict=True))


def test_no_pruning_machinery_is_left(zeroed: Zeroed) -> None:
    model = zeroed.model
    assert not any(m._forward_pre_hooks for m in model.modules())
    assert not any(k.endswith(("_orig", "_mask")) for k in model.state_dict())
    assert all(type(c.weight) is nn.Parameter for c in prunable_convolutions(model))
    assert model.state_dict().keys() == zeroed.original.state_dict().keys()


def test_output_shape_unchanged_and_model_saves(zeroed: Zeroed) -> None:
    x = torch.randn(1, 3, IMGSZ, IMGSZ)
    with torch.no_grad():
        y0, _ = zeroed.original.eval()(x)
        y, _ = zeroed.model.eval()(x)
    assert y.shape == y0.shape and torch.isfinite(y).all()
    buffer = io.BytesIO()
    torch.save(zeroed.model, buffer)
    buffer.seek(0)
    for loaded in (torch.load(buffer, weights_only=False), pickle.loads(pickle.dumps(zeroed.model))):
        with torch.no_grad():
            assert torch.equal(loaded.eval()(x)[0], y)


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.1, 1.5])
def test_ratio_outside_open_interval_is_refused(ratio: float) -> None:
    with pytest.raises(HarnessError, match=f"ratio must be in \\(0, 1\\), got {ratio}"):
        prune_unstructured(nn.Sequential(), ratio)
