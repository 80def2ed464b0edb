"""PyTorch traces: ``torch.profiler`` around the runner's forward passes, exported as a Chrome trace."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.backends.torch_backend import TorchRunner
from harness.trace.ops import Profile, summarize, torch_kind

__all__ = ["profile_torch"]


def profile_torch(runner: TorchRunner, x: np.ndarray, rounds: int, dest: Path) -> Profile:
    """Profile ``rounds`` calls of ``runner`` on ``x`` (one untimed call first; CUDA kernels too on a
    CUDA device); the Chrome trace goes to ``dest`` (``.json`` added). Operator rows count each
    operator's self time, so nested calls are not counted twice."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if runner.device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    runner(x)
    with profile(activities=activities) as prof:
        for _ in range(rounds):
            runner(x)
    final = dest.with_name(dest.name + ".json")
    prof.export_chrome_trace(str(final))
    events = [
        (e.key, torch_kind(e.key), (e.self_cpu_time_total + _self_device_us(e)) / 1e3, e.count)
        for e in prof.key_averages()
    ]
    return Profile("torch", final, summarize((e for e in events if e[2] > 0), rounds), rounds)


def _self_device_us(event: object) -> float:
    """An averaged event's self time on the accelerator (0 where the profiler has none)."""
    return float(getattr(event, "self_device_time_total", 0.0) or 0.0)
