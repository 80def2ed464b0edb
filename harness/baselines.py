"""Stored baselines: ``<root>/<fingerprint_id>/<model>.json``, one file per model.

A file holds the accepted metrics of every variant of one model on one fingerprint, and the
artifact each was measured on (its cache key, its file relative to the cache root, and sha256)::

    {"schema_version": 1, "fingerprint": {...}, "model": "yolo11n",
     "updated": "2025-01-01T12:00:00+00:00",
     "variants": {"yolo11n-p00-fp32-torch": {"map50_95": 0.51, "latency_median_ms": 26.6,
                                              "speedup_vs_reference": 1.0}},
     "artifacts": {"yolo11n-p00-fp32-torch": {"cache_key": "1323e1ef...", "sha256": "...",
                                               "file": "artifacts/13/1323e1ef.../model.pt"}}}

The same-run ratios (``speedup_vs_reference``, ``speedup_vs_fp32``) are stored with the other
metrics: they are what another machine can compare when the artifact is not there to time.

Files change only through :meth:`BaselineStore.update` (written atomically). Reading never
writes; a corrupt file raises BaselineError naming it rather than being replaced.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from harness.cache import file_sha256
from harness.environment import Fingerprint
from harness.errors import BaselineError
from harness.fsutil import atomic_write_json

__all__ = [
    "SCHEMA_VERSION",
    "ArtifactRef",
    "Baseline",
    "BaselineStore",
    "Change",
    "artifact_ref",
    "format_changes",
]

SCHEMA_VERSION = 1
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
Metrics = dict[str, float | None]


@dataclass(frozen=True)
class ArtifactRef:
    """The artifact a baseline was measured on: cache key (None: a user's own file), the file
    (relative to the cache root when it is in the cache, else absolute) and its sha256."""

    cache_key: str | None
    file: str
    sha256: str

    def to_dict(self) -> dict[str, str | None]:
        """JSON-ready form."""
        return {"cache_key": self.cache_key, "file": self.file, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, variant: str, data: object) -> ArtifactRef:
        """Parse :meth:`to_dict` output (TypeError naming the variant when malformed)."""
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("file"), str)
            or not isinstance(data.get("sha256"), str)
        ):
            raise TypeError(
                f"variant {variant!r}: an artifact needs 'file' and 'sha256' strings, got {data!r}"
            )
        key = data.get("cache_key")
        if key is not None and not isinstance(key, str):
            raise TypeError(f"variant {variant!r}: artifact 'cache_key' must be a string or null")
        return cls(key, data["file"], data["sha256"])

    def locate(self, cache_root: Path) -> Path | None:
        """The file when it is here with the recorded sha256 (the cache restored by CI), else None."""
        path = Path(self.file) if Path(self.file).is_absolute() else Path(cache_root) / self.file
        return path if path.is_file() and file_sha256(path) == self.sha256 else None


def artifact_ref(path: Path, sha256: str, cache_root: Path) -> ArtifactRef:
    """How a baseline names ``path``: relative to the cache root with its entry's key when it is
    a cache artifact (``artifacts/<k2>/<key>/<file>``), else absolute with no key (a user's file)."""
    path, root = Path(path).absolute(), Path(cache_root).absolute()
    try:
        relative = path.relative_to(root)
    except ValueError:
        return ArtifactRef(None, str(path), sha256)
    parts = relative.parts
    key = parts[2] if len(parts) >= 4 and parts[0] == "artifacts" else None
    return ArtifactRef(key, relative.as_posix(), sha256)


@dataclass(frozen=True)
class Baseline:
    """The stored metrics of one model on one fingerprint, and the artifacts they came from."""

    path: Path
    fingerprint_id: str
    fingerprint: Fingerprint
    model: str
    updated: datetime
    variants: Mapping[str, Mapping[str, float | None]]
    artifacts: Mapping[str, ArtifactRef] = field(default_factory=dict)

    def metric(self, variant: str, metric: str) -> float | None:
        """A stored value, None when the variant or metric has none."""
        return self.variants.get(variant, {}).get(metric)

    def artifact(self, variant: str) -> ArtifactRef | None:
        """The artifact ``variant`` was measured on, None when not recorded (an older file)."""
        return self.artifacts.get(variant)


@dataclass(frozen=True)
class Change:
    """One metric whose stored value an update changed (``old`` None: newly added)."""

    variant: str
    metric: str
    old: float | None
    new: float | None


class BaselineStore:
    """Baselines under ``root``, keyed by fingerprint id and model name."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, fingerprint_id: str, model: str) -> Path:
        """The file of ``model`` on ``fingerprint_id`` (names are checked for path safety)."""
        for kind, name in (("fingerprint id", fingerprint_id), ("model name", model)):
            if not _SAFE.fullmatch(name):
                raise BaselineError(f"{kind} {name!r} cannot be used as a baseline file name")
        return self.root / fingerprint_id / f"{model}.json"

    def load(self, fingerprint_id: str, model: str) -> Baseline | None:
        """The baseline of ``model`` on ``fingerprint_id``, None if there is none."""
        path = self.path(fingerprint_id, model)
        return _read(path, fingerprint_id) if path.is_file() else None

    def load_any(self, model: str, prefer: str) -> tuple[Baseline, bool] | None:
        """The baseline on ``prefer`` (flag True), else the most recently updated other one.

        The flag says whether the fingerprint matches; only then may absolute latency be
        compared. Accuracy can be compared either way.
        """
        own = self.load(prefer, model)
        if own is not None:
            return own, True
        others = [
            _read(path, path.parent.name)
            for path in sorted(self.root.glob(f"*/{model}.json"))
            if path.parent.name != prefer and _SAFE.fullmatch(path.parent.name)
        ]
        if not others:
            return None
        return max(others, key=lambda b: (b.updated, b.fingerprint_id)), False

    def update(
        self,
        fingerprint: Fingerprint,
        model: str,
        variants: Mapping[str, Mapping[str, float | None]],
        artifacts: Mapping[str, ArtifactRef] | None = None,
    ) -> list[Change]:
        """Merge ``variants`` (and the ``artifacts`` they were measured on) into the stored file
        and write it atomically.

        Metrics given as None (not measured) leave the stored value alone; variants and
        metrics not mentioned are kept. Returns the metric changes; nothing is written if neither
        a metric nor an artifact changed.
        """
        path = self.path(fingerprint.id, model)
        existing = self.load(fingerprint.id, model)
        stored = {v: dict(m) for v, m in existing.variants.items()} if existing else {}
        refs = dict(existing.artifacts) if existing else {}
        changes = _merge(stored, variants)
        moved = {v: a for v, a in (artifacts or {}).items() if refs.get(v) != a}
        refs.update(moved)
        if changes or moved or existing is None:
            atomic_write_json(path, _document(fingerprint, model, stored, refs))
        return changes


def _merge(stored: dict[str, Metrics], new: Mapping[str, Mapping[str, float | None]]) -> list[Change]:
    """Apply measured values of ``new`` to ``stored`` in place; return what changed."""
    changes: list[Change] = []
    for variant, metrics in sorted(new.items()):
        target = stored.setdefault(variant, {})
        for metric, value in sorted(metrics.items()):
            if value is None:
                continue
            if not math.isfinite(value):
                raise BaselineError(f"{variant}: {metric} is {value}; only finite values are stored")
            if target.get(metric) != value:
                changes.append(Change(variant, metric, target.get(metric), float(value)))
                target[metric] = float(value)
    return changes


def _document(
    fingerprint: Fingerprint, model: str, variants: dict[str, Metrics], artifacts: Mapping[str, ArtifactRef]
) -> dict[str, object]:
    """The JSON document of a baseline file."""
    return {
        "schema_version": SCHEMA_VERSION,
        "fingerprint": fingerprint.to_dict(),
        "model": model,
        "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        "variants": variants,
        "artifacts": {v: a.to_dict() for v, a in sorted(artifacts.items())},
    }


def _read(path: Path, fingerprint_id: str) -> Baseline:
    """Parse one baseline file; anything unexpected raises BaselineError naming it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc}") from exc
    try:
        return _parse(data, path, fingerprint_id)
    except (KeyError, TypeError, ValueError) as exc:
        raise BaselineError(f"invalid baseline {path}: {exc}") from exc


def _parse(data: object, path: Path, fingerprint_id: str) -> Baseline:
    """Validate a decoded baseline document (errors: KeyError/TypeError/ValueError)."""
    if not isinstance(data, dict):
        raise TypeError("expected a JSON object")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"schema_version {data.get('schema_version')!r}, expected {SCHEMA_VERSION}")
    if not isinstance(data["model"], str) or not isinstance(data["variants"], dict):
        raise TypeError("'model' must be a string and 'variants' an object")
    return Baseline(
        path=path,
        fingerprint_id=fingerprint_id,
        fingerprint=Fingerprint.from_dict(data["fingerprint"]),
        model=data["model"],
        updated=_timestamp(data["updated"]),
        variants={v: _metrics(v, m) for v, m in data["variants"].items()},
        artifacts={v: ArtifactRef.from_dict(v, a) for v, a in data.get("artifacts", {}).items()},
    )


