"""Torch-Pruning on the rewritten detectors: channels really go, attention included, the model runs."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import NamedTuple

import pytest
import torch
import torch_pruning as tp
from torch import nn
from ultralytics.nn.tasks import DetectionModel

from harness.errors import HarnessError
from harness.prune.modules import PrunableAttention, tracing_barriers
from harness.prune.rewrite import rewrite_for_pruning
from harness.prune.structured import PruneResult, prediction_layers, prune_model

IMGSZ = 64
RATIO = 0.3
ROUND_TO = 8


def _conv_shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(m.weight.shape) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}


def _tag_attention_channels(model: nn.Module) -> None:
    """Store each q/k/v channel's original index in its BN running mean, to read back what was kept."""
    for attn in model.modules():
        if isinstance(attn, PrunableAttention):
            for conv in (attn.q, attn.k, attn.v):
                conv.bn.running_mean.copy_(torch.arange(conv.bn.num_features, dtype=torch.float32))


class Pruned(NamedTuple):
    """One detector before and after pruning (tests must not modify ``model``: copy it first)."""

    before: dict[str, tuple[int, ...]]  # conv weight shapes of the rewritten model
    heads: dict[str, tuple[int, int, int]]  # attention name -> (heads, q channels, v channels) before
    kept: dict[str, tuple[torch.Tensor, ...]]  # attention name -> original indices kept in q, k, v
    model: DetectionModel
    result: PruneResult


def _attentions(model: nn.Module) -> dict[str, PrunableAttention]:
    return {name: m for name, m in model.named_modules() if isinstance(m, PrunableAttention)}


@pytest.fixture(scope="module")
def pruned(detector_name: str, make_detector: Callable[[str], DetectionModel]) -> Pruned:
    """A detector rewritten, then pruned at 30 % (L1, channels rounded to 8)."""
    model = rewrite_for_pruning(make_detector(detector_name))
    _tag_attention_channels(model)
    heads = {
        n: (m.num_heads, m.q.conv.out_channels, m.v.conv.out_channels) for n, m in _attentions(model).items()
    }
    before = _conv_shapes(model)
    importance = tp.importance.GroupMagnitudeImportance(p=1)
    result = prune_model(model, RATIO, importance, ROUND_TO, torch.randn(1, 3, IMGSZ, IMGSZ))
    kept = {
        n: tuple(c.bn.running_mean.long() for c in (m.q, m.k, m.v)) for n, m in _attentions(model).items()
    }
    return Pruned(before, heads, kept, model, result)


def _needs_attention(pruned: Pruned) -> None:
    if not pruned.heads:
        pytest.skip("this model has no attention block")


def test_params_shrink(pruned: Pruned) -> None:
    result = pruned.result
    assert isinstance(result, PruneResult)
    assert result.params_after < result.params_before * (1 - RATIO)


def test_conv_tensors_shrink_except_prediction_layers(pruned: Pruned) -> None:
    before, model = pruned.before, pruned.model
    after = _conv_shapes(model)
    fixed = {id(m) for layer in prediction_layers(model) for m in layer.modules()}
    names = {name for name, m in model.named_modules() if id(m) in fixed and isinstance(m, nn.Conv2d)}
    assert all(after[n][0] == before[n][0] for n in names)  # box bins, class scores, DFL keep their outputs
    prunable = [n for n in before if n not in names]
    assert all(after[n][0] <= before[n][0] for n in prunable)
    assert all(after[n][0] % ROUND_TO == 0 for n in prunable)
    kept = sum(after[n][0] for n in prunable) / sum(before[n][0] for n in prunable)
    assert kept <= 1 - RATIO


def test_forward_runs_with_unchanged_output_shape(pruned: Pruned) -> None:
    with torch.no_grad():
        y, _ = pruned.model.eval()(torch.randn(1, 3, IMGSZ, IMGSZ))
    assert (
        tuple(y.shape)
        == pruned.result.output_shape
        == (1, 4 + 6, (IMGSZ // 8) ** 2 + (IMGSZ // 16) ** 2 + (IMGSZ // 32) ** 2)
    )
    assert torch.isfinite(y).all()


def test_attention_is_pruned_per_head(pruned: Pruned) -> None:
    _needs_attention(pruned)
    attns = _attentions(pruned.model)
    assert attns.keys() == pruned.heads.keys()
    for name, attn in attns.items():
        n_heads, q_before, v_before = pruned.heads[name]
        q_kept, k_kept, v_kept = pruned.kept[name]
        assert len(q_kept) < q_before and len(v_kept) < v_before  # attention is pruned, not skipped
        assert torch.equal(q_kept, k_kept)  # a key dimension goes from q and k together
        for kept, width in ((q_kept, q_before // n_heads), (v_kept, v_before // n_heads)):
            per_head = kept.view(n_heads, -1) - torch.arange(n_heads)[:, None] * width
            assert (per_head == per_head[0]).all()  # the same dimensions in every head
        assert attn.pe.conv.out_channels == attn.proj.conv.in_channels == len(v_kept)


def test_pruned_model_trains(pruned: Pruned) -> None:
    model = copy.deepcopy(pruned.model).train()
    preds = model(torch.randn(1, 3, IMGSZ, IMGSZ))
    branches = [preds[k] for k in ("one2many", "one2one") if k in preds] or [preds]
    sum(b["boxes"].sum() + b["scores"].sum() for b in branches).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_tracing_barrier_is_not_for_training(pruned: Pruned) -> None:
    _needs_attention(pruned)
    with tracing_barriers():
        out = copy.deepcopy(pruned.model).train()(torch.randn(1, 3, IMGSZ, IMGSZ))
    branches = [out[k] for k in ("one2many", "one2one") if k in out] or [out]
    with pytest.raises(RuntimeError, match="tracing barrier is not differentiable"):
        sum(b["scores"].sum() for b in branches).backward()


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.1, 1.5])
def test_ratio_outside_open_interval_is_refused(ratio: float) -> None:
    with pytest.raises(HarnessError, match="ratio must be in"):
        prune_model(nn.Sequential(), ratio, tp.importance.GroupMagnitudeImportance(p=1), None, torch.zeros(1))
