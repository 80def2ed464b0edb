"""Structured (channel) pruning of rewritten Ultralytics detectors with Torch-Pruning.

``prune_model`` rewrites the model into prunable form (``harness.prune.rewrite``), builds
Torch-Pruning's dependency graph with the attention cores as single nodes, removes channels and
returns a ``PruneResult`` record: how long graph building and pruning took, the process's peak
memory, the parameter counts, and the output shape before and after.

What stays unpruned, by design:

- the last convolution of every box and class branch of the Detect head (``cv2[i][-1]``,
  ``cv3[i][-1]`` and their ``one2one_`` copies): their outputs are the 4 * reg_max box
  distribution bins and the nc class scores, fixed by the task;
- the DFL convolution: a fixed, non-trainable projection over the reg_max bins;
- the input channels of the first convolution (the 3 image channels).

Everything else is pruned, including attention: query and key convolutions lose the same key
dimensions in every head, value, positional (pe) and projection-input channels lose the same
value dimensions in every head; the number of heads is kept.

Strategies (``STRATEGIES``):

- ``uniform``: every dependency group loses ``ratio`` of its channels (the remaining channels
  rounded to a multiple of ``round_to``: down, Torch-Pruning's rule, or to the nearest multiple,
  see ``harness.prune.rounding``), ranked by the criterion within the group.
- ``global``: Torch-Pruning's global pruning. Each group's scores are normalized within the
  group (by their mean, or LAMP's normalization), pooled, and one threshold removes ``ratio`` of
  all channels, so groups lose different fractions. Two behaviours of Torch-Pruning 1.6 to know:
  ``max_pruning_ratio`` (set to ``GLOBAL_MAX_PRUNING_RATIO``) is *not* a per-layer cap in a
  one-shot prune: it is checked only against the channels left before a step, so it matters
  only for iterative pruning, and a layer can keep less than 10 % of its channels; and a group
  whose every channel falls under the threshold is not removed but skipped, that is left whole
  (``DependencyGraph.check_pruning_group``).

The same guard applies to both strategies: no layer is ever removed entirely; a layer that
``round_to`` would empty (8 channels, ``round_to=8``, any ratio above 0) is left whole. "nearest"
rounding applies to the uniform strategy only (global pruning has no per-group count to round).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from harness.errors import HarnessError
from harness.heads import detect_head
from harness.prune.criteria import importance, needs_gradients, needs_squared_gradients
from harness.prune.modules import AttentionMix, AttentionScores, PrunableAttention, tracing_barriers
from harness.prune.rewrite import rewrite_for_pruning
from harness.prune.rounding import ROUNDINGS, nearest_ratios
from harness.prune.taylor import accumulate_fisher, accumulate_gradients
from harness.prune.widths import Widths, conv_widths, paired

if TYPE_CHECKING:
    import torch_pruning as tp

STRATEGIES: tuple[str, ...] = ("uniform", "global")
"""Names ``prune_model`` accepts as ``strategy``."""

GLOBAL_MAX_PRUNING_RATIO = 0.9
"""Passed to Torch-Pruning in global mode; a cap only across iterative steps (module docstring)."""


class UnknownStrategyError(HarnessError):
    """A pruning strategy name is not one of ``STRATEGIES``, or a rounding one of ``ROUNDINGS``
    that the strategy supports."""


@dataclass(frozen=True)
class PruneResult:
    """What one structured pruning run did and cost."""

    ratio: float
    round_to: int | None
    rounding: str  # how kept channel counts were rounded to round_to, one of ROUNDINGS
    seconds: float  # dependency graph build + pruning, wall clock (gradient passes not included)
    peak_rss_before_mib: float  # the process's peak resident memory (ru_maxrss) just before pruning
    peak_rss_mib: float  # the same after pruning: higher only if pruning set a new peak
    params_before: int
    params_after: int
    output_shape: tuple[int, ...]  # eval-mode output tensor shape, identical before and after
    criterion: str  # channel importance, one of harness.prune.criteria.CRITERIA
    strategy: str  # one of STRATEGIES
    gradient_batches: int  # labelled batches backpropagated for the criterion (0: none needed)
    gradient_seconds: float | None  # wall clock of those backward passes; None when none ran
    # conv -> output channels before, after (prediction layers left out)
    widths: Widths = field(default_factory=dict)

    @property
    def params_reduction(self) -> float:
        """Fraction of parameters removed."""
        return 1.0 - self.params_after / self.params_before


class _ScoresPruner:
    """Torch-Pruning handler for ``AttentionScores``.

    Its input side couples query and key channels (a pruned query dimension removes the same key
    dimension). Its output, the attention weights, has no channel axis: distinct in/out handlers
    stop value-channel pruning from reaching q and k. It holds no parameters, so both are no-ops.
    """

    def prune_out_channels(self, layer: nn.Module, idxs: list[int]) -> nn.Module:
        """Nothing to remove: the attention weights are indexed by pixels, not channels."""
        return layer

    def prune_in_channels(self, layer: nn.Module, idxs: list[int]) -> nn.Module:
        """Nothing to remove: the scores module holds no parameters."""
        return layer

    def get_out_channels(self, layer: nn.Module) -> int | None:
        """Unknown to the graph (not a channel axis)."""
        return None

    def get_in_channels(self, layer: nn.Module) -> int | None:
        """Unknown to the graph (read from q at run time)."""
        return None

    def get_in_channel_groups(self, layer: nn.Module) -> int:
        """No channel grouping."""
        return 1

    def get_out_channel_groups(self, layer: nn.Module) -> int:
        """No channel grouping."""
        return 1


class _MixPruner(_ScoresPruner):
    """Torch-Pruning handler for ``AttentionMix``: output channel i is value channel i (element-wise)."""

    def prune_out_channels(self, layer: nn.Module, idxs: list[int]) -> nn.Module:
        """Nothing to remove: the mix module holds no parameters."""
        return layer

    prune_in_channels = prune_out_channels


def prediction_layers(model: nn.Module) -> list[nn.Module]:
    """The layers whose output channels are fixed by the task: final Detect convolutions and DFL."""
    head = detect_head(model)
    branches = [getattr(head, name, None) for name in ("cv2", "cv3", "one2one_cv2", "one2one_cv3")]
    layers = [branch[-1] for branch_list in branches if branch_list is not None for branch in branch_list]
    return [*layers, head.dfl] if hasattr(head, "dfl") else layers


def attention_channel_groups(model: nn.Module) -> dict[nn.Module, int]:
    """Head count of every q, k, v and pe convolution, so that every head keeps the same dimensions.

    Passed to Torch-Pruning as output channel groups: importance is averaged over heads for each
    head dimension and the same dimensions are removed from every head. (Its ``num_heads`` option
    is not used: that path looks for a qkv -> unbind -> proj layout and skips any other group.)
    """
    groups: dict[nn.Module, int] = {}
    for attn in model.modules():
        if isinstance(attn, PrunableAttention):
            groups.update({conv.conv: attn.num_heads for conv in (attn.q, attn.k, attn.v, attn.pe)})
    return groups


def count_params(model: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in model.parameters())


def _output_shape(model: nn.Module, example_inputs: torch.Tensor) -> tuple[int, ...]:
    """Shape of the eval-mode output tensor (the first element of Ultralytics' (y, preds) tuple)."""
    with torch.no_grad():
        out = model.eval()(example_inputs)
    return tuple((out[0] if isinstance(out, (tuple, list)) else out).shape)


def check_strategy(strategy: str) -> str:
    """Return ``strategy`` if it is one of ``STRATEGIES``; else raise ``UnknownStrategyError``."""
    if strategy not in STRATEGIES:
        raise UnknownStrategyError(
            f"unknown pruning strategy {strategy!r}; expected one of: {', '.join(STRATEGIES)}"
        )
    return strategy


def check_rounding(rounding: str, strategy: str) -> str:
    """Return ``rounding`` if it is one of ``ROUNDINGS`` and ``strategy`` supports it; else raise
    ``UnknownStrategyError``."""
    if rounding not in ROUNDINGS:
        raise UnknownStrategyError(
            f"unknown channel rounding {rounding!r}; expected one of: {', '.join(ROUNDINGS)}"
        )
    if rounding == "nearest" and strategy != "uniform":
        raise UnknownStrategyError(f"channel rounding 'nearest' needs the uniform strategy, got {strategy!r}")
    return rounding


def check_ratio(ratio: float) -> float:
    """Return ``ratio`` if it lies in (0, 1); else raise ``HarnessError``."""
    if not 0.0 < ratio < 1.0:
        raise HarnessError(f"pruning ratio must be in (0, 1), got {ratio}")
    return ratio


def build_pruner(
    model: nn.Module,
    ratio: float,
    criterion: str | tp.importance.Importance,
    round_to: int | None,
    example_inputs: Any,
    strategy: str = "uniform",
    group_ratios: dict[nn.Module, float] | None = None,
) -> tp.pruner.BasePruner:
    """A Torch-Pruning pruner over a rewritten model (traces the dependency graph).

    ``criterion`` is a name from ``harness.prune.criteria.CRITERIA`` or an importance estimator.
    ``group_ratios``: per-group ratios keyed by the group's root module (Torch-Pruning's
    ``pruning_ratio_dict``; see ``harness.prune.rounding``). Only the graph tracing runs inside
    ``tracing_barriers()``: the pruner may be stepped after a backward pass.
    """
    import torch_pruning as tp

    scorer = importance(criterion) if isinstance(criterion, str) else criterion
    is_global = check_strategy(strategy) == "global"
    with tracing_barriers(), torch.enable_grad():
        return tp.pruner.BasePruner(
            model,
            example_inputs,
            importance=scorer,
            global_pruning=is_global,
            pruning_ratio=ratio,
            max_pruning_ratio=GLOBAL_MAX_PRUNING_RATIO if is_global else 1.0,
            round_to=round_to,
            pruning_ratio_dict=group_ratios,
            ignored_layers=prediction_layers(model),
            in_channel_groups={},  # fresh dicts: Torch-Pruning fills these and its defaults are shared
            out_channel_groups=attention_channel_groups(model),
            customized_pruners={AttentionScores: _ScoresPruner(), AttentionMix: _MixPruner()},
        )


def prune_model(
    model: nn.Module,
    ratio: float,
    criterion: str,
    round_to: int | None,
    example_inputs: torch.Tensor,
    *,
    strategy: str = "uniform",
    rounding: str = "down",
    gradient_batches: Iterable[Mapping[str, Any]] | None = None,
) -> PruneResult:
    """Rewrite ``model`` into prunable form and remove ``ratio`` of its channels, in place.

    ``criterion`` names the channel importance (``harness.prune.criteria.CRITERIA``);
    ``strategy`` is ``"uniform"`` (every group loses ``ratio`` of its channels) or ``"global"``
    (one threshold over all groups' normalized scores, see the module docstring); ``rounding``
    rounds each group's kept channels "down" or to the "nearest" multiple of ``round_to``
    (``harness.prune.rounding``; uniform only). A criterion
    that needs gradients (``taylor``) runs the detection loss backward over
    ``gradient_batches`` (labelled batches from ``harness.prune.taylor.loss_batches``) after
    the graph is built and before channels are removed; the gradients are cleared afterwards.
    Every argument is checked before the model is touched.

    Raises:
        HarnessError: ``ratio`` is not in (0, 1); the criterion needs gradients and no batch was given.
        UnknownCriterionError: ``criterion`` is not one of ``CRITERIA``.
        UnknownStrategyError: ``strategy`` is not one of ``STRATEGIES``, or ``rounding`` not one of
            ``ROUNDINGS`` that it supports.
        RuntimeError: the output shape changed (a bug in a rewrite or in Torch-Pruning).
        UnprunableBlockError: the model holds a block with no prunable rewrite.
    """
    check_ratio(ratio)
    check_strategy(strategy)
    check_rounding(rounding, strategy)
    batches = _gradient_batches(criterion, gradient_batches)
    was_training = model.training
    rewrite_for_pruning(model)
    shape, params = _output_shape(model, example_inputs), count_params(model)
    widths_before = conv_widths(model, skip=prediction_layers(model))
    rss_before = _peak_rss_mib()
    start = time.perf_counter()
    pruner = _pruner(model, ratio, criterion, round_to, example_inputs, strategy, rounding)
    gradient_seconds = (
        _fill_gradients(model, batches, needs_squared_gradients(criterion)) if batches else None
    )
    pruner.step()
    seconds = time.perf_counter() - start - (gradient_seconds or 0.0)
    model.zero_grad(set_to_none=True)
    peak = _peak_rss_mib()
    after = _output_shape(model, example_inputs)
    model.train(was_training)
    if after != shape:
        raise RuntimeError(f"pruning changed the output shape from {shape} to {after}")
    return PruneResult(
        ratio=ratio,
        round_to=round_to,
        rounding=rounding,
        seconds=seconds,
        peak_rss_before_mib=rss_before,
        peak_rss_mib=peak,
        params_before=params,
        params_after=count_params(model),
        output_shape=shape,
        criterion=criterion,
        strategy=strategy,
        gradient_batches=len(batches),
        gradient_seconds=gradient_seconds,
        widths=paired(widths_before, conv_widths(model)),
    )


def _pruner(
    model: nn.Module,
    ratio: float,
    criterion: str,
    round_to: int | None,
    example_inputs: torch.Tensor,
    strategy: str,
    rounding: str,
) -> tp.pruner.BasePruner:
    """The pruner for ``rounding``: Torch-Pruning's own ("down"), or for "nearest" a second pruner
    given per-group ratios read from the first one's groups, with its own rounding off."""
    pruner = build_pruner(model, ratio, criterion, round_to, example_inputs, strategy)
    if rounding == "down":
        return pruner
    ratios = nearest_ratios(pruner, ratio, round_to, attention_channel_groups(model))
    return build_pruner(model, ratio, criterion, None, example_inputs, strategy, ratios)


def _gradient_batches(
    criterion: str, gradient_batches: Iterable[Mapping[str, Any]] | None
) -> list[Mapping[str, Any]]:
    """The batches to backpropagate: all of them for a gradient criterion, none otherwise."""
    if not needs_gradients(criterion):
        return []
    batches = list(gradient_batches or [])
    if not batches:
        raise HarnessError(
            f"pruning criterion {criterion!r} scores channels from loss gradients and needs calibration "
            "batches with labels: pass gradient_batches (see harness.prune.taylor.loss_batches)"
        )
    return batches


def _fill_gradients(model: nn.Module, batches: list[Mapping[str, Any]], squared: bool) -> float:
    """Accumulate the loss gradient of ``batches`` into ``.grad`` (``squared``: the mean squared
    gradient, for the Fisher criterion); return the seconds it took."""
    start = time.perf_counter()
    (accumulate_fisher if squared else accumulate_gradients)(model, batches)
    return time.perf_counter() - start


def _peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
