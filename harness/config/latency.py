"""The ``[latency]`` table: how latency is measured."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from harness.config._tables import _IntTable

__all__ = ["LatencySpec"]


@dataclass(frozen=True)
class LatencySpec(_IntTable):
    """How latency is measured: warm-up calls, timed rounds, interleaved rounds, batch."""

    MINIMUMS: ClassVar[Mapping[str, int]] = {
        "warmup": 0, "rounds": 1, "interleaved_rounds": 1, "throughput_batch": 1,
    }  # fmt: skip
    warmup: int
    rounds: int
    interleaved_rounds: int
    throughput_batch: int
