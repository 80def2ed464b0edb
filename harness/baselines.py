"""Stored baselines: ``<root>/<fingerprint_id>/<model>.json``, one file per model.

A file holds the accepted metrics of every variant of one model on one fingerprint::

    {"schema_version": 1, "fingerprint": {...}, "model": "yolo11n",
     "updated": "2025-01-01T12:00:00+00:00",
     "variants": {"yolo11n-p00-fp32-torch": {"map50_95": 0.51, "latency_median_ms": 26.6}}}

Files change only through :meth:`BaselineStore.update` (written atomically). Reading never
writes; a corrupt file raises BaselineError naming it rather than being replaced.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from harness.environment import Fingerprint
from harness.errors import BaselineError
from harness.fsutil import atomic_write_json

__all__ = ["SCHEMA_VERSION", "Baseline", "Change", "BaselineStore", "format_changes"]

SCHEMA_VERSION = 1
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
Metrics = dict[str, float | None]


@dataclass(frozen=True)
class Baseline:
    """The stored metrics of one model on one fingerprint."""

    path: Path
    fingerprint_id: str
    fingerprint: Fingerprint
    model: str
    updated: datetime
    variants: Mapping[str, Mapping[str, float | None]]

    def metric(self, variant: str, metric: str) -> float | None:
        """A stored value, None when the variant or metric has none."""
        return self.variants.get(variant, {}).get(metric)


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
        self, fingerprint: Fingerprint, model: str, variants: Mapping[str, Mapping[str, float | None]]
    ) -> list[Change]:
        """Merge ``variants`` into the stored file and write it atomically.

        Metrics given as None (not measured) leave the stored value alone; variants and
        metrics not mentioned are kept. Returns the changes; nothing is written if none.
        """
        path = self.path(fingerprint.id, model)
        existing = self.load(fingerprint.id, model)
        stored = {v: dict(m) for v, m in existing.variants.items()} if existing else {}
        changes = _merge(stored, variants)
        if changes or existing is None:
            atomic_write_json(path, _document(fingerprint, model, stored))
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


def _document(fingerprint: Fingerprint, model: str, variants: dict[str, Metrics]) -> dict[str, object]:
    """The JSON document of a baseline file."""
    return {
        "schema_version": SCHEMA_VERSION,
        "fingerprint": fingerprint.to_dict(),
        "model": model,
        "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "variants": variants,
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
    )


def _timestamp(value: object) -> datetime:
    """An ISO timestamp; naive ones are taken as UTC so that all compare."""
    if not isinstance(value, str):
        raise TypeError(f"'updated' must be an ISO timestamp string, got {value!r}")
    stamp = datetime.fromisoformat(value)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


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
