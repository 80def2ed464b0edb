"""The ``models`` list and its ``train`` tables: the models under test and how each is trained."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.config._tables import _absolute, _imgsz, _path
from harness.config.reader import Where, check_keys
from harness.config.trainargs import HARNESS_KEYS, Hyp, train_arguments
from harness.errors import ConfigError

__all__ = ["ModelSpec"]

MODEL_KEYS = ("name", "weights", "weights_sha256", "cfg", "train", "teacher")
TRAIN_KEYS = HARNESS_KEYS  # the harness's own train keys; every other key is an Ultralytics argument
_MODEL_PATHS = ("weights", "teacher")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_SHA256 = re.compile(r"[0-9A-Fa-f]{64}")


@dataclass(frozen=True)
class ModelSpec:
    """One model under test: pretrained ``weights`` or an Ultralytics ``cfg`` to train."""

    name: str
    weights: Path | None
    cfg: str | None
    epochs: int
    batch: int
    train_imgsz: int
    teacher: Path | None = None
    pre_epochs: int = 0
    pre_imgsz: int | None = None
    weights_sha256: str | None = None  # pins the weights file: a mismatch stops the run before loading
    # Ultralytics training arguments from the config's train tables, sorted by name: over the
    # harness's defaults (cfg) or the checkpoint's stored arguments (weights) in every training.
    train_args: Hyp = ()

    def __post_init__(self) -> None:
        if (self.weights is None) == (self.cfg is None):
            raise ValueError(f"model {self.name!r}: set exactly one of weights or cfg")
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"model name {self.name!r} must match {_NAME.pattern}")


def _resolve_model(model: object, base: Path) -> object:
    """A model table with its paths (and a cfg that is a local file) made absolute."""
    if not isinstance(model, Mapping):
        return model
    out = dict(model)
    for key in _MODEL_PATHS:
        if isinstance(out.get(key), str):
            out[key] = _absolute(base, out[key])
    cfg = out.get("cfg")
    if isinstance(cfg, str) and cfg and (base / cfg).is_file():
        out["cfg"] = str(_absolute(base, cfg))
    return out


def _train(table: Mapping[str, object], where: Where, fallback: Mapping[str, object]) -> dict[str, object]:
    """A ``train`` table over ``fallback``, key by key: epochs >= 1, batch >= 1, imgsz (multiple of
    32), an optional cheaper first stage (``pre_epochs`` >= 0 at ``pre_imgsz``, default imgsz / 2),
    and any Ultralytics train argument (:func:`harness.config.trainargs.train_arguments`)."""
    out = {**fallback, **train_arguments(table, where)}
    for key in ("epochs", "batch"):
        if key in table:
            out[key] = where.integer(table[key], key, 1)
    if "pre_epochs" in table:
        out["pre_epochs"] = where.integer(table["pre_epochs"], "pre_epochs", 0)
    for key in ("imgsz", "pre_imgsz"):
        if key in table:
            out[key] = _imgsz(where, table[key], key)
    return out


def _models(mapping: Mapping[str, object], where: Where, imgsz: int) -> tuple[ModelSpec, ...]:
    """Parse ``models`` (non-empty list of tables, unique names) using ``train`` defaults."""
    train_table = where.table(mapping["train"], "train")
    defaults = _train(train_table, where.child("train"), {"imgsz": imgsz})
    for key in ("epochs", "batch"):
        if key not in defaults:
            raise ConfigError(f"missing key '{where.child('train').key(key)}' in {where.source}")
    items = where.sequence(mapping["models"], "models")
    if not items:
        raise where.error("models", "a non-empty list of tables", mapping["models"])
    models = tuple(_model(item, where.child("models").item(i), defaults) for i, item in enumerate(items))
    for i, model in enumerate(models):
        if model.name in [m.name for m in models[:i]]:
            raise ConfigError(
                f"{where.key('models')}[{i}].name in {where.source}: duplicate model name '{model.name}'"
            )
    return models


def _model(item: object, where: Where, defaults: Mapping[str, object]) -> ModelSpec:
    """One ``[[models]]`` table."""
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where.prefix} in {where.source}: expected a table, got {item!r}")
    table = item
    check_keys(table, MODEL_KEYS, where)
    if ("weights" in table) == ("cfg" in table):
        raise ConfigError(f"{where.prefix} in {where.source}: set exactly one of 'weights' or 'cfg'")
    name = where.string(table.get("name"), "name")
    if not _NAME.fullmatch(name):
        raise where.error("name", "letters, digits, '_', '.', '-' (not first)", name)
    train = _train(where.table(table.get("train", {}), "train"), where.child("train"), defaults)
    has_weights = "weights" in table
    return ModelSpec(
        name=name,
        weights=_path(where, table["weights"], "weights", True) if has_weights else None,
        cfg=None if has_weights else where.string(table["cfg"], "cfg"),
        epochs=train["epochs"],  # type: ignore[arg-type]
        batch=train["batch"],  # type: ignore[arg-type]
        train_imgsz=train["imgsz"],  # type: ignore[arg-type]
        teacher=_path(where, table["teacher"], "teacher", True) if "teacher" in table else None,
        pre_epochs=train.get("pre_epochs", 0),  # type: ignore[arg-type]
        pre_imgsz=train.get("pre_imgsz"),  # type: ignore[arg-type]
        weights_sha256=_sha256_pin(table, where),
        train_args=tuple(sorted((k, v) for k, v in train.items() if k not in TRAIN_KEYS)),
    )


def _sha256_pin(table: Mapping[str, object], where: Where) -> str | None:
    """A model's ``weights_sha256``: 64 hex digits, only beside ``weights``."""
    if "weights_sha256" not in table:
        return None
    value = where.string(table["weights_sha256"], "weights_sha256")
    if not _SHA256.fullmatch(value):
        raise where.error("weights_sha256", "the file's sha256 as 64 hexadecimal digits", value)
    if "weights" not in table:
        raise ConfigError(
            f"{where.key('weights_sha256')} in {where.source}: pins a 'weights' file; this model has none"
        )
    return value.lower()
