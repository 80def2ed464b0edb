"""Ultralytics training arguments in the config's ``train`` tables and in users' checkpoints.

A ``train`` table (top level, or ``train = {...}`` of one ``[[models]]`` entry) holds the
harness's own keys (:data:`HARNESS_KEYS`) and any Ultralytics train argument, checked against
Ultralytics' own configuration: its ``cfg/default.yaml``, the file ``DEFAULT_CFG_DICT`` is loaded
from. The file is read directly, without importing Ultralytics (whose import loads torch): the
``harness report`` and ``harness compare --config`` paths stay free of model libraries. A value is
checked against the type Ultralytics documents for its key (the ``# (float | list)`` comment
beside it), else against the type of its default. Keys the harness sets itself on every training
are refused (:data:`CONTROLLED`, with the reason).

Every training recipe's ``hyp`` (and so its cache key) is the harness's default arguments, or a
user's checkpoint's stored ones (:func:`checkpoint_hyp`), with the config's arguments over them
key by key (:func:`with_overrides`).
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Mapping
from pathlib import Path

from harness.config.reader import Where, check_keys
from harness.errors import ConfigError

__all__ = [
    "CONTROLLED",
    "HARNESS_KEYS",
    "Hyp",
    "checkpoint_hyp",
    "train_arguments",
    "ultralytics_defaults",
    "with_overrides",
]

Hyp = tuple[tuple[str, object], ...]
"""Ultralytics training arguments as ``(name, value)`` pairs (lists stored as tuples)."""

HARNESS_KEYS = ("epochs", "batch", "imgsz", "pre_epochs", "pre_imgsz")
"""The ``train`` keys the harness reads itself (epochs, batch and imgsz go to every training)."""

_OUTPUTS = "it writes each run to a scratch folder of its cache"
_VALIDATION = "it measures accuracy itself, on every backend; training runs without validation or plots"
_KD = "from the [distill] table (feature KD's weight: distill.feature.weight)"
CONTROLLED: Mapping[str, str] = {
    "task": "it trains detection models",
    "mode": "it trains detection models",
    "model": "set [[models]] cfg or weights",
    "pretrained": "a training starts from its recipe's weights ([[models]] cfg or weights, in its cache key)",
    "cfg": "put the config.yaml's keys in this table, where they are checked",
    "data": "set the top-level 'data'",
    "device": "set the top-level 'device'",
    "seed": "set the top-level 'seed'",
    "deterministic": "it always trains deterministically, so that a cache entry can be rebuilt",
    "workers": "from its thread count",
    "amp": "it trains in FP32, reproducibly (and Ultralytics' AMP check on CUDA would download a model)",
    "time": "a wall-clock limit is not reproducible; set epochs",
    "resume": "every training starts from its recipe",
    "project": _OUTPUTS,
    "name": _OUTPUTS,
    "exist_ok": _OUTPUTS,
    "save": _OUTPUTS,
    "val": _VALIDATION,
    "plots": _VALIDATION,
    "verbose": "it keeps training logs short",
    "distill_model": _KD,
    "dis": _KD,
    "single_cls": "every model is scored against the dataset's own classes; a one-class model would not match them",
}
"""Ultralytics arguments the harness sets itself on every training, with the reason."""

# Ultralytics' default.yaml sections whose keys shape a training (the others: validation,
# prediction, visualization, export, tracker settings, which a training does not read).
_TRAINING_SECTIONS = ("train settings", "segmentation", "classification", "hyperparameters")
# Where and how fast a run trains, not what it learns (a CUDA run's compile settings would only
# slow a CPU fine-tune down).
_RUN_ONLY = ("save_period", "cache", "profile", "patience", "compile", "channels_last")
_KEY_LINE = re.compile(r"([A-Za-z_]\w*):")
_TYPE_COMMENT = re.compile(r"#\s*\(([^)]*)\)")
_SECTION = re.compile(r"#\s*([A-Za-z/ .]+?)\s*(?:-+\s*)?$")
_EXPECTED = {
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "bool": "true or false",
    "list": "a list",
}


@functools.cache
def _default_yaml() -> Path:
    """Ultralytics' ``cfg/default.yaml``, found without importing Ultralytics."""
    spec = importlib.util.find_spec("ultralytics")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / "cfg" / "default.yaml"
        if path.is_file():
            return path
    raise ConfigError("train: Ultralytics is not installed (its cfg/default.yaml checks the train arguments)")


@functools.cache
def ultralytics_defaults() -> Mapping[str, object]:
    """Ultralytics' default training configuration: the same mapping as its ``DEFAULT_CFG_DICT``."""
    import yaml

    with _default_yaml().open(encoding="utf-8", errors="ignore") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise ConfigError(f"train: {_default_yaml()} is not a mapping of Ultralytics' defaults")
    return data


