"""Model footprint: parameters, GFLOPs, file size and peak memory."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

_MIB = 1024 * 1024


def count_params(net: object) -> int:
    """Number of parameters of a torch module (every tensor, trainable or not)."""
    return int(sum(p.numel() for p in net.parameters()))  # type: ignore[attr-defined]


def gflops(net: object, imgsz: int) -> float | None:
    """GFLOPs of one forward pass at ``imgsz`` via Ultralytics' THOP profiling; None if unmeasured."""
    from ultralytics.utils.torch_utils import get_flops

    value = float(get_flops(net, imgsz))
    return value if value > 0 else None


def file_bytes(path: Path) -> int:
    """Size of the artifact on disk."""
    return path.stat().st_size


def _status_kib(field: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (Linux ``clear_refs`` value 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_host_memory_mb(fn: Callable[[], object]) -> float | None:
    """Peak resident memory that ``fn`` adds to the process, in MiB; None where not measurable.

    Reads Linux's VmHWM after resetting it, minus the resident size before the call.
    """
    before = _status_kib("VmRSS")
    if before is None or not _reset_peak_rss():
        return None
    fn()
    peak = _status_kib("VmHWM")
    if peak is None:
        return None
    return max(peak - before, 0) * 1024 / _MIB


def peak_cuda_memory_mb(fn: Callable[[], object], device: str) -> float:
    """Peak CUDA memory allocated by torch while ``fn`` runs, in MiB."""
    import torch

    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    fn()
    torch.cuda.synchronize(device)
    return (torch.cuda.max_memory_allocated(device) - base) / _MIB
