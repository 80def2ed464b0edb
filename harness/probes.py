"""Footprint figures that need a built model: peak memory of a serving process, network size.

The peak memory is measured in a fresh process that only loads the variant and runs one batch. An
in-process reading would be polluted by whatever the run loaded before (allocator pools are
reused, so a second model can look free). The child process starts clean: its peak resident set
is what a process serving this variant needs, runtime libraries included. On CUDA with the torch
backend the figure is torch's peak CUDA allocation instead.

This module sits above :mod:`harness.backends` and :mod:`harness.builders` (it loads and
materializes), so that :mod:`harness.measure` stays free of both.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_mod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.builders import BuildContext, materialize
from harness.builders.weights import load_yolo, yolo_net
from harness.measure.size import count_params, gflops
from harness.recipes import SourceRecipe, Variant

__all__ = ["ProbeRequest", "memory_metrics", "network_size", "peak_memory_mb"]

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


def memory_metrics(request: ProbeRequest) -> dict[str, float | None]:
    """Peak memory of a fresh process serving the variant (see :func:`peak_memory_mb`)."""
    return {"peak_memory_mb": peak_memory_mb(request)}


def network_size(source: SourceRecipe, imgsz: int, ctx: BuildContext) -> dict[str, float | None]:
    """params and GFLOPs of the fused source network at ``imgsz`` (the same for every backend)."""
    yolo = load_yolo(materialize(source, ctx))
    yolo.fuse()
    net = yolo_net(yolo).eval()
    return {"params": float(count_params(net)), "gflops": gflops(net, imgsz)}
