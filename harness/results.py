"""Result records of one run and their JSON file (``results.json``, schema version 1).

Measurement code records metrics per variant; several tests may contribute to the same
variant, so records merge. A metric that was not measured is ``None`` (JSON ``null``),
never 0. Units come from :data:`harness.metrics.METRICS`; the file format is documented
in ``docs/results-schema.md``.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from harness.config.reader import did_you_mean
from harness.environment import Fingerprint
from harness.errors import ResultsError
from harness.fsutil import atomic_write_text
from harness.metrics import METRICS

__all__ = [
    "ABLATION",
    "ADAPTIVE_PRUNING",
    "CLASS_IMBALANCE",
    "DISTILLATION",
    "INPUTS",
    "INT8_CALIBRATION",
    "LAYER_PRUNING",
    "MIXED_PRECISION",
    "MODEL_SELECTION",
    "PRUNING",
    "QAT",
    "RECOMMENDATION",
    "SCHEMA_VERSION",
    "STATUSES",
    "STUDY_NAMES",
    "TFLITE",
    "TRACES",
    "VERDICTS",
    "VERDICT_CALIBRATION",
    "RunResults",
    "StudyColumn",
    "StudyLayout",
    "VariantResult",
    "check_metrics",
]

SCHEMA_VERSION = 1
STATUSES = ("skipped", "passed", "failed", "error")  # in rising severity; merging keeps the worst
_OPTIONAL_STR = (str, type(None))

# The keys of results.json ``studies`` that the harness itself writes (a user's study adds its own).
ABLATION = "ablation"
CLASS_IMBALANCE = "class_imbalance"  # long-tail training treatments (harness.studies.imbalance)
DISTILLATION = "distillation"
INPUTS = "inputs"
INT8_CALIBRATION = "int8_calibration"
MIXED_PRECISION = "mixed_precision"
PRUNING = "pruning"
LAYER_PRUNING = "layer_pruning"  # residual blocks removed (harness.studies.layer_pruning)
ADAPTIVE_PRUNING = (
    "adaptive_pruning"  # gradual pruning adapted on held-out images (harness.studies.adaptive_pruning)
)
MODEL_SELECTION = "model_selection"  # every model side by side per backend (harness.studies.model_selection)
RECOMMENDATION = (
    "recommendation"  # the fastest variant within budget, per model (harness.studies.recommendation)
)
QAT = "qat"  # quantization-aware training against PTQ and an FP32 control (harness.studies.qat)
VERDICT_CALIBRATION = "verdict_calibration"
VERDICTS = "verdicts"  # every budget check of the run, one row each (harness.verdicts)
TFLITE = "tflite"  # TFLite INT8 by float scope (harness.studies.tflite)
TRACES = "traces"  # one row per profiler-traced variant (harness.trace.record)
STUDY_NAMES = (
    PRUNING,
    DISTILLATION,
    MIXED_PRECISION,
    ABLATION,
    VERDICT_CALIBRATION,
    INPUTS,
    INT8_CALIBRATION,
    VERDICTS,
    TRACES,
    QAT,
    CLASS_IMBALANCE,
    TFLITE,
    RECOMMENDATION,
    MODEL_SELECTION,
    ADAPTIVE_PRUNING,
    LAYER_PRUNING,
)
_VARIANT_TYPES: dict[str, type | tuple[type, ...]] = {
    "variant": str, "model": str, "backend": str, "precision": str, "prune": (int, float),
    "recipe": dict, "artifact": _OPTIONAL_STR, "artifact_sha256": _OPTIONAL_STR,
    "metrics": dict, "status": str, "messages": list,
}  # fmt: skip
_RUN_TYPES: dict[str, type | tuple[type, ...]] = {
    "schema_version": int, "run_id": str, "created": str, "profile": str,
    "fingerprint": dict, "fingerprint_id": str, "variants": list,
}  # fmt: skip


def check_metrics(metrics: Mapping[str, object]) -> dict[str, float | None]:
    """Validated metrics: known names, finite numbers or None. Raises ValueError."""
    out: dict[str, float | None] = {}
    for name, value in metrics.items():
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r}{did_you_mean(name, METRICS)}")
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"metric {name!r} must be a number or None, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"metric {name!r} is {value}; record None when not measured")
        out[name] = None if value is None else float(value)
    return out


@dataclass
class VariantResult:
    """Everything recorded about one variant (one row of the deployment table)."""

    variant: str
    model: str
    backend: str
    precision: str
    prune: float
    recipe: dict[str, object] = field(default_factory=dict)
    artifact: str | None = None
    artifact_sha256: str | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    status: str = "passed"
    messages: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {STATUSES}")
        if not 0.0 <= self.prune < 1.0:
            raise ValueError(f"prune {self.prune!r} is not in [0, 1)")
        self.metrics = check_metrics(self.metrics)

    def merge(
        self,
        metrics: Mapping[str, float | None] | None = None,
        status: str | None = None,
        messages: Iterable[str] = (),
    ) -> None:
        """Add measured values (None never erases one), keep the worse status, add messages."""
        for name, value in check_metrics(metrics or {}).items():
            if value is not None or name not in self.metrics:
                self.metrics[name] = value
        if status is not None:
            if status not in STATUSES:
                raise ValueError(f"status {status!r} is not one of {STATUSES}")
            self.status = max(self.status, status, key=STATUSES.index)
        self.messages.extend(m for m in messages if m not in self.messages)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> VariantResult:
        """Parse :meth:`to_dict` output (raises KeyError/TypeError/ValueError)."""
        record = _checked(data, _VARIANT_TYPES, "variant")
        return cls(**{f.name: record[f.name] for f in fields(cls)})  # type: ignore[arg-type]


def _checked(data: object, types: Mapping[str, type | tuple[type, ...]], what: str) -> dict[str, object]:
    """``data`` as a dict; raises for a missing key or a value of the wrong JSON type."""
    if not isinstance(data, dict):
        raise TypeError(f"{what}: expected an object, got {type(data).__name__}")
    for key, kind in types.items():
        if key not in data:
            raise KeyError(f"{what}: missing key '{key}'")
        value = data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise TypeError(f"{what}: key '{key}' has the wrong type ({type(value).__name__})")
    return data


@dataclass(frozen=True)
class StudyColumn:
    """One column of a study's generic report table: the row key, its header, and the decimals
    shown (``None``: the value is shown as text)."""

    key: str
    header: str
    digits: int | None = None


@dataclass(frozen=True)
class StudyLayout:
    """How the report renders a study that has no table module of its own: a title and columns.

    Stored in results.json (``study_layouts``) so that ``harness report`` renders the rows of any
    study, a user's included, without importing it."""

    title: str
    columns: tuple[StudyColumn, ...]

    def __post_init__(self) -> None:
        headers = [c.header for c in self.columns]
        twice = sorted({h for h in headers if headers.count(h) > 1})
        if twice:
            raise ValueError(f"study layout {self.title!r} repeats the column header(s) {', '.join(twice)}")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"title": self.title, "columns": [asdict(c) for c in self.columns]}

    @classmethod
    def from_dict(cls, data: object) -> StudyLayout:
        """Parse the JSON form (raises KeyError/TypeError on a malformed one)."""
        table = _checked(data, {"title": str, "columns": list}, "study layout")
        columns = cast(list[object], table["columns"])
        parsed = [
            _checked(c, {"key": str, "header": str, "digits": (int, type(None))}, "column") for c in columns
        ]
        return cls(str(table["title"]), tuple(StudyColumn(**c) for c in parsed))  # type: ignore[arg-type]


