"""Layer pruning: remove whole residual blocks from a YOLO network.

The removable blocks are Ultralytics' ``Bottleneck`` modules with their shortcut on (``x + f(x)``,
same channels in and out): inside C2f (YOLOv8), C3k2 and its C3k (YOLO11, YOLO26). Removing one
replaces it by the identity, which is what its shortcut alone computes, so every tensor shape
around it stays and the block's convolutions are gone from the graph: fewer parameters, fewer
layers, measured latency.
"""

from __future__ import annotations

from torch import nn

__all__ = ["drop_blocks", "residual_blocks"]


def residual_blocks(model: nn.Module) -> list[str]:
    """Qualified names of the residual bottlenecks of ``model``, in module order."""
    from ultralytics.nn.modules.block import Bottleneck

    return [
        name for name, m in model.named_modules() if isinstance(m, Bottleneck) and getattr(m, "add", False)
    ]


def drop_blocks(model: nn.Module, names: list[str] | tuple[str, ...]) -> int:
    """Replace each named residual block of ``model`` by the identity, in place; return the number
    of parameters removed. A name that is not a residual block of ``model`` raises ValueError."""
    allowed = set(residual_blocks(model))
    removed = 0
    for name in names:
        if name not in allowed:
            raise ValueError(
                f"{name!r} is not a residual block of this model (removable: {', '.join(sorted(allowed))})"
            )
        parent_name, _, child = name.rpartition(".")
        removed += sum(p.numel() for p in model.get_submodule(name).parameters())
        setattr(model.get_submodule(parent_name), child, nn.Identity())  # "0" replaces a list's first item
    return removed
