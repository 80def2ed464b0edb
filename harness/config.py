"""Load and validate the harness config into a frozen :class:`HarnessConfig`.

The config lives in ``harness.toml`` (top level) or ``pyproject.toml`` (``[tool.harness]``);
``harness.toml`` wins when both exist. Values are layered: profile defaults < file <
overrides (e.g. from the command line). Every layer is checked: an unknown key at any
level is a ConfigError naming the file and dotted key with a did-you-mean suggestion;
a wrong type names the key and the expected type. Relative paths are resolved against the
config file's directory (profile defaults and overrides: against ``rootdir``).
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar

from harness.ablationconfig import AblationSpec
from harness.budgets import Budgets
from harness.distillconfig import DistillConfig, is_teacher_path
from harness.errors import ConfigError
from harness.profiles import DEFAULT_PROFILE, PROFILES, profile_defaults
from harness.pruneconfig import PruningSpec
from harness.recipes import PRUNE_CHOICES, QUANT_CHOICES, QuantSpec
from harness.trainargs import HARNESS_KEYS, Hyp, train_arguments
from harness.validate import Where, check_keys
from harness.verdictconfig import VerdictSpec

__all__ = [
    "PRECISIONS",
    "FALLBACK_BACKENDS",
    "ModelSpec",
    "MatrixSpec",
    "MixedPrecisionSpec",
    "QuantChoice",
    "LatencySpec",
    "DatasetSpec",
    "HarnessConfig",
    "default_known_backends",
    "find_config",
    "load_config",
    "build_config",
]

PRECISIONS = ("fp32", "fp16", "bf16", "int8")
FALLBACK_BACKENDS = ("torch", "onnxruntime", "onnxruntime-trt")
TOP_KEYS = (
    "profile", "data", "imgsz", "device", "threads", "seed", "cache_dir", "reports_dir",
    "baselines_dir", "models", "train", "matrix", "budgets", "latency", "dataset", "mixed_precision",
    "pruning", "distill", "verdicts", "ablation",
)  # fmt: skip
MODEL_KEYS = ("name", "weights", "weights_sha256", "cfg", "train", "teacher")
QUANT_KEYS = (*QUANT_CHOICES, "per_channel", "calib_size", "max_drop", "backends")
TRAIN_KEYS = HARNESS_KEYS  # the harness's own train keys; every other key is an Ultralytics argument
_TOP_PATHS = ("data", "cache_dir", "reports_dir", "baselines_dir")
_MODEL_PATHS = ("weights", "teacher")
_DEVICE = re.compile(r"cpu|cuda(:\d+)?|mps")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_SHA256 = re.compile(r"[0-9A-Fa-f]{64}")

_T = TypeVar("_T", bound="_IntTable")


def default_known_backends() -> tuple[str, ...]:
    """Backend names from the registry, or :data:`FALLBACK_BACKENDS` before it exists."""
    try:
        from harness.backends.registry import known_backends
    except ImportError:
        return FALLBACK_BACKENDS
    return tuple(known_backends())


def _imgsz(where: Where, value: object, name: str) -> int:
    """An image size: integer >= 32 and a multiple of 32 (the YOLO stride)."""
    size = where.integer(value, name, 32)
    if size % 32:
        raise where.error(name, "a multiple of 32", value)
    return size


def _path(where: Where, value: object, name: str, must_exist: bool) -> Path:
    """A path already made absolute by :func:`_resolve_layer` (a str means rootdir-less input)."""
    path = value if isinstance(value, Path) else Path(where.string(value, name)).absolute()
    if must_exist and not path.exists():
        raise ConfigError(f"{where.key(name)} in {where.source}: file not found: {path}")
    return path


class _IntTable:
    """Mixin for frozen dataclasses whose fields are integers with lower bounds."""

    MINIMUMS: ClassVar[Mapping[str, int]]

    def __post_init__(self) -> None:
        for name, low in self.MINIMUMS.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{type(self).__name__}.{name} must be an integer >= {low}")

    @classmethod
    def from_mapping(cls: type[_T], table: Mapping[str, object], where: Where) -> _T:
        """Parse a table holding exactly this class's keys."""
        check_keys(table, cls.MINIMUMS, where)
        for name in cls.MINIMUMS:
            if name not in table:
                raise ConfigError(f"missing key '{where.key(name)}' in {where.source}")
        return cls(**{n: where.integer(table[n], n, low) for n, low in cls.MINIMUMS.items()})