@functools.cache
def _annotations() -> tuple[Mapping[str, frozenset[str]], Mapping[str, str]]:
    """Per key of default.yaml: the types its comment documents (``(bool | str)`` gives
    {"bool", "str"}; "list[int]" counts as "list", "optional" as None) and its section."""
    types: dict[str, frozenset[str]] = {}
    sections: dict[str, str] = {}
    section = ""
    for line in _default_yaml().read_text(encoding="utf-8", errors="ignore").splitlines():
        if line.startswith("#"):
            if found := _SECTION.fullmatch(line.strip()):
                section = found.group(1).strip().lower()
            continue
        key = _KEY_LINE.match(line)
        if key is None:
            continue
        sections[key.group(1)] = section
        if comment := _TYPE_COMMENT.search(line):
            words = re.split(r"[|,]", comment.group(1))
            types[key.group(1)] = frozenset(w.strip().split("[")[0].replace("tuple", "list") for w in words)
    return types, sections


def _allowed_types(key: str) -> frozenset[str]:
    """The types a value of ``key`` may have (empty: anything), from default.yaml's comment, else
    from its default's type."""
    documented = _annotations()[0].get(key)
    if documented and documented <= {*_EXPECTED, "optional"}:
        return documented - {"optional"}
    default = ultralytics_defaults().get(key)
    if default is None:
        return frozenset()
    return frozenset({type(default).__name__}) & frozenset(_EXPECTED) or frozenset()


def _fits(value: object, types: frozenset[str]) -> bool:
    """Whether ``value`` (already a plain scalar or list) has one of ``types``."""
    if isinstance(value, bool):
        return "bool" in types
    if isinstance(value, int):
        return bool(types & {"int", "float"})
    if isinstance(value, float):
        return "float" in types
    if isinstance(value, str):
        return "str" in types
    return "list" in types


def _plain(value: object) -> bool:
    """A TOML scalar (string, number, boolean) or a list of them; not a table or a date."""
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value) and not any(isinstance(v, list | tuple) for v in value)
    return isinstance(value, str | int | float | bool)


def _frozen(value: object) -> object:
    """``value`` with lists as tuples (recipes are hashable)."""
    return tuple(value) if isinstance(value, list | tuple) else value


def _argument(where: Where, key: str, value: object) -> object:
    """One Ultralytics argument of a ``train`` table, checked and normalized."""
    if key in CONTROLLED:
        raise ConfigError(
            f"{where.key(key)} in {where.source}: refused, the harness sets '{key}' itself; {CONTROLLED[key]}"
        )
    types = _allowed_types(key)
    if not _plain(value) or (types and not _fits(value, types)):
        expected = (
            " or ".join(_EXPECTED[t] for t in sorted(types)) if types else "a value or a list of values"
        )
        raise where.error(key, f"{expected} (Ultralytics' type for '{key}')", value)
    if types == {"float"} and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # lr0 = 1 and lr0 = 1.0 are one recipe
    return _frozen(value)


def train_arguments(table: Mapping[str, object], where: Where) -> dict[str, object]:
    """The Ultralytics arguments of a ``train`` table (the keys other than :data:`HARNESS_KEYS`),
    checked: an unknown key is a ConfigError with a did-you-mean, a key in :data:`CONTROLLED`
    one with the reason, a value of the wrong type one naming the expected type."""
    check_keys(table, (*HARNESS_KEYS, *ultralytics_defaults()), where)
    return {key: _argument(where, key, value) for key, value in table.items() if key not in HARNESS_KEYS}


def checkpoint_hyp(stored: Mapping[str, object]) -> Hyp:
    """The hyperparameters among a checkpoint's stored ``train_args``, sorted by name.

    Kept: arguments Ultralytics knows that shape a training (its train settings and
    hyperparameters). Dropped: what the harness sets itself (:data:`CONTROLLED`, and epochs, batch
    and imgsz, which come from the config), run control (``save_period``, ``cache``, ``profile``,
    ``patience``, ``compile``, ``channels_last``), validation, prediction and export settings,
    and values that are not plain or not of the type this Ultralytics documents for the key (a
    checkpoint from a version where the argument meant something else).
    """
    known = ultralytics_defaults()
    sections = _annotations()[1]
    training = {k for k in known if sections.get(k) in _TRAINING_SECTIONS} or set(known)
    dropped = {*CONTROLLED, *HARNESS_KEYS, *_RUN_ONLY}
    kept = {
        key: _frozen(value)
        for key, value in stored.items()
        if key in training and key not in dropped and (value is None or _stored_fits(key, value))
    }
    return tuple(sorted(kept.items()))


def _stored_fits(key: str, value: object) -> bool:
    """Whether a checkpoint's stored ``value`` is plain and of a type ``key`` takes here."""
    types = _allowed_types(key)
    return _plain(value) and (not types or _fits(value, types))


def _same(a: object, b: object) -> bool:
    """Equal values of the same kind (``True == 1`` in Python, but not here)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def with_overrides(base: Hyp, overrides: Hyp | Mapping[str, object]) -> Hyp:
    """``base`` with ``overrides`` on top, key by key. Without overrides (or with only values
    equal to the base's) ``base`` comes back unchanged, so that its cache keys stay the same."""
    over = dict(overrides)
    current = dict(base)
    if all(key in current and _same(current[key], value) for key, value in over.items()):
        return base
    for key, value in over.items():
        if not (key in current and _same(current[key], value)):
            current[key] = value
    return tuple(current.items())
