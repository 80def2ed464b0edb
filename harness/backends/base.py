"""The one interface every backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from harness.builders import BuildContext
from harness.errors import BackendUnavailable
from harness.recipes import Variant


@dataclass(frozen=True)
class LoadRequest:
    """What to load: a variant, at a fixed batch size, with the session's build context."""

    variant: Variant
    batch: int
    ctx: BuildContext


class Runner(Protocol):
    """A loaded model: float32 NCHW in [0, 1] -> the raw detection output as float32."""

    artifact: Path
    artifact_sha256: str

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Run one batch; returns only after the device has finished (results on the host)."""
        ...


class Backend(Protocol):
    """Builds (through the cache) and loads the artifact a variant needs."""

    def unsupported(self, variant: Variant, device: str) -> str | None:
        """Why this backend cannot run ``variant`` here, or None when it can."""
        ...

    def load(self, request: LoadRequest) -> Runner:
        """Build what is missing and return a ready runner; raises BackendUnavailable."""
        ...

    def open(self, path: Path, sha256: str, request: LoadRequest) -> Runner:
        """A runner on an artifact this backend built before (``path``, e.g. a baseline's, kept in
        the cache), run as ``request``'s variant would be; nothing is built."""
        ...


def ensure_supported(backend: Backend, request: LoadRequest) -> None:
    """Raise BackendUnavailable (a pytest skip) with the backend's reason when it cannot run here."""
    reason = backend.unsupported(request.variant, request.ctx.device)
    if reason:
        raise BackendUnavailable(reason)
