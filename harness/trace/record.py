"""Trace a timed variant and keep what it says as a ``traces`` study row.

A trace is written while the run goes on (maybe in a pytest-xdist worker) into a staging folder
of the cache, under a name no other process uses; the row keeps that path. When the report is
written, :func:`harness.report.traces.place_traces` moves each file to
``<run>/traces/<variant>.json`` and points the row there.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from harness.recipes import Variant
from harness.results import TRACES
from harness.trace import Profile, TraceUnavailable, profile_runner
from harness.trace.ops import KINDS

if TYPE_CHECKING:
    from harness.run import HarnessRun

__all__ = ["trace_row", "trace_variant"]

STAGING = "trace-staging"  # under the cache folder


def trace_variant(run: HarnessRun, variant: Variant, runner: object, x: np.ndarray) -> Profile | None:
    """Trace ``config.latency.trace_rounds`` inferences of ``runner`` and record the row; a
    backend without a profiler gets a row with its note (and None back), not a failure."""
    staging = Path(run.config.cache_dir) / STAGING
    staging.mkdir(parents=True, exist_ok=True)
    dest = staging / f"{variant.slug}-{os.getpid()}-{secrets.token_hex(3)}"
    try:
        profile = profile_runner(runner, x, run.config.latency.trace_rounds, dest)
    except TraceUnavailable as exc:
        run.note(f"harness: {variant.slug}: {exc}")
        run.results.add_study(TRACES, [_identity(variant) | {"note": str(exc)}])
        return None
    run.results.add_study(TRACES, [trace_row(variant, profile)])
    return profile


def _identity(variant: Variant) -> dict[str, object]:
    return {"variant": variant.slug, "model": variant.model, "backend": variant.backend,
            "precision": variant.precision, "prune": variant.ratio}  # fmt: skip


def trace_row(variant: Variant, profile: Profile) -> dict[str, object]:
    """The study row of one trace: traced time, each kind's share, every operator type (slowest first),
    the convolutions' MAC rate (None where not known)."""
    shares = {f"{kind}_share": profile.share(kind) for kind in KINDS}
    ops = [{"op": o.op, "kind": o.kind, "ms": o.ms, "calls": o.calls} for o in profile.ops]
    return _identity(variant) | {
        "inferences": profile.inferences, "traced_ms": profile.total_ms, **shares, "ops": ops,
        "conv_gmac_per_s": profile.conv_gmac_per_s,
        "file": str(profile.file) if profile.file else None, "note": None,
    }  # fmt: skip
