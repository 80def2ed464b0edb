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

from harness.environment import int8_saturates

RECIPE_SCHEMA = 1


def unhashed(default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field excluded from the recipe hash (for example a local path)."""
    if default is dataclasses.MISSING:
        return field(metadata={"hashed": False})
    return field(default=default, metadata={"hashed": False})


def omitted_when_none() -> Any:
    """A dataclass field, default None, left out of the recipe's dict (and so its hash) while
    None: a recipe gains an option without changing the cache keys of recipes that do not use it."""
    return field(default=None, metadata={"omit_none": True})


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
            if f.metadata.get("omit_none") and getattr(self, f.name) is None:
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
    if isinstance(value, QuantSpec | PruneSpec | DistillSpec | ClassBalance):
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
    class_frequencies: tuple[float, ...] | None = omitted_when_none()  # long tail of train and calib

    def describe(self) -> str:
        """E.g. ``synthetic dataset 640/200/128 images at 320 px`` (``, long tail 40:20:10:5:2:1``)."""
        tail = ""
        if self.class_frequencies is not None:
            tail = ", long tail " + ":".join(f"{f:g}" for f in self.class_frequencies)
        return f"synthetic dataset {self.n_train}/{self.n_val}/{self.n_calib} images at {self.imgsz} px{tail}"


@dataclass(frozen=True)
class UserDataRecipe(Recipe):
    """A user's Ultralytics ``data.yaml``; its content hash stands for the data."""

    kind: ClassVar[str] = "user-data"
    sha256: str
    yaml_path: str = unhashed("")


DataRecipe = SyntheticDataRecipe | UserDataRecipe


BALANCE_METHODS = ("focal", "median_frequency", "balanced_sampler")
"""Treatments of class imbalance a training can apply besides its loss gains (``box``, ``cls``, ``dfl``)."""


@dataclass(frozen=True)
class ClassBalance:
    """How a training treats class imbalance (:mod:`harness.builders.balance`).

    ``method``: "focal" (focal loss on the class branch, with ``gamma`` and ``alpha``; alpha 0:
    no balancing factor), "median_frequency" (class-loss weights median(freq) / freq(c) from the
    train labels) or "balanced_sampler" (images drawn with repeat factors of their rarest class).
    """

    method: str
    gamma: float = 1.5
    alpha: float = 0.25

    def __post_init__(self) -> None:
        if self.method not in BALANCE_METHODS:
            raise ValueError(f"balance.method must be one of {BALANCE_METHODS}, got {self.method!r}")
        if self.gamma < 0 or not 0 <= self.alpha < 1:
            raise ValueError(f"focal gamma must be >= 0 and alpha in [0, 1), got {self.gamma}, {self.alpha}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the focal ones only for focal loss)."""
        if self.method != "focal":
            return {"method": self.method}
        return dataclasses.asdict(self)


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
    hyp: tuple[tuple[str, object], ...] = ()
    init: TrainRecipe | WeightsRecipe | None = None  # start from these weights instead of ``cfg``
    balance: ClassBalance | None = omitted_when_none()  # noqa: RUF009 (a treatment of class imbalance)

    def describe(self) -> str:
        """E.g. ``train yolo11n.yaml: 16 epochs at 160 px``."""
        start = " from the previous stage" if self.init else ""
        return f"train {self.cfg}: {self.epochs} epochs at {self.imgsz} px{start}"


@dataclass(frozen=True)
class WeightsRecipe(Recipe):
    """A user's existing ``.pt``; its content hash stands for the weights.

    ``data`` is the dataset the config pairs with the weights (its ``data`` key), the one that
    calibrates INT8 and fine-tunes the model; None when the config names no dataset. It is not
    part of the weights' own hash (the file is the same), but every recipe that uses the data
    (calibration, fine-tuning) hashes it itself.
    """

    kind: ClassVar[str] = "weights"
    sha256: str
    path: str = unhashed("")
    data: UserDataRecipe | None = unhashed(None)


PRUNE_CHOICES: dict[str, tuple[str, ...]] = {
    "criterion": ("l1", "l2", "taylor", "fisher", "lamp", "random"),
    "strategy": ("uniform", "global"),
    "method": ("structured", "unstructured"),
    "rounding": ("down", "nearest"),
}
"""The allowed values of every string-valued :class:`PruneSpec` field."""


@dataclass(frozen=True)
class PruneSpec:
    """How a pruned variant is pruned and fine-tuned.

    ``ratio``: fraction of channels removed (structured) or of weights zeroed (unstructured), in
    (0, 1). ``criterion``: channel importance, "l1", "l2" (group norm), "taylor" (first-order,
    gradients from labelled training batches), "fisher" (second-order: Optimal Brain Damage with the
    empirical Fisher diagonal from labelled training images), "lamp" or "random" (a control). ``strategy``:
    "uniform" (the same ratio in every layer) or "global" (channels ranked across layers).
    ``method``: "structured" (channels removed, tensors shrink) or "unstructured" (L1 weights
    zeroed with ``torch.nn.utils.prune``; tensors keep their shape). ``round_to``: kept channel
    counts are multiples of this (None: no rounding). ``rounding``: "down" (Torch-Pruning's rule; a
    group it would empty stays whole) or "nearest" (uniform structured only; see
    ``harness.prune.rounding``). ``steps``: prune in this many steps, each
    followed by ``finetune_epochs`` epochs of fine-tuning (0: none).
    """

    ratio: float
    criterion: str = "l1"
    strategy: str = "uniform"
    method: str = "structured"
    round_to: int | None = 16
    steps: int = 1
    finetune_epochs: int = 0
    rounding: str = "down"

    def __post_init__(self) -> None:
        if not 0.0 < self.ratio < 1.0:
            raise ValueError(f"prune.ratio must be in (0, 1), got {self.ratio!r}")
        for name, allowed in PRUNE_CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"prune.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.round_to is not None and self.round_to < 1:
            raise ValueError(f"prune.round_to must be >= 1, got {self.round_to}")
        if self.steps < 1 or self.finetune_epochs < 0:
            raise ValueError("prune.steps must be >= 1 and prune.finetune_epochs >= 0")
        if self.rounding == "nearest" and (self.method, self.strategy) != ("structured", "uniform"):
            raise ValueError("prune.rounding 'nearest' needs structured pruning with the uniform strategy")

    @property
    def slug(self) -> str:
        """Id fragment: ``p30-l1`` (structured, uniform, one step, channels rounded to 16), then
        ``-global``, ``-it3`` for three iterative steps, ``-r8`` for other rounding (``-r16n``,
        ``-r8n``: to the nearest multiple), ``-ft5`` for five epochs of fine-tuning per step;
        ``p30-l1-unstructured``."""
        parts = [f"p{round(self.ratio * 100):02d}", self.criterion]
        if self.method == "unstructured":
            parts.append("unstructured")
        if self.strategy != "uniform":
            parts.append(self.strategy)
        if self.steps > 1:
            parts.append(f"it{self.steps}")
        nearest = self.rounding == "nearest"
        if (self.round_to != 16 or nearest) and self.method == "structured":
            parts.append(f"r{self.round_to or 1}{'n' if nearest else ''}")
        if self.finetune_epochs:
            parts.append(f"ft{self.finetune_epochs}")
        return "-".join(parts)

    def without_finetune(self) -> PruneSpec:
        """The same pruning with no fine-tuning (the "before fine-tuning" model)."""
        return dataclasses.replace(self, finetune_epochs=0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields; ``rounding`` only when it is not "down", so that the cache keys of
        recipes made before the option existed stay as they were."""
        out = dataclasses.asdict(self)
        return out if self.rounding != "down" else {k: v for k, v in out.items() if k != "rounding"}


@dataclass(frozen=True)
class PruneRecipe(Recipe):
    """Prune a checkpoint (rewritten into prunable form) and fine-tune it on ``data``.

    The artifact is an ordinary Ultralytics ``.pt`` (``model.pt``) plus ``prune.json``: what each
    pruning step cost (seconds, peak memory) and removed (parameters, sparsity).
    """

    kind: ClassVar[str] = "prune"
    source: TrainRecipe | WeightsRecipe | PruneRecipe  # a PruneRecipe: adaptive pruning's next step
    data: DataRecipe
    spec: PruneSpec
    imgsz: int
    batch: int
    seed: int
    versions: tuple[tuple[str, str], ...]
    hyp: tuple[tuple[str, object], ...] = ()  # fine-tuning arguments (Ultralytics names)
    taylor_batches: int = 0  # labelled batches whose gradients rank channels (taylor criterion)

    def describe(self) -> str:
        """E.g. ``prune p30-l1 + fine-tune 3 epochs at 320 px``."""
        tune = f" + fine-tune {self.spec.finetune_epochs} epochs" if self.spec.finetune_epochs else ""
        return f"prune {self.spec.slug}{tune} at {self.imgsz} px"


DISTILL_METHODS = ("response", "feature", "cwd", "attention", "relational", "multi", "progressive")
"""Knowledge-distillation methods: response (logit) KD, feature KD through Ultralytics'
``distill_model``, channel-wise (CWD) feature KD, attention transfer and relational KD (RKD) on
the head's input features (:mod:`harness.distill.relations`), and multi-teacher response KD from
every teacher of the student, per anchor the most confident one, and progressive KD through a
teacher assistant (the teacher distilled into the student pruned half as much, which then teaches
the student)."""


@dataclass(frozen=True)
class DistillSpec:
    """How a student is distilled: ``method`` (one of :data:`DISTILL_METHODS`), the KD loss
    ``weight`` (Ultralytics' ``dis`` for "feature"), the softening ``temperature`` (response and
    CWD; unused by "feature"), and the ``epochs`` of training with the teacher. ``teacher`` is the
    teacher's label in ids ("reference" for the student's own unpruned model, else a model name or
    a file stem); the teacher's weights themselves are the recipe's ``teacher``.
    """

    method: str
    teacher: str
    weight: float
    temperature: float
    epochs: int

    def __post_init__(self) -> None:
        if self.method not in DISTILL_METHODS:
            raise ValueError(f"distill.method must be one of {DISTILL_METHODS}, got {self.method!r}")
        for name, low in (("weight", 0.0), ("temperature", 0.0), ("epochs", 0)):
            if getattr(self, name) <= low:
                raise ValueError(f"distill.{name} must be > {low:g}, got {getattr(self, name)!r}")

    @property
    def slug(self) -> str:
        """Id fragment: ``kd-response-reference`` (the teacher's label last)."""
        return f"kd-{self.method}-{self.teacher}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class DistillRecipe(Recipe):
    """Train ``student``'s checkpoint for ``spec.epochs`` epochs on ``data`` with ``teacher``'s
    knowledge distilled into it (``spec.method``). Its fair control is the same student trained the
    same epochs, seed, batch and data without a teacher.

    The artifact is an ordinary Ultralytics ``.pt`` (``model.pt``) plus ``distill.json``: seconds
    per epoch and the KD loss of each epoch.
    """

    kind: ClassVar[str] = "distill"
    student: TrainRecipe | WeightsRecipe | PruneRecipe
    teacher: TrainRecipe | WeightsRecipe | PruneRecipe | DistillRecipe  # a distilled one: a teacher assistant
    data: DataRecipe
    spec: DistillSpec
    imgsz: int
    batch: int
    seed: int
    versions: tuple[tuple[str, str], ...]
    hyp: tuple[tuple[str, object], ...] = ()
    # multi-teacher KD: the teachers after ``teacher`` (None: one teacher)
    extra_teachers: tuple[TrainRecipe | WeightsRecipe | PruneRecipe, ...] | None = omitted_when_none()

    @property
    def teachers(self) -> tuple[SourceRecipe, ...]:
        """Every teacher, ``teacher`` first."""
        return (self.teacher, *(self.extra_teachers or ()))

    def describe(self) -> str:
        """E.g. ``distill response KD from reference: 6 epochs at 320 px``."""
        spec = self.spec
        return f"distill {spec.method} KD from {spec.teacher}: {spec.epochs} epochs at {self.imgsz} px"


@dataclass(frozen=True)
class LayerPruneRecipe(Recipe):
    """Remove whole residual blocks (``blocks``, qualified module names) from ``source`` and
    fine-tune ``finetune_epochs`` on ``data`` (:mod:`harness.prune.layers`). The artifact is an
    ordinary Ultralytics ``.pt`` plus ``layers.json`` (the blocks and the parameters removed)."""

    kind: ClassVar[str] = "layer-prune"
    source: TrainRecipe | WeightsRecipe
    data: DataRecipe
    blocks: tuple[str, ...]
    finetune_epochs: int
    imgsz: int
    batch: int
    seed: int
    versions: tuple[tuple[str, str], ...]
    hyp: tuple[tuple[str, object], ...] = ()

    def describe(self) -> str:
        """E.g. ``remove 2 residual blocks + fine-tune 4 epochs at 320 px``."""
        return f"remove {len(self.blocks)} residual blocks + fine-tune {self.finetune_epochs} epochs at {self.imgsz} px"


SourceRecipe = TrainRecipe | WeightsRecipe | PruneRecipe | DistillRecipe
BaseRecipe = TrainRecipe | WeightsRecipe
"""A checkpoint neither pruned nor distilled: trained here, or the user's weights file."""
StudentRecipe = TrainRecipe | WeightsRecipe | PruneRecipe
"""A distillation student's start, and any teacher after the first."""


NO_CALIBRATION_DATA = (
    "no dataset to calibrate from: the model is a weights file and the config names no 'data' "
    '(set data = "path/to/data.yaml")'
)
"""The skip reason of every static INT8 variant of a weights file without a configured dataset."""


def source_data(source: SourceRecipe) -> DataRecipe | None:
    """The dataset of a checkpoint: the one it was trained or fine-tuned on, or for a user's
    weights file the config's ``data`` (None when the config names no dataset)."""
    return source.data


def base_source(source: SourceRecipe) -> BaseRecipe:
    """The unpruned, undistilled checkpoint a source starts from."""
    if isinstance(source, DistillRecipe):
        return base_source(source.student)
    return base_source(source.source) if isinstance(source, PruneRecipe) else source


def user_weights(source: SourceRecipe) -> WeightsRecipe | None:
    """The user's weights file a checkpoint descends from (through pruning, distillation and
    fine-tuning), or None for a model trained from a YAML."""
    base = base_source(source)
    if isinstance(base, WeightsRecipe):
        return base
    return user_weights(base.init) if base.init is not None else None


def prune_recipe_of(source: SourceRecipe) -> PruneRecipe | None:
    """The pruning a source went through (a distilled student's own), or None."""
    if isinstance(source, DistillRecipe):
        return prune_recipe_of(source.student)
    return source if isinstance(source, PruneRecipe) else None


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
    end2end: bool | None = omitted_when_none()  # True: the one-to-one (NMS-free) head (Ultralytics nms=False)

    def describe(self) -> str:
        """E.g. ``export onnx (batch 1, imgsz 320)`` (``, end-to-end head``)."""
        extra = (", fp16" if self.half else "") + (", end-to-end head" if self.end2end else "")
        return f"export {self.format} (batch {self.batch}, imgsz {self.imgsz}{extra})"


QUANT_CHOICES: dict[str, tuple[str, ...]] = {
    "method": ("static", "dynamic"),
    "format": ("qdq", "qoperator"),
    "activations": ("u8", "s8"),
    "weights": ("u8", "s8"),
    "calibration": ("minmax", "entropy", "percentile"),
    "ops": ("all", "conv"),
    "overflow_fix": ("auto", "enable", "first_layer_only", "disable"),
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
    (ONNX Runtime only; slug suffix ``conv``). ``overflow_fix``: 7-bit weights, so that the u8 x s8
    pair sums of x86 CPUs without VNNI (``vpmaddubsw``, 16-bit saturating) cannot overflow:
    "enable" on every layer (ONNX Runtime's ``reduce_range``, NNCF's ``OverflowFix.ENABLE``),
    "first_layer_only" (NNCF's default; ONNX Runtime: none), "disable", or "auto": "enable" where
    this CPU has no VNNI or AMX-INT8, else "first_layer_only" (:attr:`resolved_overflow_fix`; the
    cache key holds the resolved value; slug suffix ``ovf-<value>`` only when set explicitly).
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
    overflow_fix: str = "auto"

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
            parts = [
                self.format,
                gran,
                f"{self.activations}{self.weights}",
                self.calibration,
                f"c{self.calib_size}",
            ]
        if self.max_drop is not None:
            parts.append(f"ac{round(self.max_drop * 1000):03d}")
        if self.ops != "all":
            parts.append(self.ops)
        if self.overflow_fix != "auto":
            parts.append(f"ovf-{self.overflow_fix}")
        return "-".join(parts)

    @property
    def resolved_overflow_fix(self) -> str:
        """``overflow_fix`` with "auto" decided by this CPU (:func:`harness.environment.int8_saturates`)."""
        if self.overflow_fix != "auto":
            return self.overflow_fix
        return "enable" if int8_saturates() else "first_layer_only"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, ``overflow_fix`` resolved: what was built on this machine (and its cache key)."""
        return {**dataclasses.asdict(self), "overflow_fix": self.resolved_overflow_fix}


@dataclass(frozen=True)
class Variant:
    """One cell of the matrix: model x prune ratio x precision x backend (x distillation).

    Not an artifact itself: the backend builds what it needs from ``source``.
    """

    model: str
    source: SourceRecipe  # a PruneRecipe exactly when ``prune`` is set
    prune: PruneSpec | None = None
    precision: str = "fp32"
    backend: str = "torch"
    distill: str | None = None  # the DistillSpec slug exactly when ``source`` is a DistillRecipe
    imgsz: int = 320
    quant: QuantSpec | None = None  # set exactly when precision is int8

    def __post_init__(self) -> None:
        if (self.precision == "int8") != (self.quant is not None):
            raise ValueError(f"variant {self.model}: a QuantSpec goes with precision int8 and only with it")
        pruning = prune_recipe_of(self.source)
        if (pruning is None) != (self.prune is None) or (pruning is not None and pruning.spec != self.prune):
            raise ValueError(f"variant {self.model}: a PruneSpec goes with the PruneRecipe that builds it")
        source = self.source
        if (source.spec.slug if isinstance(source, DistillRecipe) else None) != self.distill:
            raise ValueError(f"variant {self.model}: a distill slug goes with the DistillRecipe building it")

    @property
    def slug(self) -> str:
        """Readable pytest id, e.g. ``yolo11n-p00-fp32-onnxruntime``,
        ``yolo11n-p30-l1-fp32-torch`` or ``yolo11n-p00-int8-qdq-pc-u8s8-minmax-c100-onnxruntime``."""
        parts = [self.model, self.prune.slug if self.prune else "p00", self.precision]
        if self.distill:
            parts.insert(2, self.distill)
        if self.quant is not None:
            parts.append(self.quant.slug)
        return "-".join([*parts, self.backend])

    @property
    def ratio(self) -> float:
        """The pruning ratio (0.0 when unpruned)."""
        return self.prune.ratio if self.prune else 0.0

    @property
    def is_reference(self) -> bool:
        """The FP32 PyTorch, unpruned, undistilled variant every other one is compared with."""
        return self.reference() == self

    def reference(self) -> Variant:
        """The same model's FP32 PyTorch reference variant."""
        return self.unpruned(backend="torch", precision="fp32", quant=None)

    def unpruned(self, **changes: Any) -> Variant:
        """This variant without pruning and distillation, with ``changes`` applied."""
        fields: dict[str, Any] = {"distill": None} | changes
        return dataclasses.replace(self, source=base_source(self.source), prune=None, **fields)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description, recipe included."""
        return {
            "model": self.model,
            "prune": self.prune.to_dict() if self.prune else None,
            "precision": self.precision,
            "backend": self.backend,
            "distill": self.distill,
            "imgsz": self.imgsz,
            "quant": self.quant.to_dict() if self.quant else None,
            "source": self.source.to_dict(),
        }
