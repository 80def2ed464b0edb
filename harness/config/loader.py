"""Load and validate the harness config into a frozen :class:`HarnessConfig`.

The config lives in ``harness.toml`` (top level) or ``pyproject.toml`` (``[tool.harness]``);
``harness.toml`` wins when both exist. Values are layered: profile defaults < file <
overrides (e.g. from the command line). Every layer is checked: an unknown key at any
level is a ConfigError naming the file and dotted key with a did-you-mean suggestion;
a wrong type names the key and the expected type. Relative paths are resolved against the
config file's directory (profile defaults and overrides: against ``rootdir``).

Each table is read by its own module (``harness.config.matrix``, ``harness.config.models``,
...); this one finds the file, layers profile defaults, file and overrides, and builds the
:class:`HarnessConfig` from the merged mapping.
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.config._tables import _absolute, _imgsz, _path
from harness.config.ablation import AblationSpec
from harness.config.backends import known_backends as registered_backends
from harness.config.budgets import Budgets
from harness.config.dataset import DatasetSpec
from harness.config.distillation import DistillConfig, is_teacher_path
from harness.config.latency import LatencySpec
from harness.config.matrix import PRECISIONS, MatrixSpec
from harness.config.mixed_precision import MixedPrecisionSpec, _mixed_precision
from harness.config.models import ModelSpec, _models, _resolve_model
from harness.config.profiles import DEFAULT_PROFILE, PROFILES, profile_defaults
from harness.config.pruning import PruningSpec
from harness.config.reader import Where, check_keys
from harness.config.studies import StudyTables
from harness.config.verdicts import VerdictSpec
from harness.errors import ConfigError

__all__ = [
    "FALLBACK_BACKENDS",
    "HarnessConfig",
    "build_config",
    "default_known_backends",
    "find_config",
    "load_config",
]

# The backends every build has; the table in harness.config.backends lists them (and any registered).
FALLBACK_BACKENDS = ("torch", "onnxruntime", "onnxruntime-trt")
TOP_KEYS = (
    "profile", "data", "imgsz", "device", "threads", "seed", "cache_dir", "reports_dir",
    "baselines_dir", "models", "train", "matrix", "budgets", "latency", "dataset", "mixed_precision",
    "pruning", "distill", "verdicts", "ablation", "studies",
)  # fmt: skip
_TOP_PATHS = ("data", "cache_dir", "reports_dir", "baselines_dir")
_DEVICE = re.compile(r"cpu|cuda(:\d+)?|mps")


def default_known_backends() -> tuple[str, ...]:
    """Backend names from the backend table (:mod:`harness.config.backends`); imports no backend."""
    return registered_backends()


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
    studies: StudyTables = StudyTables()  # [studies.<name>]: settings of each registered study

    def __post_init__(self) -> None:
        names = [m.name for m in self.models]
        if not names or len(set(names)) != len(names):
            raise ValueError("models must be non-empty with unique names")

    @property
    def shown_source(self) -> str:
        """The config file as messages show it (relative to the root when inside it)."""
        return _display(self.source, self.rootdir) if self.source else "the profile defaults"

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
        if isinstance(path := out.get(key), str):
            out[key] = _absolute(base, path)
    if isinstance(models := out.get("models"), list):
        out["models"] = [_resolve_model(m, base) for m in models]
    if isinstance(distill := out.get("distill"), Mapping):
        out["distill"] = _resolve_teachers(distill, base)
    return out


def _resolve_teachers(table: Mapping[str, object], base: Path) -> dict[str, object]:
    """``distill.teachers`` and each student's ``teachers`` with teacher file paths made absolute."""

    def resolve(entries: object) -> object:
        if not isinstance(entries, list):
            return entries
        return [_absolute(base, t) if isinstance(t, str) and is_teacher_path(t) else t for t in entries]

    out = {**table, "teachers": resolve(table["teachers"])} if "teachers" in table else dict(table)
    if isinstance(students := out.get("students"), list):
        out["students"] = [
            {**s, "teachers": resolve(s["teachers"])} if isinstance(s, Mapping) and "teachers" in s else s
            for s in students
        ]
    return out


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
    if any(isinstance(table := layer.get("distill"), Mapping) and "students" in table for layer in layers):
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
            "studies",
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
        studies=StudyTables.from_mapping(mapping.get("studies", {}), where),
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


def _budgets(mapping: Mapping[str, object], where: Where) -> Budgets:
    """The ``budgets`` table (module defaults when absent)."""
    table = where.table(mapping.get("budgets", {}), "budgets")
    return Budgets.from_mapping(table, where.source, where.key("budgets"), PRECISIONS)