@dataclass(frozen=True)
class LatencySpec(_IntTable):
    """How latency is measured: warm-up calls, timed rounds, interleaved rounds, batch."""

    MINIMUMS: ClassVar[Mapping[str, int]] = {
        "warmup": 0, "rounds": 1, "interleaved_rounds": 1, "throughput_batch": 1,
    }  # fmt: skip
    warmup: int
    rounds: int
    interleaved_rounds: int
    throughput_batch: int


@dataclass(frozen=True)
class DatasetSpec(_IntTable):
    """Size and seed of the built-in synthetic dataset (ignored when ``data`` is set)."""

    MINIMUMS: ClassVar[Mapping[str, int]] = {"n_train": 1, "n_val": 1, "n_calib": 1, "seed": 0}
    n_train: int
    n_val: int
    n_calib: int
    seed: int


@dataclass(frozen=True)
class MixedPrecisionSpec:
    """The mixed-precision search: recover at least ``recover`` of the worst ONNX Runtime INT8
    configuration's mAP loss, keeping at most ``max_layers`` layers in float, one at a time,
    ranked by SQNR measured on ``sensitivity_images`` calibration images."""

    recover: float = 0.5
    max_layers: int = 12
    sensitivity_images: int = 16

    def __post_init__(self) -> None:
        if not 0.0 < self.recover <= 1.0:
            raise ValueError(f"mixed_precision.recover must be in (0, 1], got {self.recover}")
        if self.max_layers < 1 or self.sensitivity_images < 1:
            raise ValueError("mixed_precision.max_layers and sensitivity_images must be >= 1")

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], where: Where) -> MixedPrecisionSpec:
        """Parse ``[mixed_precision]``; absent keys keep their defaults."""
        check_keys(table, ("recover", "max_layers", "sensitivity_images"), where)
        fields: dict[str, object] = {}
        if "recover" in table:
            recover = where.number(table["recover"], "recover", 0.0)
            if not 0.0 < recover <= 1.0:
                raise where.error("recover", "a fraction in (0, 1]", table["recover"])
            fields["recover"] = recover
        for key in ("max_layers", "sensitivity_images"):
            if key in table:
                fields[key] = where.integer(table[key], key, 1)
        return cls(**fields)  # type: ignore[arg-type]


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


@dataclass(frozen=True)
class QuantChoice:
    """One ``[[matrix.quant]]`` entry: an INT8 configuration and the backends it is built for."""

    spec: QuantSpec = QuantSpec()
    backends: tuple[str, ...] | None = None  # None: every backend of the matrix

    def applies_to(self, backend: str) -> bool:
        """Whether this configuration is part of ``backend``'s INT8 variants."""
        return self.backends is None or backend in self.backends


PRUNE_AXES: Mapping[str, tuple[str, ...]] = {
    "prune_criterion": PRUNE_CHOICES["criterion"],
    "prune_strategy": PRUNE_CHOICES["strategy"],
    "prune_method": PRUNE_CHOICES["method"],
}


