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
    """Size of the artifact on disk, with its weights file where the format splits them off
    (OpenVINO ``model.xml`` + ``model.bin``, NCNN ``model.ncnn.param`` + ``model.ncnn.bin``)."""
    weights = path.with_suffix(".bin")
    extra = weights.stat().st_size if path.suffix in (".xml", ".param") and weights.is_file() else 0
    return path.stat().st_size + extra


def read_status_kib(field: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` (Linux), e.g. ``VmHWM``; None elsewhere."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def peak_cuda_memory_mb(fn: Callable[[], object], device: str) -> float:
    """Peak CUDA memory allocated by torch while ``fn`` runs, in MiB."""
    import torch

    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / _MIB
