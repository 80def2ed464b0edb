"""The study registry: the harness's studies, studies from entry points, and ``@register_study``.

The harness's own studies are listed here as ``"module:attribute"`` strings and imported on first
use. A package adds a study through the ``harness.studies`` entry point group (the target is a
:class:`~harness.studies.base.Study` subclass or instance); a user's conftest or plugin module
decorates its class with :func:`register_study`. Names must be unique.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TypeVar

from harness.config.reader import did_you_mean
from harness.errors import ConfigError
from harness.studies.base import Study

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "register_study", "registered", "study"]

BUILTIN = (
    "harness.studies.pruning:PruningStudy",
    "harness.studies.distillation:DistillationStudy",
    "harness.studies.mixed_precision:MixedPrecisionStudy",
    "harness.studies.ablation:AblationStudy",
    "harness.studies.verdict_calibration:VerdictCalibrationStudy",
    "harness.studies.qat:QatStudy",
    "harness.studies.imbalance:ImbalanceStudy",
    "harness.studies.tflite:TfliteStudy",
    "harness.studies.recommendation:RecommendationStudy",
    "harness.studies.model_selection:ModelSelectionStudy",
    "harness.studies.adaptive_pruning:AdaptivePruningStudy",
    "harness.studies.layer_pruning:LayerPruningStudy",
)
"""The harness's studies: adding one is its module plus one line here."""

ENTRY_POINT_GROUP = "harness.studies"

_REGISTERED: dict[str, Study[object, object]] = {}  # type: ignore[type-var]
_LOADED = False
_S = TypeVar("_S", bound=type[Study])  # type: ignore[type-arg]


def register_study(cls: _S) -> _S:
    """Class decorator: register an instance of the study ``cls`` (its ``name`` must be new)."""
    _add(cls())
    return cls


def registered() -> list[Study]:  # type: ignore[type-arg]
    """Every registered study, the harness's first, then entry points, then decorated ones."""
    _load()
    return list(_REGISTERED.values())


def study(name: str) -> Study:  # type: ignore[type-arg]
    """The registered study called ``name``."""
    _load()
    if name not in _REGISTERED:
        hint = did_you_mean(name, _REGISTERED)
        raise ConfigError(f"no study named {name!r}{hint} (registered: {', '.join(_REGISTERED)})")
    return _REGISTERED[name]


def _add(found: object) -> None:
    """Register a Study instance (a Study subclass is instantiated)."""
    instance = found() if isinstance(found, type) else found
    if not isinstance(instance, Study):
        raise ConfigError(f"{found!r} is not a harness Study (subclass harness.studies.Study)")
    current = _REGISTERED.get(instance.name)
    if current is not None and type(current) is not type(instance):
        raise ConfigError(
            f"two studies are named {instance.name!r}: {type(current).__qualname__} and "
            f"{type(instance).__qualname__}"
        )
    _REGISTERED[instance.name] = instance


def _load() -> None:
    """Import the harness's studies and the entry points once (before decorated ones keep order)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    decorated = dict(_REGISTERED)
    _REGISTERED.clear()
    for target in BUILTIN:
        module, _, attribute = target.partition(":")
        _add(getattr(importlib.import_module(module), attribute))
    for point in entry_points(group=ENTRY_POINT_GROUP):
        _add(point.load())
    for instance in decorated.values():
        _add(instance)
