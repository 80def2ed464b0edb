"""Frozen dataclass recipes: every knob that changes an artifact, hashed into a cache key.

A recipe's canonical JSON (sorted keys, type tag, schema version, nested recipes inlined) is
hashed with sha256; the hash keys the artifact cache. Fields marked ``hashed=False`` (such as a
local path whose content is already covered by a checksum) are left out of the hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

RECIPE_SCHEMA = 1


def unhashed(default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field excluded from the recipe hash (for example a local path)."""
    if default is dataclasses.MISSING:
        return field(metadata={"hashed": False})
    return field(default=default, metadata={"hashed": False})


@dataclass(frozen=True)
class Recipe:
    """Base class: a build step described by value."""

    kind: ClassVar[str] = "recipe"

    def to_dict(self, *, for_hash: bool = False) -> dict[str, Any]:
        """JSON-ready dict with a type tag; nested recipes become nested dicts."""
        out: dict[str, Any] = {"kind": self.kind, "schema": RECIPE_SCHEMA}
        for f in dataclasses.fields(self):
            if for_hash and not f.metadata.get("hashed", True):
                continue
            out[f.name] = _plain(getattr(self, f.name), for_hash)
        return out

    def canonical_json(self) -> str:
        """The exact bytes that are hashed: sorted keys, no whitespace."""
        return json.dumps(self.to_dict(for_hash=True), sort_keys=True, separators=(",", ":"))

    def key(self) -> str:
        """sha256 of the canonical JSON: the artifact cache key."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def describe(self) -> str:
        """One line for progress messages."""
        return self.kind


def _plain(value: Any, for_hash: bool) -> Any:
    if isinstance(value, Recipe):
        return value.to_dict(for_hash=for_hash)
    if isinstance(value, QuantSpec):
        return {k: _plain(v, for_hash) for k, v in value.to_dict().items()}
    if isinstance(value, tuple | list):
        return [_plain(v, for_hash) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    return value


@dataclass(frozen=True)
class SyntheticDataRecipe(Recipe):
    """The built-in synthetic dataset, generated from a seed."""

    kind: ClassVar[str] = "synthetic-data"
    seed: int
    imgsz: int
    n_train: int
    n_val: int
    n_calib: int
    generator_version: int

    def describe(self) -> str:
        """E.g. ``synthetic dataset 640/200/128 images at 320 px``."""
        return f"synthetic dataset {self.n_train}/{self.n_val}/{self.n_calib} images at {self.imgsz} px"


@dataclass(frozen=True)
class UserDataRecipe(Recipe):
    """A user's Ultralytics ``data.yaml``; its content hash stands for the data."""

    kind: ClassVar[str] = "user-data"
    sha256: str
    yaml_path: str = unhashed("")


DataRecipe = SyntheticDataRecipe | UserDataRecipe


@dataclass(frozen=True)
class TrainRecipe(Recipe):
    """Train an Ultralytics model YAML from scratch on a dataset with a fixed seed."""

    kind: ClassVar[str] = "train"
    cfg: str
    data: DataRecipe
    epochs: int
    batch: int
    imgsz: int
    seed: int
    versions: tuple[tuple[str, str], ...]
    hyp: tuple[tuple[str, float | int | str], ...] = ()
    init: TrainRecipe | WeightsRecipe | None = None  # start from these weights instead of ``cfg``

    def describe(self) -> str:
        """E.g. ``train yolo11n.yaml: 16 epochs at 160 px``."""
        start = " from the previous stage" if self.init else ""
        return f"train {self.cfg}: {self.epochs} epochs at {self.imgsz} px{start}"


@dataclass(frozen=True)
class WeightsRecipe(Recipe):
    """A user's existing ``.pt``; its content hash stands for the weights."""

    kind: ClassVar[str] = "weights"
    sha256: str
    path: str = unhashed("")


SourceRecipe = TrainRecipe | WeightsRecipe


@dataclass(frozen=True)
class ExportRecipe(Recipe):
    """Export a PyTorch checkpoint to a deployable format through Ultralytics' exporter."""

    kind: ClassVar[str] = "export"
    source: SourceRecipe
    format: str
    imgsz: int
    batch: int
    half: bool
    versions: tuple[tuple[str, str], ...]

    def describe(self) -> str:
        """E.g. ``export onnx (batch 1, imgsz 320)``."""
        return f"export {self.format} (batch {self.batch}, imgsz {self.imgsz}{', fp16' if self.half else ''})"