@dataclass(frozen=True)
class MatrixSpec:
    """The axes of the variant matrix; each is non-empty and free of duplicates."""

    prune: tuple[float, ...]
    precision: tuple[str, ...]
    backend: tuple[str, ...]
    quant: tuple[QuantChoice, ...] = (QuantChoice(),)  # the INT8 configurations (int8 precision only)
    # How ratios > 0 are pruned (each a product axis; unstructured pruning is L1 per layer, so it
    # is combined with neither criteria nor strategies).
    prune_criterion: tuple[str, ...] = ("l1",)
    prune_strategy: tuple[str, ...] = ("uniform",)
    prune_method: tuple[str, ...] = ("structured",)

    def __post_init__(self) -> None:
        for name in ("prune", "precision", "backend", *PRUNE_AXES):
            values = getattr(self, name)
            if not values or len(set(values)) != len(values):
                raise ValueError(f"matrix.{name} must be non-empty without duplicates")
        if not all(0.0 <= p < 1.0 for p in self.prune):
            raise ValueError("matrix.prune values must be in [0, 1)")
        if not set(self.precision) <= set(PRECISIONS):
            raise ValueError(f"matrix.precision values must be among {PRECISIONS}")
        specs = [choice.spec for choice in self.quant]
        if len(set(specs)) != len(specs):
            raise ValueError("matrix.quant lists the same configuration twice; merge their 'backends' lists")

    def quant_for(self, backend: str) -> tuple[QuantSpec, ...]:
        """The INT8 configurations built for ``backend``."""
        return tuple(choice.spec for choice in self.quant if choice.applies_to(backend))

    @classmethod
    def from_mapping(
        cls, table: Mapping[str, object], where: Where, known_backends: Collection[str]
    ) -> MatrixSpec:
        """Parse ``[matrix]``; backends are checked against ``known_backends``."""
        check_keys(table, ("prune", "precision", "backend", "quant", *PRUNE_AXES), where)
        prune = _unique(where, table, "prune", lambda w, v, n: w.number(v, n, 0.0, 1.0))
        precision = _unique(where, table, "precision", lambda w, v, n: w.choice(v, n, PRECISIONS))
        backend = _unique(where, table, "backend", lambda w, v, n: w.choice(v, n, known_backends))
        axes = {
            axis: _unique(where, table, axis, lambda w, v, n, a=axis: w.choice(v, n, PRUNE_AXES[a]))
            for axis in PRUNE_AXES
            if axis in table
        }
        if "quant" not in table:
            return cls(prune, precision, backend, **axes)  # type: ignore[arg-type]
        # A quant entry may name any registered backend, in the matrix or not (a config that
        # narrows matrix.backend keeps the profile's per-backend INT8 entries valid).
        names = tuple(dict.fromkeys([*known_backends, *default_known_backends()]))
        read = functools.partial(_quant_choice, known_backends=names)
        quant = _unique(where, table, "quant", read)
        specs = [choice.spec for choice in quant]  # type: ignore[attr-defined]
        for i, spec in enumerate(specs):
            if spec in specs[:i]:
                raise ConfigError(
                    f"{where.key(f'quant[{i}]')} in {where.source} repeats quant[{specs.index(spec)}]'s "
                    "settings; merge their 'backends' lists"
                )
        return cls(prune, precision, backend, quant, **axes)  # type: ignore[arg-type]


def _quant_choice(where: Where, value: object, name: str, known_backends: Collection[str]) -> QuantChoice:
    """One ``[[matrix.quant]]`` table: QuantSpec fields plus an optional ``backends`` list."""
    table = where.table(value, name)
    item = where.child(name)
    check_keys(table, QUANT_KEYS, item)
    backends = None
    if "backends" in table:
        backends = _unique(item, table, "backends", lambda w, v, n: w.choice(v, n, known_backends))
    return QuantChoice(_quant_spec(table, item), backends)  # type: ignore[arg-type]


def _quant_spec(table: Mapping[str, object], item: Where) -> QuantSpec:
    """The :class:`harness.recipes.QuantSpec` fields of one ``[[matrix.quant]]`` table."""
    fields: dict[str, object] = {}
    for key in QUANT_CHOICES:
        if key in table:
            fields[key] = item.choice(table[key], key, QUANT_CHOICES[key])
    if "per_channel" in table:
        if not isinstance(table["per_channel"], bool):
            raise item.error("per_channel", "true or false", table["per_channel"])
        fields["per_channel"] = table["per_channel"]
    if "calib_size" in table:
        fields["calib_size"] = item.integer(table["calib_size"], "calib_size", 1)
    if "max_drop" in table:
        fields["max_drop"] = item.number(table["max_drop"], "max_drop", 0.0, 1.0)
    return QuantSpec(**fields)  # type: ignore[arg-type]


_Reader = Callable[[Where, object, str], object]


def _unique(where: Where, table: Mapping[str, object], key: str, read: _Reader) -> tuple[object, ...]:
    """A non-empty, duplicate-free list at ``table[key]``, each item parsed by ``read``."""
    if key not in table:
        raise ConfigError(f"missing key '{where.key(key)}' in {where.source}")
    items = where.sequence(table[key], key)
    if not items:
        raise where.error(key, "a non-empty list", table[key])
    values = tuple(read(where, item, f"{key}[{i}]") for i, item in enumerate(items))
    for i, value in enumerate(values):
        if value in values[:i]:
            raise ConfigError(f"{where.key(key)} in {where.source}: {value!r} is listed twice")
    return values


