"""Peak memory of a variant, measured in a fresh process that only loads it and runs one batch.

An in-process reading would be polluted by whatever the run loaded before (allocator pools are
reused, so a second model can look free). The child process starts clean: its peak resident set
is what a process serving this variant needs, runtime libraries included. On CUDA with the torch
backend the figure is torch's peak CUDA allocation instead.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_mod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.recipes import Variant

_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class ProbeRequest:
    """Everything the child needs (picklable: no callables)."""

    variant: Variant
    cache_dir: Path
    device: str
    threads: int


def peak_memory_mb(request: ProbeRequest) -> float | None:
    """Peak MiB of a fresh process that loads ``request.variant`` and runs it once; None if unmeasurable."""
    ctx = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[float | None] = ctx.Queue()
    child = ctx.Process(target=_child, args=(request, results), daemon=True)
    child.start()
    try:
        value = results.get(timeout=_TIMEOUT_S)
    except queue_mod.Empty:
        value = None
    child.join(timeout=30)
    if child.is_alive():
        child.kill()
    if child.exitcode not in (0, None):
        raise RuntimeError(f"memory probe for {request.variant.slug} exited with code {child.exitcode}")
    return value


def _child(request: ProbeRequest, results: multiprocessing.Queue[float | None]) -> None:
    from harness.backends.base import LoadRequest
    from harness.backends.registry import get_backend
    from harness.build import BuildContext
    from harness.cache import ArtifactCache
    from harness.measure.size import peak_cuda_memory_mb, read_status_kib

    ctx = BuildContext(ArtifactCache(request.cache_dir), request.device, request.threads)
    backend = get_backend(request.variant.backend)
    x = np.zeros((1, 3, request.variant.imgsz, request.variant.imgsz), dtype=np.float32)
    if request.device.startswith("cuda") and request.variant.backend == "torch":
        runner = backend.load(LoadRequest(request.variant, 1, ctx))
        results.put(peak_cuda_memory_mb(lambda: runner(x), request.device))
        return
    if request.device.startswith("cuda"):
        results.put(None)  # no per-process device figure for this runtime
        return
    backend.load(LoadRequest(request.variant, 1, ctx))(x)
    peak = read_status_kib("VmHWM")
    results.put(None if peak is None else peak / 1024)
