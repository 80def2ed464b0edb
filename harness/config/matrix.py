"""The ``[matrix]`` table: the axes of the variant matrix and its INT8 configurations."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from harness.config.backends import known_backends as registered_backends
from harness.config.reader import Where, check_keys
from harness.errors import ConfigError
from harness.recipes import PRUNE_CHOICES, QUANT_CHOICES, QuantSpec

__all__ = ["PRECISIONS", "MatrixSpec", "QuantChoice"]

PRECISIONS = ("fp32", "fp16", "bf16", "int8")
QUANT_KEYS = (*QUANT_CHOICES, "per_channel", "calib_size", "max_drop", "backends")


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
        axes = {axis: _unique(where, table, axis, _axis_choice(axis)) for axis in PRUNE_AXES if axis in table}
        if "quant" not in table:
            return cls(prune, precision, backend, **axes)  # type: ignore[arg-type]
        # A quant entry may name any registered backend, in the matrix or not (a config that
        # narrows matrix.backend keeps the profile's per-backend INT8 entries valid).
        names = tuple(dict.fromkeys([*known_backends, *registered_backends()]))
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


def _axis_choice(axis: str) -> _Reader:
    """Read one item of the pruning axis ``axis``: one of its choices."""
    return lambda w, v, n: w.choice(v, n, PRUNE_AXES[axis])


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