@dataclass(frozen=True)
class HarnessConfig:
    """The validated configuration of one harness run (all paths absolute)."""

    profile: str
    source: Path | None
    rootdir: Path
    data: Path | None
    imgsz: int
    device: str
    threads: int
    seed: int
    cache_dir: Path
    reports_dir: Path
    baselines_dir: Path
    models: tuple[ModelSpec, ...]
    matrix: MatrixSpec
    budgets: Budgets
    latency: LatencySpec
    dataset: DatasetSpec
    mixed_precision: MixedPrecisionSpec | None = None  # None: no mixed-precision search
    pruning: PruningSpec = PruningSpec()
    distill: DistillConfig = DistillConfig()  # no students: no distillation
    verdicts: VerdictSpec = VerdictSpec()
    ablation: AblationSpec = AblationSpec()

    def __post_init__(self) -> None:
        names = [m.name for m in self.models]
        if not names or len(set(names)) != len(names):
            raise ValueError("models must be non-empty with unique names")

    def model(self, name: str) -> ModelSpec:
        """The model called ``name`` (KeyError if absent)."""
        for spec in self.models:
            if spec.name == name:
                return spec
        raise KeyError(f"no model named {name!r}; models: {', '.join(m.name for m in self.models)}")


# --- reading files and layering -------------------------------------------------------


def find_config(rootdir: Path) -> tuple[Path, str] | None:
    """The config file in ``rootdir`` and its table prefix, or None (profile defaults only)."""
    harness_toml = rootdir / "harness.toml"
    if harness_toml.is_file():
        return harness_toml, ""
    pyproject = rootdir / "pyproject.toml"
    if pyproject.is_file():
        tool = _read_toml(pyproject).get("tool")
        if isinstance(tool, Mapping) and "harness" in tool:
            return pyproject, "tool.harness"
    return None


def _read_toml(path: Path) -> dict[str, object]:
    """Parse a TOML file; unreadable or invalid files raise ConfigError naming the path."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {path}: {exc}") from exc


def _file_layer(path: Path, prefix: str) -> dict[str, object]:
    """The harness table of a config file (``prefix`` "tool.harness" for pyproject.toml)."""
    data = _read_toml(path)
    if not prefix:
        return data
    where = Where(path.name)
    tool = where.table(data.get("tool", {}), "tool")
    return dict(where.child("tool").table(tool.get("harness", {}), "harness"))


def _resolve_layer(layer: Mapping[str, object], base: Path) -> dict[str, object]:
    """A copy of ``layer`` with string paths made absolute against ``base``."""
    out = dict(layer)
    for key in _TOP_PATHS:
        if isinstance(out.get(key), str):
            out[key] = _absolute(base, out[key])  # type: ignore[arg-type]
    if isinstance(out.get("models"), list):
        out["models"] = [_resolve_model(m, base) for m in out["models"]]  # type: ignore[union-attr]
    if isinstance(out.get("distill"), Mapping):
        out["distill"] = _resolve_teachers(out["distill"], base)  # type: ignore[arg-type]
    return out


def _resolve_teachers(table: Mapping[str, object], base: Path) -> dict[str, object]:
    """``distill.teachers`` and each student's ``teachers`` with teacher file paths made absolute."""

    def resolve(entries: object) -> object:
        if not isinstance(entries, list):
            return entries
        return [_absolute(base, t) if isinstance(t, str) and is_teacher_path(t) else t for t in entries]

    out = {**table, "teachers": resolve(table["teachers"])} if "teachers" in table else dict(table)
    if isinstance(out.get("students"), list):
        out["students"] = [
            {**s, "teachers": resolve(s["teachers"])} if isinstance(s, Mapping) and "teachers" in s else s
            for s in out["students"]  # type: ignore[union-attr]
        ]
    return out


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


def _absolute(base: Path, text: str) -> Path:
    """``text`` as an absolute path, ``~`` expanded, relative to ``base``."""
    return (base / Path(text).expanduser()).absolute()


