"""Val-split detections kept in the artifact cache, so a warm run re-times but does not re-infer.

Detections are a pure function of the artifact's bytes, the runtime that runs it (backend, device,
precision, library versions), the val split and the pre/postprocessing: all of it is in the key
(``DETECTIONS_SCHEMA`` changes with the harness's pre/postprocessing or mAP matching). Latency,
throughput and memory are measured afresh every run; only accuracy inputs are reused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from harness.cache import ArtifactCache
from harness.datasets.yolo import Sample
from harness.measure.map import Detections, GroundTruth
from harness.recipes import Recipe
from harness.versions import versions

__all__ = [
    "DETECTIONS_SCHEMA",
    "DetectionsRecipe",
    "artifact_identity",
    "cached_detections",
    "runtime_versions",
    "split_stamp",
]

DETECTIONS_SCHEMA = 1
"""Bump when preprocessing, postprocessing (conf, IoU, max detections) or ground-truth reading changes."""

_FILE = "detections.npz"
_RUNTIMES = ("numpy", "opencv-python", "opencv-python-headless", "torch", "ultralytics", "onnxruntime",
             "openvino", "ncnn", "tensorrt")  # fmt: skip


def runtime_versions() -> tuple[tuple[str, str], ...]:
    """Installed versions of every library that can change a detection."""
    return versions(*_RUNTIMES)


def artifact_identity(cache: ArtifactCache, artifact: Path, sha256: str) -> str:
    """What fixes every byte a runner loads: the key of the cache entry holding ``artifact`` (its
    recipe covers all of the entry's files: an OpenVINO .xml and its .bin, an ncnn .param and its
    .bin, whose main file alone can be identical for two models of one architecture), or, for a
    file outside the cache (a user's checkpoint), its sha256."""
    try:
        relative = artifact.resolve().relative_to((cache.root / "artifacts").resolve())
    except ValueError:
        return f"sha256:{sha256}"
    return f"entry:{relative.parts[1]}"


def split_stamp(samples: Sequence[Sample]) -> str:
    """sha256 of every image's and label's path, size and modification time: a user's val split
    edited in place (same ``data.yaml``) gets a new key. A missing label counts as absent."""
    digest = hashlib.sha256()
    for sample in samples:
        for path in (sample.image, sample.label):
            stat = path.stat() if path.exists() else None
            digest.update(
                f"{path}|{stat.st_size if stat else -1}|{stat.st_mtime_ns if stat else -1}\n".encode()
            )
    return digest.hexdigest()


@dataclass(frozen=True)
class DetectionsRecipe(Recipe):
    """The val detections of one loaded artifact on one runtime."""

    kind: ClassVar[str] = "val-detections"
    artifact: str  # artifact_identity
    backend: str
    precision: str
    device: str
    data: str  # the dataset recipe's key
    split: str  # split_stamp of the val samples
    imgsz: int
    versions: tuple[tuple[str, str], ...]
    mode: str = ""  # how the runner runs the artifact beyond the above ("tta": test-time augmentation)
    detections_schema: int = DETECTIONS_SCHEMA

    def describe(self) -> str:
        """One line for progress messages."""
        mode = f" {self.mode}" if self.mode else ""
        return f"val detections of {self.artifact[:18]} on {self.backend} {self.precision}{mode}"


Computed = tuple[Sequence[Detections], Sequence[GroundTruth]]


def cached_detections(
    cache: ArtifactCache, recipe: DetectionsRecipe, compute: Callable[[], Computed]
) -> tuple[list[Detections], list[GroundTruth]]:
    """The stored detections for ``recipe``, computing and storing them (atomically) when absent."""
    artifact = cache.get_or_build(recipe, lambda tmp: _write(tmp, *compute()))
    return _read(artifact.path)


def _write(tmp: Path, dets: Sequence[Detections], gts: Sequence[GroundTruth]) -> str:
    arrays: dict[str, np.ndarray] = {"n": np.array(len(dets))}
    for i, (det, gt) in enumerate(zip(dets, gts, strict=True)):
        arrays |= {f"d{i}_boxes": det.boxes, f"d{i}_scores": det.scores, f"d{i}_classes": det.classes}
        arrays |= {f"g{i}_boxes": gt.boxes, f"g{i}_classes": gt.classes}
    np.savez(tmp / _FILE, **arrays)  # type: ignore[arg-type]
    return _FILE


def _read(path: Path) -> tuple[list[Detections], list[GroundTruth]]:
    with np.load(path) as data:
        n = int(data["n"])
        dets = [
            Detections(data[f"d{i}_boxes"], data[f"d{i}_scores"], data[f"d{i}_classes"]) for i in range(n)
        ]
        gts = [GroundTruth(data[f"g{i}_boxes"], data[f"g{i}_classes"]) for i in range(n)]
    return dets, gts
