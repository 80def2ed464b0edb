"""Torch-Pruning on the rewritten detectors: channels really go, attention included, the model runs."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
import torch
from torch import nn
from ultralytics.nn.tasks import DetectionModel

from harness.builders.prune import step_ratio
from harness.errors import HarnessError
from harness.prune.criteria import CRITERIA, UnknownCriterionError, needs_gradients
from harness.prune.modules import PrunableAttention, tracing_barriers
from harness.prune.rewrite import rewrite_for_pruning
from harness.prune.structured import (
    STRATEGIES,
    PruneResult,
    UnknownStrategyError,
    prediction_layers,
    prune_model,
)

IMGSZ = 64
RATIO = 0.3
ROUND_TO = 8
ATTENTION_MODELS = ("yolo11n", "yolo26n")  # the families with attention blocks (YOLOv8 has none)


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
    result = prune_model(model, RATIO, "l1", ROUND_TO, torch.randn(1, 3, IMGSZ, IMGSZ))
    kept = {
        n: tuple(c.bn.running_mean.long() for c in (m.q, m.k, m.v)) for n, m in _attentions(model).items()
    }
    return Pruned(before, heads, kept, model, result)


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


@pytest.mark.parametrize("detector_name", ATTENTION_MODELS, indirect=True)
def test_attention_is_pruned_per_head(pruned: Pruned) -> None:
    attns = _attentions(pruned.model)
    assert attns and attns.keys() == pruned.heads.keys()
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


@pytest.mark.parametrize("detector_name", ATTENTION_MODELS, indirect=True)
def test_tracing_barrier_is_not_for_training(pruned: Pruned) -> None:
    assert pruned.heads
    with tracing_barriers():
        out = copy.deepcopy(pruned.model).train()(torch.randn(1, 3, IMGSZ, IMGSZ))
    branches = [out[k] for k in ("one2many", "one2one") if k in out] or [out]
    with pytest.raises(RuntimeError, match="tracing barrier is not differentiable"):
        sum(b["scores"].sum() for b in branches).backward()


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.1, 1.5])
def test_ratio_outside_open_interval_is_refused(ratio: float) -> None:
    with pytest.raises(HarnessError, match=f"ratio must be in \\(0, 1\\), got {ratio}"):
        prune_model(nn.Sequential(), ratio, "l1", None, torch.zeros(1))


# Criteria and strategies, on fresh copies of the detectors.


def _inputs() -> torch.Tensor:
    return torch.randn(1, 3, IMGSZ, IMGSZ)


def _prunable_names(model: nn.Module) -> set[str]:
    """Convolutions whose output channels pruning may remove (all but the prediction layers)."""
    fixed = {id(m) for layer in prediction_layers(model) for m in layer.modules()}
    return {name for name, m in model.named_modules() if isinstance(m, nn.Conv2d) and id(m) not in fixed}


class Run(NamedTuple):
    """One fresh detector pruned with a given criterion and strategy."""

    before: dict[str, tuple[int, ...]]
    model: DetectionModel
    result: PruneResult

    def kept(self) -> dict[str, float]:
        """Fraction of output channels each prunable convolution kept."""
        after = _conv_shapes(self.model)
        return {n: after[n][0] / self.before[n][0] for n in _prunable_names(self.model)}


@pytest.fixture(scope="module")
def run(
    make_detector: Callable[[str], DetectionModel], calibration_batches: list[dict[str, Any]]
) -> Callable[..., Run]:
    """Factory, cached per arguments: prune a fresh detector at RATIO."""
    cache: dict[tuple[str, str, str, int | None], Run] = {}

    def prune(name: str, criterion: str, strategy: str = "uniform", round_to: int | None = ROUND_TO) -> Run:
        key = (name, criterion, strategy, round_to)
        if key not in cache:
            model = rewrite_for_pruning(make_detector(name))
            before = _conv_shapes(model)
            options = {"strategy": strategy, "gradient_batches": calibration_batches}
            result = prune_model(model, RATIO, criterion, round_to, _inputs(), **options)
            cache[key] = Run(before, model, result)
        return cache[key]

    return prune


@pytest.mark.parametrize("criterion", CRITERIA)
def test_every_criterion_prunes_yolo11n(criterion: str, run: Callable[..., Run]) -> None:
    pruned = run("yolo11n", criterion)
    result, kept = pruned.result, pruned.kept()
    assert (result.criterion, result.strategy) == (criterion, "uniform")
    assert result.params_after < result.params_before * (1 - RATIO)
    assert sum(k < 1 for k in kept.values()) >= 0.9 * len(kept)  # nearly every layer lost channels
    assert all(p.grad is None for p in pruned.model.parameters())  # no gradients left behind
    if needs_gradients(criterion):
        assert result.gradient_batches == 2 and result.gradient_seconds is not None
    else:
        assert result.gradient_batches == 0 and result.gradient_seconds is None
    with torch.no_grad():
        y, _ = pruned.model.eval()(_inputs())
    assert tuple(y.shape) == result.output_shape and torch.isfinite(y).all()


@pytest.mark.parametrize("criterion", ["taylor", "fisher"])
def test_gradient_criteria_rank_channels_unlike_l1(criterion: str, run: Callable[..., Run]) -> None:
    l1, taylor = (run("yolo11n", c).model for c in ("l1", criterion))
    assert _conv_shapes(l1) == _conv_shapes(taylor)  # uniform: the same widths either way
    l1_convs, taylor_convs = dict(l1.named_modules()), dict(taylor.named_modules())
    names = _prunable_names(l1)
    differ = [n for n in names if not torch.equal(l1_convs[n].weight, taylor_convs[n].weight)]
    assert len(differ) > len(names) // 2  # different channels kept in most layers


@pytest.mark.parametrize("name", ["yolov8n", "yolo11n", "yolo26n"])
def test_global_strategy_spreads_the_ratio_across_layers(name: str, run: Callable[..., Run]) -> None:
    kept = {s: run(name, "l1", s, round_to=None).kept().values() for s in STRATEGIES}
    spread = {s: max(k) - min(k) for s, k in kept.items()}
    assert spread["uniform"] <= 0.1  # every layer near 1 - RATIO (rounding, per-head grouping)
    assert spread["global"] >= spread["uniform"] + 0.2
    assert min(kept["global"]) > 0  # no layer removed entirely
    assert run(name, "l1", "global", round_to=None).result.strategy == "global"


@pytest.mark.parametrize("batches", [None, []])
def test_taylor_without_batches_is_refused_before_the_model_changes(
    batches: list[dict[str, Any]] | None, make_detector: Callable[[str], DetectionModel]
) -> None:
    model = make_detector("yolo11n")
    with pytest.raises(HarnessError, match="'taylor' .* needs calibration batches with labels"):
        prune_model(model, RATIO, "taylor", ROUND_TO, _inputs(), gradient_batches=batches)
    assert not _attentions(model)  # not even rewritten


def test_unknown_criterion_is_refused_naming_it() -> None:
    with pytest.raises(
        UnknownCriterionError, match="'l3'; expected one of: l1, l2, taylor, fisher, lamp, random"
    ):
        prune_model(nn.Sequential(), RATIO, "l3", None, torch.zeros(1))


def test_unknown_strategy_is_refused_naming_it() -> None:
    with pytest.raises(UnknownStrategyError, match="'layerwise'; expected one of: uniform, global") as info:
        prune_model(nn.Sequential(), RATIO, "l1", None, torch.zeros(1), strategy="layerwise")
    assert isinstance(info.value, HarnessError)


# Plain convolutions of yolo11n (no split, residual or attention coupling) and their widths.
PLAIN_YOLO11N = {
    "model.0.conv": 16,
    "model.1.conv": 32,
    "model.3.conv": 64,
    "model.5.conv": 128,
    "model.7.conv": 256,
}


def test_nearest_rounding_keeps_the_nearest_multiple(make_detector: Callable[[str], DetectionModel]) -> None:
    widths = {}
    for rounding in ("down", "nearest"):
        model = rewrite_for_pruning(make_detector("yolo11n"))
        result = prune_model(model, 0.6, "l1", 16, _inputs(), rounding=rounding)
        assert result.rounding == rounding
        convs = dict(model.named_modules())
        widths[rounding] = {name: convs[name].out_channels for name in PLAIN_YOLO11N}
        assert all(
            result.widths[name] == (PLAIN_YOLO11N[name], widths[rounding][name]) for name in PLAIN_YOLO11N
        )
        assert not {n for n, m in model.named_modules() if m in prediction_layers(model)} & set(result.widths)
        with torch.no_grad():
            assert torch.isfinite(model.eval()(_inputs())[0]).all()
    # 60 % of 16 / 32 / 64 / 128 / 256 channels: down keeps 16 (whole) / 32 (whole) / 16 / 48 / 96
    assert list(widths["down"].values()) == [16, 32, 16, 48, 96]
    assert list(widths["nearest"].values()) == [16, 16, 32, 48, 96]


def test_nearest_rounding_in_two_steps_lands_on_the_one_shot_widths(
    make_detector: Callable[[str], DetectionModel],
) -> None:
    """Iterative pruning (``PruneSpec.steps``) rounds each step to the nearest multiple of 8.

    Two steps of 36.8 % (60 % compounded): 16 -> 8 -> 8 (at least one multiple), 32 -> 24 -> 16,
    64 -> 40 -> 24, 128 -> 80 -> 48, 256 -> 160 -> 104, the widths one 60 % step keeps.
    """
    model = rewrite_for_pruning(make_detector("yolo11n"))
    per_step = step_ratio(0.6, 2)
    first = prune_model(model, per_step, "l1", 8, _inputs(), rounding="nearest")
    second = prune_model(model, per_step, "l1", 8, _inputs(), rounding="nearest")
    assert [first.widths[name][1] for name in PLAIN_YOLO11N] == [8, 24, 40, 80, 160]
    assert [second.widths[name] for name in PLAIN_YOLO11N] == [
        (8, 8),
        (24, 16),
        (40, 24),
        (80, 48),
        (160, 104),
    ]
    once = rewrite_for_pruning(make_detector("yolo11n"))
    prune_model(once, 0.6, "l1", 8, _inputs(), rounding="nearest")
    convs = dict(once.named_modules())
    assert [convs[name].out_channels for name in PLAIN_YOLO11N] == [8, 16, 24, 48, 104]
    with torch.no_grad():
        assert torch.isfinite(model.eval()(_inputs())[0]).all()


def test_nearest_rounding_with_global_pruning_is_refused_before_the_model_changes(
    make_detector: Callable[[str], DetectionModel],
) -> None:
    model = make_detector("yolov8n")
    before = _conv_shapes(model)
    with pytest.raises(UnknownStrategyError, match="'nearest' needs the uniform strategy"):
        prune_model(model, 0.3, "l1", 8, _inputs(), strategy="global", rounding="nearest")
    with pytest.raises(UnknownStrategyError, match="unknown channel rounding 'up'"):
        prune_model(model, 0.3, "l1", 8, _inputs(), rounding="up")
    assert _conv_shapes(model) == before
