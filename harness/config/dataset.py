"""The ``[dataset]`` table: size and seed of the built-in synthetic dataset."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from harness.config._tables import _IntTable

__all__ = ["DatasetSpec"]


@dataclass(frozen=True)
class DatasetSpec(_IntTable):
    """Size and seed of the built-in synthetic dataset (ignored when ``data`` is set)."""

    MINIMUMS: ClassVar[Mapping[str, int]] = {"n_train": 1, "n_val": 1, "n_calib": 1, "seed": 0}
    n_train: int
    n_val: int
    n_calib: int
    seed: int
