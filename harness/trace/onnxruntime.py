"""ONNX Runtime traces: the session's own profiling JSON (Chrome trace format), per kernel."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from harness.backends.onnxruntime_backend import OrtRunner
from harness.errors import HarnessError
from harness.trace.ops import OpTime, Profile, ort_kind, summarize

__all__ = ["profile_onnxruntime", "read_ort_profile"]


def profile_onnxruntime(runner: OrtRunner, x: np.ndarray, rounds: int, dest: Path) -> Profile:
    """Run ``x`` ``rounds`` times in a profiling session on ``runner``'s graph, providers and threads
    (one untimed run first); the JSON goes to ``dest`` (``.json`` added)."""
    prefix = dest.with_name(dest.name + "-ort")
    session = OrtRunner(runner.artifact, runner.artifact_sha256, runner.providers, runner.threads, prefix)
    session(x)
    for _ in range(rounds):
        session(x)
    written = Path(session.session.end_profiling())
    final = dest.with_name(dest.name + ".json")
    written.replace(final)
    ops, inferences = read_ort_profile(final, skip=1)
    return Profile("onnxruntime", final, ops, inferences)


def read_ort_profile(path: Path, skip: int = 0) -> tuple[tuple[OpTime, ...], int]:
    """Operator types of an ONNX Runtime profile, per inference, leaving out the first ``skip``
    runs (warm-up): kernel events (``*_kernel_time``) between ``model_run`` events."""
    try:
        events = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{path}: not an ONNX Runtime profile ({exc})") from exc
    runs = sorted(
        e["ts"] + e["dur"] for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"
    )
    if len(runs) <= skip:
        raise HarnessError(f"{path}: {len(runs)} model runs traced, expected more than {skip}")
    start = runs[skip - 1] if skip else float("-inf")
    kernels = [
        (e["args"]["op_name"], ort_kind(e["args"]["op_name"]), e["dur"] / 1e3, 1)
        for e in events
        if e.get("cat") == "Node" and str(e.get("name", "")).endswith("_kernel_time") and e["ts"] >= start
    ]
    return summarize(kernels, len(runs) - skip), len(runs) - skip