@dataclass
class RunResults:
    """All variant results of one run, with the environment they were measured in."""

    run_id: str
    created: str
    profile: str
    fingerprint: dict[str, object]
    fingerprint_id: str
    variants: list[VariantResult] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION
    studies: dict[str, list[dict[str, object]]] = field(default_factory=dict)  # name -> rows
    study_layouts: dict[str, StudyLayout] = field(default_factory=dict)  # name -> generic table

    @classmethod
    def new(
        cls, profile: str, fingerprint: Fingerprint, run_id: str | None = None,
        now: datetime | None = None,
    ) -> RunResults:  # fmt: skip
        """An empty run; ``run_id`` defaults to ``YYYYmmdd-HHMMSS-xxxx`` (UTC + random)."""
        now = now or datetime.now(UTC)
        run_id = run_id or f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
        created = now.isoformat(timespec="seconds")
        return cls(run_id, created, profile, fingerprint.to_dict(), fingerprint.id)

    def variant(self, slug: str) -> VariantResult | None:
        """The record of ``slug``, None if nothing was recorded for it."""
        return next((v for v in self.variants if v.variant == slug), None)

    def record(
        self,
        variant: str,
        *,
        model: str,
        backend: str,
        precision: str,
        prune: float,
        recipe: Mapping[str, object] | None = None,
        artifact: str | None = None,
        artifact_sha256: str | None = None,
        metrics: Mapping[str, float | None] | None = None,
        status: str | None = None,
        messages: Iterable[str] = (),
    ) -> VariantResult:
        """Create the record of ``variant`` or merge into it (identity fields must agree)."""
        current = self.variant(variant)
        if current is None:
            current = VariantResult(variant, model, backend, precision, prune)
            current.status = status or current.status
            self.variants.append(current)
        elif (current.model, current.backend, current.precision, current.prune) != (
            model, backend, precision, prune,
        ):  # fmt: skip
            raise ValueError(f"variant {variant!r} was recorded with other model/backend/precision/prune")
        if recipe is not None:
            current.recipe = dict(recipe)
        current.artifact = artifact or current.artifact
        current.artifact_sha256 = artifact_sha256 or current.artifact_sha256
        current.merge(metrics, status, messages)
        return current

    def merge(
        self,
        slug: str,
        metrics: Mapping[str, float | None],
        status: str | None = None,
        messages: Iterable[str] = (),
    ) -> VariantResult:
        """Merge into the existing record of ``slug`` (KeyError if it was never recorded)."""
        current = self.variant(slug)
        if current is None:
            raise KeyError(f"variant {slug!r} has no record; call record() first")
        current.merge(metrics, status, messages)
        return current

    def add_study(self, name: str, rows: Iterable[Mapping[str, object]]) -> None:
        """Append rows to study ``name`` (for example ``mixed_precision``); rows must be JSON-ready."""
        self.studies.setdefault(name, []).extend(dict(row) for row in rows)

    def describe_study(self, name: str, layout: StudyLayout) -> None:
        """Say how the report renders study ``name`` (see :class:`StudyLayout`)."""
        self.study_layouts[name] = layout

    def absorb(self, other: RunResults) -> None:
        """Merge every record and study row of ``other`` (another shard of the same run) into this run.

        Raises ResultsError when ``other`` was measured in another environment (fingerprint):
        such results are shown side by side (``harness merge``), never merged.
        """
        if other.fingerprint_id != self.fingerprint_id:
            raise ResultsError(
                f"results from another fingerprint: run {other.run_id} was measured on "
                f"{other.fingerprint_id}, run {self.run_id} on {self.fingerprint_id}; "
                "only shards of one environment merge"
            )
        for result in other.variants:
            fields_ = result.to_dict()
            self.record(str(fields_.pop("variant")), **fields_)  # type: ignore[arg-type]
        for name, rows in other.studies.items():
            self.add_study(name, rows)
        self.study_layouts.update(other.study_layouts)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (schema in docs/results-schema.md), with the unit of every metric."""
        data = asdict(self) | {"units": {name: info.unit for name, info in METRICS.items()}}
        data["study_layouts"] = {name: layout.to_dict() for name, layout in self.study_layouts.items()}
        if not self.study_layouts:
            del data["study_layouts"]  # written only when a study has a generic table
        return data

    def to_json(self) -> str:
        """The results file text."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    def save(self, path: Path) -> None:
        """Write the results file atomically."""
        atomic_write_text(path, self.to_json())

    @classmethod
    def from_dict(cls, data: object, source: str = "results") -> RunResults:
        """Parse a decoded results document; problems raise ResultsError naming ``source``."""
        version = data.get("schema_version") if isinstance(data, dict) else None
        if isinstance(version, int) and version > SCHEMA_VERSION:
            raise ResultsError(
                f"{source}: schema_version {version} is newer than supported ({SCHEMA_VERSION}); "
                "upgrade the harness"
            )
        try:
            return cls._parse(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultsError(f"{source}: invalid results file: {exc}") from exc

    @classmethod
    def _parse(cls, data: object) -> RunResults:
        """Validate and build (raises KeyError/TypeError/ValueError)."""
        data = _checked(data, _RUN_TYPES, "results")
        if data["schema_version"] != SCHEMA_VERSION:
            raise ValueError(f"unsupported schema_version {data['schema_version']}")
        Fingerprint.from_dict(data["fingerprint"])  # type: ignore[arg-type]
        variants = [VariantResult.from_dict(v) for v in data["variants"]]  # type: ignore[attr-defined]
        fixed = {k: data[k] for k in _RUN_TYPES if k != "variants"}
        layouts = data.get("study_layouts", {})
        if not isinstance(layouts, dict):
            raise TypeError(f"study_layouts must be an object, got {type(layouts).__name__}")
        return cls(
            **fixed,  # type: ignore[arg-type]
            variants=variants,
            studies=_studies(data.get("studies", {})),
            study_layouts={str(k): StudyLayout.from_dict(v) for k, v in layouts.items()},
        )

    @classmethod
    def load(cls, path: Path) -> RunResults:
        """Read a results file; unreadable, corrupt or too new files raise ResultsError."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ResultsError(f"cannot read results file {path}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise ResultsError(f"{path}: not valid JSON: {exc}") from exc
        return cls.from_dict(data, str(path))


def _studies(data: object) -> dict[str, list[dict[str, object]]]:
    """The optional ``studies`` object: study name -> list of row objects."""
    if not isinstance(data, dict):
        raise TypeError(f"studies must be an object, got {type(data).__name__}")
    for name, rows in data.items():
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise TypeError(f"studies.{name} must be a list of objects")
    return {str(name): [dict(row) for row in rows] for name, rows in data.items()}
