"""Loading Ultralytics checkpoints with clear errors for missing or corrupt files."""

from __future__ import annotations

import _compat_pickle
import importlib.util
import pickle
import pickletools
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, cast

from harness.errors import WeightsError

if TYPE_CHECKING:
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel

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
    check_module_definitions(path)
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


def yolo_net(yolo: YOLO) -> DetectionModel:
    """The detection network of a ``YOLO`` from ``load_yolo``.

    Ultralytics types ``YOLO.model`` as what it holds before loading (``str | None``); after
    ``load_yolo`` it is the loaded ``DetectionModel``, which this says to the type checker.
    """
    return cast("DetectionModel", yolo.model)


def load_net(path: Path) -> DetectionModel:
    """The detection network of the checkpoint at ``path`` (``load_yolo``'s errors)."""
    return yolo_net(load_yolo(path))


def check_module_definitions(path: Path) -> None:
    """Raise WeightsError when ``path`` pickles classes from a module that cannot be imported here.

    A pruned checkpoint holds the harness's prunable layers (``harness.prune.modules``); loading it
    where that module is missing would make Ultralytics try to pip-install a package named after
    the module. A file that is not a zip checkpoint is left to the ordinary loader's errors.
    """
    missing = sorted({m for m in pickled_modules(path) if not _importable(m)})
    missing = [m for m in missing if not m.startswith("ultralytics.")]  # Ultralytics maps its legacy paths
    if missing:
        hint = (
            " (the harness's pruned layers: install the harness, e.g. `pip install -e .`, so that "
            "pickle can import them; no explicit import is needed)"
            if any(m.startswith("harness.") for m in missing)
            else ""
        )
        raise WeightsError(
            f"weights file {path} needs the module definitions of {', '.join(missing)}, which cannot be "
            f"imported in this environment{hint}"
        )


def pickled_modules(path: Path) -> set[str]:
    """Modules whose classes a torch zip checkpoint's pickle refers to (empty for other files)."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
            data = archive.read(name) if name else b""
    except (zipfile.BadZipFile, OSError):
        return set()
    modules: set[str] = set()
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name == "GLOBAL":
                modules.add(str(arg).split(" ", 1)[0])
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                modules.add(strings[-2])
            elif isinstance(arg, str):
                strings.append(arg)
    except (ValueError, pickle.UnpicklingError):
        return modules
    return modules


def _importable(module: str) -> bool:
    """Whether ``module`` can be found (its parent packages are imported to look)."""
    module = _compat_pickle.IMPORT_MAPPING.get(module, module)  # protocol 2 names builtins '__builtin__'
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def checkpoint_train_args(path: Path) -> dict[str, object]:
    """The Ultralytics training arguments stored in a checkpoint (``ckpt["train_args"]``), or {}.

    Loading unpickles the file (it runs code): call it only on a file the user named, after any
    ``weights_sha256`` pin was checked.
    """
    return stored_train_args(load_yolo(path))


def stored_train_args(model: YOLO) -> dict[str, object]:
    """The training arguments a loaded checkpoint stores (``ckpt["train_args"]``), or {}."""
    ckpt = getattr(model, "ckpt", None) or {}
    stored = ckpt.get("train_args") if isinstance(ckpt, dict) else None
    return dict(stored) if isinstance(stored, dict) else {}
