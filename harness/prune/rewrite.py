"""Replace, in place, the Ultralytics blocks that defeat dependency tracking with prunable equivalents.

``rewrite_for_pruning(model)`` checks the whole model first and raises ``UnprunableBlockError``
naming the first block that breaks tracking and has no rewrite, before it changes anything. It
then swaps every rewritable block for its class in ``harness.prune.modules``, copying weights
(convolution rows and batch-norm statistics) exactly, so the rewritten model computes the same
outputs as the original. Rewriting an already rewritten model changes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import torch
import ultralytics.nn.modules as ul
from torch import nn
from ultralytics.nn.modules.block import C2PSA, Attention, C2f, C2fCIB, C2fPSA, C3k2
from ultralytics.nn.modules.conv import Conv

from harness.errors import HarnessError
from harness.prune.modules import C2fPrunable, C2PSAPrunable, PrunableAttention

Converter = Callable[[Any], nn.Module]  # each takes the one block type it is registered for

# Ultralytics blocks that break Torch-Pruning's tracing and have no rewrite yet, by class name
# (looked up at run time, so a class missing from the installed Ultralytics is simply skipped).
BLOCKING: dict[str, str] = {
    "A2C2f": "area attention (AAttn) reshapes one qkv convolution into areas and heads",
    "AAttn": "reshapes one qkv convolution into areas and heads",
    "PSA": "splits cv1's output in two and runs Attention on one half",
    "C2fAttn": "chunks cv1's output and mixes in a text guide (MaxSigmoidAttnBlock)",
    "RepNCSPELAN4": "chunks cv1's output in two",
    "ELAN1": "chunks cv1's output in two",
    "CBLinear": "splits one convolution's output into several branches",
    "ImagePoolingAttn": "reshapes features into attention heads",
    "MaxSigmoidAttnBlock": "reshapes features into attention heads",
}


class UnprunableBlockError(HarnessError):
    """A model holds a block that defeats dependency tracking and has no prunable rewrite."""


class UnsupportedLayoutError(HarnessError):
    """A block's layout (e.g. a grouped or fused convolution) is not one the rewrite can copy exactly."""


def rewrite_for_pruning(model: nn.Module) -> nn.Module:
    """Rewrite ``model`` in place into prunable form and return it.

    Raises:
        UnprunableBlockError: the model holds a block listed in ``BLOCKING``; nothing is changed.
    """
    check_rewritable(model)
    _rewrite_children(model)
    return model


def check_rewritable(model: nn.Module) -> None:
    """Raise ``UnprunableBlockError`` for the first block that breaks tracking and has no rewrite."""
    for name, module in model.named_modules():
        reason = blocking_reason(module)
        if reason is not None:
            where = name or "<root>"
            raise UnprunableBlockError(
                f"{type(module).__name__} at '{where}' has no prunable rewrite: it {reason}, which defeats "
                f"Torch-Pruning's dependency tracking (rewritable: {', '.join(sorted(rewritable_types()))})"
            )


def blocking_reason(module: nn.Module) -> str | None:
    """Why ``module`` breaks tracking, if it is a known blocking block without a rewrite; else None."""
    if isinstance(module, C2f) and type(module) not in _CONVERTERS:
        return "is a C2f variant whose cv1 output is chunked in two"
    for cls_name, reason in BLOCKING.items():
        cls = getattr(ul, cls_name, None)
        if cls is not None and type(module) is cls:
            return reason
    return None


def rewritable_types() -> list[str]:
    """Names of the Ultralytics classes ``rewrite_for_pruning`` converts."""
    return [cls.__name__ for cls in _CONVERTERS]


def _rewrite_children(parent: nn.Module) -> None:
    """Depth-first: convert each child that has a converter, then descend into the result."""
    for name, child in list(parent.named_children()):
        convert = _CONVERTERS.get(type(child))
        new = convert(child) if convert is not None else child
        if new is not child:
            _carry_layer_attributes(child, new)
            setattr(parent, name, new)
        _rewrite_children(new)


def _carry_layer_attributes(old: nn.Module, new: nn.Module) -> None:
    """Keep the attributes ``DetectionModel`` routes with (``f``, ``i``) and reports (``np``, ``type``)."""
    for attr in ("f", "i", "np"):
        if hasattr(old, attr):
            setattr(new, attr, getattr(old, attr))
    if hasattr(old, "type"):
        new.type = f"{type(new).__module__}.{type(new).__name__}"  # type: ignore[assignment, method-assign]