QUANT_CHOICES: dict[str, tuple[str, ...]] = {
    "method": ("static", "dynamic"),
    "format": ("qdq", "qoperator"),
    "activations": ("u8", "s8"),
    "weights": ("u8", "s8"),
    "calibration": ("minmax", "entropy", "percentile"),
    "ops": ("all", "conv"),
}
"""The allowed values of every string-valued :class:`QuantSpec` field."""


@dataclass(frozen=True)
class QuantSpec:
    """How an INT8 variant is quantized (the knobs every toolchain maps onto its own API).

    ``method``: "static" (calibrated activations) or "dynamic" (weights only, activations at run
    time). ``format``: "qdq" (QuantizeLinear/DequantizeLinear pairs) or "qoperator" (fused integer
    operators); ONNX Runtime only. ``per_channel``: weight scales per output channel, else per
    tensor. ``activations`` / ``weights``: "u8" or "s8". ``calibration``: "minmax", "entropy" or
    "percentile". ``calib_size``: images taken, in order, from the calibration split.
    ``max_drop``: when set, accuracy-controlled quantization keeps layers in float until the
    mAP50-95 drop is at most this (slug suffix ``ac010`` for 0.010). ``ops``: "all" quantizes
    every operator type the toolchain quantizes by default; "conv" quantizes convolutions only
    (ONNX Runtime only; slug suffix ``conv``).
    """

    method: str = "static"
    format: str = "qdq"
    per_channel: bool = True
    activations: str = "u8"
    weights: str = "s8"
    calibration: str = "minmax"
    calib_size: int = 100
    max_drop: float | None = None  # accuracy-controlled quantization (NNCF) with this mAP50-95 drop
    ops: str = "all"

    def __post_init__(self) -> None:
        for name, allowed in QUANT_CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"quant.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.calib_size < 1:
            raise ValueError(f"quant.calib_size must be >= 1, got {self.calib_size}")

    @property
    def slug(self) -> str:
        """Id fragment: ``qdq-pc-u8s8-minmax-c100`` (static), ``dyn-pc-s8`` (dynamic), then
        ``-ac010`` for accuracy control and ``-conv`` for convolutions only."""
        gran = "pc" if self.per_channel else "pt"
        if self.method == "dynamic":
            parts = ["dyn", gran, self.weights]
        else:
            parts = [self.format, gran, f"{self.activations}{self.weights}", self.calibration, f"c{self.calib_size}"]
        if self.max_drop is not None:
            parts.append(f"ac{round(self.max_drop * 1000):03d}")
        if self.ops != "all":
            parts.append(self.ops)
        return "-".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Variant:
    """One cell of the matrix: model x prune ratio x precision x backend (x distillation).

    Not an artifact itself: the backend builds what it needs from ``source``.
    """

    model: str
    source: SourceRecipe
    prune: float = 0.0
    precision: str = "fp32"
    backend: str = "torch"
    distill: str | None = None
    imgsz: int = 320
    quant: QuantSpec | None = None  # set exactly when precision is int8

    def __post_init__(self) -> None:
        if (self.precision == "int8") != (self.quant is not None):
            raise ValueError(f"variant {self.model}: a QuantSpec goes with precision int8 and only with it")

    @property
    def slug(self) -> str:
        """Readable pytest id, e.g. ``yolo11n-p00-fp32-onnxruntime`` or
        ``yolo11n-p00-int8-qdq-pc-u8s8-minmax-c100-onnxruntime``."""
        parts = [self.model, f"p{round(self.prune * 100):02d}", self.precision]
        if self.distill:
            parts.insert(2, f"kd-{self.distill}")
        if self.quant is not None:
            parts.append(self.quant.slug)
        return "-".join([*parts, self.backend])

    @property
    def is_reference(self) -> bool:
        """The FP32 PyTorch, unpruned, undistilled variant every other one is compared with."""
        return self.reference() == self

    def reference(self) -> Variant:
        """The same model's FP32 PyTorch reference variant."""
        return dataclasses.replace(self, prune=0.0, precision="fp32", backend="torch", distill=None, quant=None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description, recipe included."""
        return {
            "model": self.model,
            "prune": self.prune,
            "precision": self.precision,
            "backend": self.backend,
            "distill": self.distill,
            "imgsz": self.imgsz,
            "quant": self.quant.to_dict() if self.quant else None,
            "source": self.source.to_dict(),
        }
