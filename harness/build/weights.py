"""Loading Ultralytics checkpoints with clear errors for missing or corrupt files."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import WeightsError

if TYPE_CHECKING:
    from ultralytics import YOLO

# What torch.load / Ultralytics raise for a file that is not a checkpoint.
_LOAD_ERRORS = (
    RuntimeError,
    TypeError,
    EOFError,
    pickle.UnpicklingError,
    zipfile.BadZipFile,
    KeyError,
    AttributeError,
    ValueError,
    ModuleNotFoundError,
)


def load_yolo(path: Path) -> YOLO:
    """Open a ``.pt`` through Ultralytics' ordinary loading path, or raise WeightsError."""
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist (expected an Ultralytics .pt checkpoint)")
    if path.stat().st_size == 0:
        raise WeightsError(f"weights file {path} is empty (expected an Ultralytics .pt checkpoint)")
    from ultralytics import YOLO

    try:
        model = YOLO(str(path), task="detect")
    except _LOAD_ERRORS as exc:
        raise WeightsError(
            f"weights file {path} is not a loadable Ultralytics checkpoint: {type(exc).__name__}: {exc}"
        ) from exc
    if getattr(model, "task", None) != "detect":
        raise WeightsError(f"weights file {path} holds a {model.task!r} model; expected a detection model")
    return model
