"""The detection head of an Ultralytics detection network, typed for the checker."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:  # nothing here imports torch at run time (the memory probe must not load it)
    from torch import nn
    from ultralytics.nn.modules import Detect


def detect_head(net: nn.Module) -> Detect:
    """The detection head: the last layer of ``net.model``, Ultralytics' layer list.

    torch types a submodule read through ``nn.Module.__getattr__`` as ``Tensor | Module``; every
    Ultralytics detection network keeps its ``Detect`` (or a subclass) last in ``model``.
    """
    return cast("Detect", cast("nn.Sequential", net.model)[-1])
