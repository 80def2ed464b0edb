"""The ``[latency]`` table: how latency is measured."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from harness.config._tables import _IntTable

__all__ = ["TRACE_ROUNDS", "LatencySpec"]

TRACE_ROUNDS = 20
"""Inferences per profiler trace when ``--harness-trace`` asks for traces and the config sets none."""


@dataclass(frozen=True)
class LatencySpec(_IntTable):
    """How latency is measured: warm-up calls, timed rounds, interleaved rounds, batch, and the
    inferences each timed variant's profiler trace records (``trace_rounds``; 0: no traces,
    ``--harness-trace`` turns them on at :data:`TRACE_ROUNDS`)."""

    MINIMUMS: ClassVar[Mapping[str, int]] = {
        "warmup": 0, "rounds": 1, "interleaved_rounds": 1, "throughput_batch": 1, "trace_rounds": 0,
    }  # fmt: skip
    warmup: int
    rounds: int
    interleaved_rounds: int
    throughput_batch: int
    trace_rounds: int = 0
