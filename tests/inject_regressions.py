"""A pytest plugin that injects known regressions into a harness run, to show the gate catches them.

Loaded with ``-p inject_regressions`` (``tests/`` on ``PYTHONPATH``). ``HARNESS_INJECT_SLOWDOWN``
names variants and slowdowns, ``"<variant>=0.15,<variant>=1.0"``: each call of those variants'
runners (the run's and any loaded anew) busy-waits that fraction of the call's own time (so a 15 % slowdown stays 15 % whichever
latency regime the machine is in, :func:`harness.studies.verdict_calibration.slowed`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from harness.backends.base import Runner
from harness.bench import Bench
from harness.recipes import Variant
from harness.studies.verdict_calibration import busy_wait

SLOWDOWN_ENV = "HARNESS_INJECT_SLOWDOWN"


class SlowedRunner:
    """``inner`` made ``slowdown`` slower on every call (same artifact, same outputs)."""

    def __init__(self, inner: Runner, slowdown: float) -> None:
        self.inner, self.slowdown = inner, slowdown
        self.artifact, self.artifact_sha256 = inner.artifact, inner.artifact_sha256

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        out = self.inner(batch)
        busy_wait(self.slowdown * (time.perf_counter() - start))
        return out


def slowdowns(text: str) -> dict[str, float]:
    """``"a=0.15,b=1"`` -> ``{"a": 0.15, "b": 1.0}``."""
    pairs = (item.split("=", 1) for item in text.split(",") if item.strip())
    return {slug.strip(): float(value) for slug, value in pairs}


def pytest_configure(config: pytest.Config) -> None:
    """Wrap the runners of the variants named in ``HARNESS_INJECT_SLOWDOWN``."""
    wanted = slowdowns(os.environ.get(SLOWDOWN_ENV, ""))
    if not wanted:
        return
    original, fresh = Bench.runner, Bench.fresh_runner

    def runner(self: Bench, variant: Variant, batch: int = 1) -> Runner:
        inner = original(self, variant, batch)
        slowdown = wanted.get(variant.slug)
        return inner if slowdown is None else SlowedRunner(inner, slowdown)

    def fresh_runner(self: Bench, variant: Variant, artifact: tuple[Path, str] | None = None) -> Runner:
        """A fresh load is as slow as the variant's artifact (a baseline's artifact is not slowed)."""
        inner = fresh(self, variant, artifact)
        slowdown = wanted.get(variant.slug) if artifact is None else None
        return inner if slowdown is None else SlowedRunner(inner, slowdown)

    Bench.runner = runner  # type: ignore[method-assign]
    Bench.fresh_runner = fresh_runner  # type: ignore[method-assign]
