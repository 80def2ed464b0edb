"""PyTorch eager: the FP32 reference on CPU or CUDA, and FP16/BF16 on CUDA."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from harness.backends.base import LoadRequest, ensure_supported
from harness.builders import materialize
from harness.builders.weights import load_yolo, yolo_net
from harness.cache import file_sha256
from harness.recipes import Variant

_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


class TorchRunner:
    """A fused Ultralytics detection model in inference mode on one device and dtype.

    ``augment=True`` runs Ultralytics' test-time augmentation (``model(x, augment=True)``: the image
    at scales 1, 0.83 and 0.67, the middle one flipped left-right, outputs concatenated for NMS).

    Every call runs on ``threads`` intra-op threads (the session's ``ctx.threads``; there is no
    default, because torch's count at construction may already be a library's). torch's count is
    global and libraries change it: Ultralytics' ``select_device``, which every ``export``, ``val``
    and ``predict`` calls, sets ``cpu_count - 1``, one thread on a 2-core machine, and a reference
    opened before a variant was exported then ran single-threaded: yolo11n at 320 px took 36.0 ms
    on one thread against 27.0 ms on two on a 2-core EPYC, which inflated every "x PyTorch" of a
    run that built its variants.
    """

    def __init__(
        self,
        net: Callable[..., Any],
        device: str,
        dtype: str,
        artifact: Path,
        augment: bool = False,
        *,
        threads: int,
    ) -> None:
        import torch

        self.net = net
        self.augment = augment
        self.threads = threads
        self.device = torch.device(device)
        self.dtype = getattr(torch, dtype)
        self.artifact = artifact
        self.artifact_sha256 = file_sha256(artifact)

    def augmented(self) -> TorchRunner:
        """This runner with test-time augmentation: the same network, device, dtype, artifact and
        threads (a shallow copy, so the artifact is not hashed again)."""
        tta = copy.copy(self)
        tta.augment = True
        return tta

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Run one batch on the runner's threads; copying the result to the host waits for the device."""
        import torch

        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        x = torch.from_numpy(batch).to(self.device, self.dtype)
        with torch.inference_mode():
            y = self.net(x, augment=True) if self.augment else self.net(x)
        if isinstance(y, tuple | list):
            y = y[0]
        return y.float().cpu().numpy()


class TorchBackend:
    """Loads the variant's checkpoint through Ultralytics and runs it eagerly."""

    def unsupported(self, variant: Variant, device: str) -> str | None:
        """Half precisions run on CUDA only; a CUDA device must exist when asked for."""
        import torch

        if variant.precision not in _DTYPES:
            return f"PyTorch eager has no {variant.precision} path (supported: {', '.join(_DTYPES)})"
        if device.startswith("cuda") and not torch.cuda.is_available():
            return f"device {device!r} requested but torch.cuda.is_available() is False"
        if variant.precision != "fp32" and not device.startswith("cuda"):
            return f"PyTorch {variant.precision} inference is measured on CUDA only; device is {device!r}"
        return None

    def load(self, request: LoadRequest) -> TorchRunner:
        """Materialize the checkpoint, fuse Conv+BN, move it to the device and dtype."""
        ensure_supported(self, request)
        return self.open(materialize(request.variant.source, request.ctx), "", request)

    def open(
        self, path: Path, sha256: str, request: LoadRequest, prepare: Callable[[Any], object] | None = None
    ) -> TorchRunner:
        """Load the checkpoint at ``path``, fuse Conv+BN, move it to the device and dtype;
        ``prepare`` changes the loaded network first (a study's variant of the checkpoint: its
        one-to-one head kept, residual blocks removed)."""
        import torch

        torch.set_num_threads(request.ctx.threads)
        yolo = load_yolo(path)
        if prepare is not None:
            prepare(yolo_net(yolo))
        yolo.fuse()
        dtype = _DTYPES[request.variant.precision]
        net = yolo_net(yolo).to(request.ctx.device).to(getattr(torch, dtype)).eval()
        return TorchRunner(net, request.ctx.device, dtype, path, threads=request.ctx.threads)