def _merge(base: Mapping[str, object], over: Mapping[str, object]) -> dict[str, object]:
    """Deep merge: tables merge key by key, anything else in ``over`` replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)  # type: ignore[arg-type]
        else:
            out[key] = value
    return out


def _display(path: Path, rootdir: Path) -> str:
    """``path`` relative to ``rootdir`` when inside it, for messages."""
    try:
        return str(path.resolve().relative_to(rootdir.resolve()))
    except ValueError:
        return str(path)


def load_config(
    rootdir: Path,
    path: Path | None = None,
    profile: str | None = None,
    overrides: Mapping[str, object] | None = None,
    known_backends: Collection[str] | None = None,
    overrides_source: str = "command-line overrides",
) -> HarnessConfig:
    """Load the config for ``rootdir`` (or the explicit ``path``) and validate it.

    ``profile`` beats a ``profile`` key in ``overrides``, which beats the file's. Paths in
    ``overrides`` are relative to ``rootdir``. ``known_backends`` defaults to the registry.
    """
    rootdir = Path(rootdir).absolute()
    backends = tuple(known_backends) if known_backends is not None else default_known_backends()
    found = _explicit(path, rootdir) if path is not None else find_config(rootdir)
    source = found[0] if found else None
    where = Where(_display(found[0], rootdir), found[1]) if found else Where("profile defaults")
    base = found[0].parent if found else rootdir
    layer = _resolve_layer(_file_layer(*found), base) if found else {}
    extra = _resolve_layer(overrides or {}, rootdir)
    extra_where = Where(overrides_source)
    name = _choose_profile(profile, [(layer, where), (extra, extra_where)])
    chosen = profile is not None or any("profile" in each for each in (layer, extra))
    defaults = _fit_to_models(profile_defaults(name), [layer, extra], chosen)
    merged = _merge(_resolve_layer(defaults, base), layer)
    build = functools.partial(
        build_config, profile=name, source=source, rootdir=rootdir, known_backends=backends
    )
    config = build(merged, where)  # errors here come from the file
    if extra:
        config = build(_merge(merged, extra), extra_where)  # and here from the overrides
    return config


def _fit_to_models(
    defaults: dict[str, object], layers: list[Mapping[str, object]], profile_chosen: bool
) -> dict[str, object]:
    """Profile defaults for a config that brings its own ``models``.

    Without a profile named explicitly, the user's models run the precision x backend matrix and
    only the studies the config names: the profile's training studies and the bars tuned on the
    embedded default are dropped (:func:`_without_studies`). With a profile named, its studies
    stay, less the distillation students that name one of the profile's own models (unless a
    layer sets ``distill.students`` itself).
    """
    if not any("models" in layer for layer in layers):
        return defaults
    if not profile_chosen:
        return _without_studies(defaults)
    distill = defaults.get("distill")
    if not isinstance(distill, Mapping):
        return defaults
    if any(isinstance(layer.get("distill"), Mapping) and "students" in layer["distill"] for layer in layers):
        return defaults
    students = distill.get("students", [])
    kept = [s for s in students if not (isinstance(s, Mapping) and "model" in s)]  # type: ignore[union-attr]
    return {**defaults, "distill": {**distill, "students": kept}}


def _without_studies(defaults: dict[str, object]) -> dict[str, object]:
    """``defaults`` less what trains or was tuned on the embedded default: no pruning ratios, no
    distillation students, no mixed-precision search, no multi-scale ablation row, and none of
    the profile's pruning, distillation or per-kind budgets. A config that sets any of them gets
    it back (its own values merge over these)."""
    out = dict(defaults)
    matrix = out.get("matrix")
    if isinstance(matrix, Mapping):
        out["matrix"] = {**matrix, "prune": [0.0]}
    for study in ("pruning", "distill"):
        table = out.get(study)
        if isinstance(table, Mapping):
            out[study] = {k: v for k, v in table.items() if k not in ("bars", "students")}
    out.pop("mixed_precision", None)
    out.pop("budgets", None)
    ablation = out.get("ablation")
    out["ablation"] = {**(ablation if isinstance(ablation, Mapping) else {}), "multi_scale": 0.0}
    return out


def _explicit(path: Path, rootdir: Path) -> tuple[Path, str]:
    """An explicitly named config file and its table prefix."""
    path = path if path.is_absolute() else rootdir / path
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    return path, "tool.harness" if path.name == "pyproject.toml" else ""


def _choose_profile(explicit: str | None, layers: list[tuple[dict[str, object], Where]]) -> str:
    """The profile name: explicit argument, else the last layer that sets one."""
    if explicit is not None:
        return Where("the profile argument").choice(explicit, "profile", PROFILES)
    name = DEFAULT_PROFILE
    for layer, where in layers:
        if "profile" in layer:
            name = where.choice(layer["profile"], "profile", PROFILES)
    return name


# --- building the config from one merged mapping --------------------------------------


def build_config(
    mapping: Mapping[str, object],
    where: Where,
    *,
    profile: str,
    source: Path | None,
    rootdir: Path,
    known_backends: Collection[str],
) -> HarnessConfig:
    """Validate a merged mapping (profile defaults included) into a HarnessConfig."""
    check_keys(mapping, TOP_KEYS, where)
    for key in TOP_KEYS:
        if key not in mapping and key not in (
            "profile",
            "data",
            "threads",
            "budgets",
            "mixed_precision",
            "pruning",
            "distill",
            "verdicts",
            "ablation",
        ):
            raise ConfigError(f"missing key '{where.key(key)}' in {where.source}")
    imgsz = _imgsz(where, mapping["imgsz"], "imgsz")
    models = _models(mapping, where, imgsz)
    return HarnessConfig(
        profile=profile,
        source=source,
        rootdir=rootdir,
        data=_path(where, mapping["data"], "data", True) if "data" in mapping else None,
        imgsz=imgsz,
        device=_device(where, mapping["device"]),
        threads=where.integer(mapping.get("threads", os.cpu_count() or 1), "threads", 1),
        seed=where.integer(mapping["seed"], "seed", 0),
        cache_dir=_path(where, mapping["cache_dir"], "cache_dir", False),
        reports_dir=_path(where, mapping["reports_dir"], "reports_dir", False),
        baselines_dir=_path(where, mapping["baselines_dir"], "baselines_dir", False),
        models=models,
        matrix=MatrixSpec.from_mapping(
            where.table(mapping["matrix"], "matrix"), where.child("matrix"), known_backends
        ),
        budgets=_budgets(mapping, where),
        latency=LatencySpec.from_mapping(where.table(mapping["latency"], "latency"), where.child("latency")),
        dataset=DatasetSpec.from_mapping(where.table(mapping["dataset"], "dataset"), where.child("dataset")),
        mixed_precision=_mixed_precision(mapping, where),
        pruning=_pruning(mapping, where, known_backends),
        distill=_distill(mapping, where, models, known_backends),
        verdicts=VerdictSpec.from_mapping(
            where.table(mapping.get("verdicts", {}), "verdicts"), where.child("verdicts")
        ),
        ablation=AblationSpec.from_mapping(
            where.table(mapping.get("ablation", {}), "ablation"),
            where.child("ablation"),
            tuple(dict.fromkeys([*known_backends, *default_known_backends()])),
        ),
    )


def _pruning(mapping: Mapping[str, object], where: Where, known_backends: Collection[str]) -> PruningSpec:
    """The ``pruning`` table (defaults when absent); like a quant entry, it may name any registered
    backend, so that a config narrowing ``matrix.backend`` keeps the profile's list valid."""
    table = where.table(mapping.get("pruning", {}), "pruning")
    names = tuple(dict.fromkeys([*known_backends, *default_known_backends()]))
    return PruningSpec.from_mapping(table, where.child("pruning"), names, PRECISIONS)


