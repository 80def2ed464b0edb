"""Profiler traces of timed variants: each backend's own profiler, one operator table for all.

On request (``--harness-trace`` or ``[latency] trace_rounds``) every timed variant is also run
under its backend's profiler (:func:`profile_runner`): PyTorch's ``torch.profiler`` (a Chrome
trace), ONNX Runtime's session profiling (its JSON), OpenVINO's per-node performance counters
(with the kernel and precision each node executed in). The operator types, their time per
inference and their kind (:mod:`harness.trace.ops`) go to the report; the files go to
``reports/<run>/traces/``. A backend without a profiler here gets a note, not a failure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.errors import HarnessError
from harness.trace.ops import OpTime, Profile

__all__ = ["OpTime", "Profile", "TraceUnavailable", "profile_runner"]


class TraceUnavailable(HarnessError):
    """This runner's backend has no profiler the harness can read; the message says why."""


def profile_runner(runner: object, x: np.ndarray, rounds: int, dest: Path) -> Profile:
    """Trace ``rounds`` inferences of ``runner`` on ``x`` with its backend's profiler; the backend's
    file goes to ``dest`` plus ``.json``. Raises TraceUnavailable for a runner without one."""
    from harness.backends.ncnn_backend import NcnnRunner
    from harness.backends.onnxruntime_backend import OrtRunner
    from harness.backends.openvino_backend import OpenVinoRunner
    from harness.backends.torch_backend import TorchRunner

    if isinstance(runner, TorchRunner):
        from harness.trace.torch import profile_torch

        return profile_torch(runner, x, rounds, dest)
    if isinstance(runner, OrtRunner):
        from harness.trace.onnxruntime import profile_onnxruntime

        return profile_onnxruntime(runner, x, rounds, dest)
    if isinstance(runner, OpenVinoRunner):
        from harness.trace.openvino import profile_openvino

        return profile_openvino(runner, x, rounds, dest)
    if isinstance(runner, NcnnRunner):
        raise TraceUnavailable(
            "NCNN's Python API exposes no per-layer timing (ncnn times layers only in a C++ build "
            "with NCNN_BENCHMARK); no trace"
        )
    raise TraceUnavailable(f"no profiler is wired for {type(runner).__name__}; no trace")