def _iter_rows(total: int, parts: int) -> Iterator[torch.Tensor]:
    """Row indices of ``parts`` equal consecutive slices of ``total`` rows."""
    size = total // parts
    for start in range(0, total, size):
        yield torch.arange(start, start + size)


def take_out_channels(conv: Conv, rows: torch.Tensor) -> Conv:
    """A copy of ``conv`` keeping only output channels ``rows`` (weights and BN statistics copied exactly)."""
    if conv.conv.groups != 1:
        raise UnsupportedLayoutError(f"cannot slice the outputs of a grouped convolution ({conv.conv})")
    if not hasattr(conv, "bn"):
        raise UnsupportedLayoutError(
            "cannot rewrite a fused Conv (batch norm folded in); rewrite before fuse()"
        )
    new = copy.deepcopy(conv)
    new.conv.weight = _sliced_parameter(conv.conv.weight, rows)
    new.conv.out_channels = len(rows)
    if conv.conv.bias is not None:
        new.conv.bias = _sliced_parameter(conv.conv.bias, rows)
    new.bn = _take_batchnorm(conv.bn, rows)
    return new


def _sliced_parameter(param: nn.Parameter, rows: torch.Tensor) -> nn.Parameter:
    return nn.Parameter(param.detach()[rows].clone(), requires_grad=param.requires_grad)


def _take_batchnorm(bn: nn.BatchNorm2d, rows: torch.Tensor) -> nn.BatchNorm2d:
    like = bn.weight if bn.affine else _buffer(bn, "running_mean")  # keep the device and dtype (CUDA, ...)
    new = nn.BatchNorm2d(
        len(rows),
        bn.eps,
        bn.momentum,
        bn.affine,
        bn.track_running_stats,
        device=like.device,
        dtype=like.dtype,
    )
    new.train(bn.training)
    if bn.affine:
        new.weight = _sliced_parameter(bn.weight, rows)
        new.bias = _sliced_parameter(bn.bias, rows)
    if bn.track_running_stats:
        for name in ("running_mean", "running_var"):
            _buffer(new, name).copy_(_buffer(bn, name)[rows])
        _buffer(new, "num_batches_tracked").copy_(_buffer(bn, "num_batches_tracked"))
    return new


def _buffer(bn: nn.BatchNorm2d, name: str) -> torch.Tensor:
    """The running-statistics buffer ``name`` of ``bn`` (torch types them ``Tensor | None``)."""
    value = getattr(bn, name)
    if not isinstance(value, torch.Tensor):
        raise UnsupportedLayoutError(f"cannot slice {bn}: it has no {name} buffer")
    return value


def _convert_c2f(block: C2f) -> C2fPrunable:
    """C2f and its subclasses that keep ``C2f.forward`` (C3k2, C2fPSA, C2fCIB): split the chunked cv1."""
    cv0, cv1 = (take_out_channels(block.cv1, rows) for rows in _iter_rows(2 * block.c, 2))
    return C2fPrunable(cv0, cv1, block.m, block.cv2)


def _convert_c2psa(block: C2PSA) -> C2PSAPrunable:
    """C2PSA: split cv1 into the bypass half and the attention half."""
    cv0, cv1 = (take_out_channels(block.cv1, rows) for rows in _iter_rows(2 * block.c, 2))
    return C2PSAPrunable(cv0, cv1, block.m, block.cv2)


def _convert_attention(attn: Attention) -> PrunableAttention:
    """Attention: qkv channels are head-major [q (key_dim), k (key_dim), v (head_dim)] per head."""
    heads, kd, hd = attn.num_heads, attn.key_dim, attn.head_dim
    starts = torch.arange(heads)[:, None] * (2 * kd + hd)
    q_rows = (starts + torch.arange(kd)).flatten()
    v_rows = (starts + 2 * kd + torch.arange(hd)).flatten()
    q, k, v = (take_out_channels(attn.qkv, rows) for rows in (q_rows, q_rows + kd, v_rows))
    return PrunableAttention(q, k, v, attn.pe, attn.proj, num_heads=heads, scale=float(attn.scale))


_CONVERTERS: dict[type[nn.Module], Converter] = {
    C2f: _convert_c2f,
    C3k2: _convert_c2f,
    C2fPSA: _convert_c2f,
    C2fCIB: _convert_c2f,
    C2PSA: _convert_c2psa,
    Attention: _convert_attention,
}