def _distill(
    mapping: Mapping[str, object],
    where: Where,
    models: tuple[ModelSpec, ...],
    known_backends: Collection[str],
) -> DistillConfig:
    """The ``distill`` table (no students when absent)."""
    table = where.table(mapping.get("distill", {}), "distill")
    names = tuple(dict.fromkeys([*known_backends, *default_known_backends()]))
    return DistillConfig.from_mapping(table, where.child("distill"), [m.name for m in models], names)


def _device(where: Where, value: object) -> str:
    """``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""
    device = where.string(value, "device")
    if not _DEVICE.fullmatch(device):
        raise where.error("device", "'cpu', 'cuda', 'cuda:N' or 'mps'", value)
    return device


def _mixed_precision(mapping: Mapping[str, object], where: Where) -> MixedPrecisionSpec | None:
    """The ``mixed_precision`` table, or None when the config has none."""
    if "mixed_precision" not in mapping:
        return None
    table = where.table(mapping["mixed_precision"], "mixed_precision")
    return MixedPrecisionSpec.from_mapping(table, where.child("mixed_precision"))


def _budgets(mapping: Mapping[str, object], where: Where) -> Budgets:
    """The ``budgets`` table (module defaults when absent)."""
    table = where.table(mapping.get("budgets", {}), "budgets")
    return Budgets.from_mapping(table, where.source, where.key("budgets"), PRECISIONS)


def _train(table: Mapping[str, object], where: Where, fallback: Mapping[str, object]) -> dict[str, object]:
    """A ``train`` table over ``fallback``, key by key: epochs >= 1, batch >= 1, imgsz (multiple of
    32), an optional cheaper first stage (``pre_epochs`` >= 0 at ``pre_imgsz``, default imgsz / 2),
    and any Ultralytics train argument (:func:`harness.trainargs.train_arguments`)."""
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
