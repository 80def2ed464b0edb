"""Prunable forms of the Ultralytics blocks that defeat Torch-Pruning's dependency tracking.

Each class computes exactly what the block it replaces computes; only the layout of the
parameters changes, so that every channel dependency is visible to a graph tracer:

- ``C2fPrunable`` replaces ``C2f`` and ``C3k2``: the ``cv1`` output that the original cuts in two
  with ``chunk`` becomes two convolutions, ``cv0`` and ``cv1``. Torch-Pruning maps the outputs of a
  split in the order it discovers them, not in split order, so ``chunk`` sends indices to the wrong
  half (the ``IndexError`` on YOLOv8).
- ``C2PSAPrunable`` replaces ``C2PSA`` the same way (its ``cv1`` output is ``split`` in two).
- ``PrunableAttention`` replaces ``Attention``: one ``qkv`` convolution viewed as
  (batch, heads, 2 * key_dim + head_dim, pixels) becomes three convolutions ``q``, ``k`` and ``v``.
  The parameter-free core is two modules, ``AttentionScores`` (q, k -> softmax weights) and
  ``AttentionMix`` (v, weights -> output), so that a tracer can couple q with k, and v with the
  output, without coupling q with v. Traced through, the original's view and matmuls send
  Torch-Pruning's index mapping into an unbounded loop (minutes, gigabytes on YOLO11 and YOLO26).

These classes import nothing from Torch-Pruning: a pruned model needs only this module to load.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import NoReturn

import torch
from torch import nn
from ultralytics.nn.modules.conv import Conv

_BARRIERS: ContextVar[bool] = ContextVar("harness_prune_tracing_barriers", default=False)


class _TracingBarrier(torch.autograd.Function):
    """Runs ``fn`` as one autograd node whose inputs are exactly the tensors passed in."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx, fn: Callable[..., torch.Tensor], *tensors: torch.Tensor
    ) -> torch.Tensor:
        """Compute ``fn(*tensors)``; autograd records none of the operations inside."""
        return fn(*tensors)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, *grads: torch.Tensor) -> NoReturn:
        """Refuse: the barrier exists only while a dependency graph is traced."""
        raise RuntimeError(
            "a tracing barrier is not differentiable; leave tracing_barriers() before training"
        )


@contextmanager
def tracing_barriers() -> Iterator[None]:
    """Within this context the attention cores run as single autograd nodes (for graph tracing only)."""
    token = _BARRIERS.set(True)
    try:
        yield
    finally:
        _BARRIERS.reset(token)


def _through_barrier(fn: Callable[..., torch.Tensor], *tensors: torch.Tensor) -> torch.Tensor:
    """``fn(*tensors)``, wrapped in one autograd node while ``tracing_barriers()`` is active."""
    return _TracingBarrier.apply(fn, *tensors) if _BARRIERS.get() else fn(*tensors)


class C2fPrunable(nn.Module):
    """``C2f`` / ``C3k2`` with the chunked ``cv1`` held as two convolutions ``cv0`` and ``cv1``."""

    def __init__(self, cv0: Conv, cv1: Conv, m: nn.ModuleList, cv2: Conv) -> None:
        """Assemble from converted parts (see ``harness.prune.rewrite``)."""
        super().__init__()
        self.cv0, self.cv1, self.m, self.cv2 = cv0, cv1, m, cv2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same as ``C2f.forward``: both halves, then each inner block on the last output, then ``cv2``."""
        y = [self.cv0(x), self.cv1(x)]
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


class C2PSAPrunable(nn.Module):
    """``C2PSA`` with the split ``cv1`` held as two convolutions ``cv0`` (bypass) and ``cv1`` (attention)."""

    def __init__(self, cv0: Conv, cv1: Conv, m: nn.Sequential, cv2: Conv) -> None:
        """Assemble from converted parts (see ``harness.prune.rewrite``)."""
        super().__init__()
        self.cv0, self.cv1, self.m, self.cv2 = cv0, cv1, m, cv2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same as ``C2PSA.forward``: bypass half, PSA blocks on the other half, then ``cv2``."""
        return self.cv2(torch.cat((self.cv0(x), self.m(self.cv1(x))), 1))


class AttentionScores(nn.Module):
    """Per-head softmax(scale * q^T k): the query/key channels it consumes are pruned together."""

    def __init__(self, num_heads: int, scale: float) -> None:
        """``scale`` is the original key_dim ** -0.5 and stays fixed when key dimensions are pruned."""
        super().__init__()
        self.num_heads, self.scale = num_heads, scale

    def _scores(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        b, _, h, w = q.shape
        q = q.view(b, self.num_heads, -1, h * w)
        k = k.view(b, self.num_heads, -1, h * w)
        return ((q * self.scale).transpose(-2, -1) @ k).softmax(dim=-1)

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Attention weights of shape (batch, heads, pixels, pixels)."""
        return _through_barrier(self._scores, q, k)


class AttentionMix(nn.Module):
    """Per-head v @ weights^T: output channel i is value channel i."""

    def __init__(self, num_heads: int) -> None:
        """Values are viewed as ``num_heads`` equal slices of their channels."""
        super().__init__()
        self.num_heads = num_heads

    def _mix(self, v: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
        b, c, h, w = v.shape
        return (v.view(b, self.num_heads, -1, h * w) @ attn.transpose(-2, -1)).view(b, c, h, w)

    def forward(self, v: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
        """Attended values, shaped like ``v``."""
        return _through_barrier(self._mix, v, attn)


class PrunableAttention(nn.Module):
    """Ultralytics ``Attention`` with separate q, k, v convolutions (head-major channel order).

    Head sizes are read from the tensors at run time, so pruning the same dimensions in every
    head (key dimensions in q and k together, value dimensions in v, pe and proj together) leaves a
    working module with no attribute to update.
    """

    def __init__(self, q: Conv, k: Conv, v: Conv, pe: Conv, proj: Conv, num_heads: int, scale: float) -> None:
        """Assemble from converted parts (see ``harness.prune.rewrite``)."""
        super().__init__()
        self.q, self.k, self.v, self.pe, self.proj = q, k, v, pe, proj
        self.scores = AttentionScores(num_heads, scale)
        self.mix = AttentionMix(num_heads)

    @property
    def num_heads(self) -> int:
        """Number of attention heads."""
        return self.scores.num_heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same as ``Attention.forward``: proj(attended values + pe(values))."""
        v = self.v(x)
        attn = self.scores(self.q(x), self.k(x))
        return self.proj(self.mix(v, attn) + self.pe(v))