def _timestamp(value: object) -> datetime:
    """An ISO timestamp; naive ones are taken as UTC so that all compare."""
    if not isinstance(value, str):
        raise TypeError(f"'updated' must be an ISO timestamp string, got {value!r}")
    stamp = datetime.fromisoformat(value)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _metrics(variant: str, metrics: object) -> dict[str, float | None]:
    """A variant's metrics: numbers or null."""
    if not isinstance(metrics, dict):
        raise TypeError(f"variant {variant!r}: expected an object of metrics")
    for name, value in metrics.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise TypeError(f"variant {variant!r}: metric {name!r} is {value!r}, not a number")
    return {k: None if v is None else float(v) for k, v in metrics.items()}


def format_changes(changes: list[Change]) -> str:
    """One line per change, e.g. ``yolo11n-p00-fp32-torch map50_95: 0.51 -> 0.52 (+0.01)``."""
    if not changes:
        return "baselines unchanged"
    lines = []
    for change in changes:
        if change.old is None or change.new is None:
            lines.append(f"{change.variant} {change.metric}: {_num(change.old)} -> {_num(change.new)}")
        else:
            delta = change.new - change.old
            lines.append(
                f"{change.variant} {change.metric}: {_num(change.old)} -> {_num(change.new)} ({delta:+.4g})"
            )
    return "\n".join(lines)


def _num(value: float | None) -> str:
    """A stored value for a change line; ``-`` for none."""
    return "-" if value is None else f"{value:.6g}"
