"""The ``[studies]`` table: one sub-table of settings per registered study (a user's included)::

    [studies.val_images]        # read by the study named "val_images"
    limits = [1, 100000]

The harness's own studies keep their top-level tables (``[pruning]``, ``[distill]``, ...). What a
sub-table may hold is its study's business: it reads values through :meth:`StudyTables.where`,
so that a bad value names the file and dotted key like every other config error. A sub-table
whose name no registered study has is an error with a suggestion, once the studies are known.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TypeVar

from harness.config.reader import Where, did_you_mean
from harness.errors import ConfigError

__all__ = ["StudyTables"]

_PROFILE_DEFAULTS = Where("the profile defaults")
_T = TypeVar("_T")


@dataclass(frozen=True)
class StudyTables:
    """Each study's settings by study name, and where in the config file they were read."""

    tables: tuple[tuple[str, Mapping[str, object]], ...] = ()
    origin: Where = _PROFILE_DEFAULTS

    @classmethod
    def from_mapping(cls, value: object, where: Where) -> StudyTables:
        """Parse ``[studies]``: every entry must be a table."""
        table = where.table(value, "studies")
        inner = where.child("studies")
        return cls(tuple((str(k), dict(inner.table(v, str(k)))) for k, v in table.items()), inner)

    def __hash__(self) -> int:
        """Hashable like the rest of the config although each table is a dict (its JSON is hashed)."""
        return hash((json.dumps(self.tables, sort_keys=True, default=repr), self.origin))

    def has(self, name: str) -> bool:
        """Whether the config has a ``[studies.<name>]`` table (an empty one counts)."""
        return any(n == name for n, _ in self.tables)

    def table(self, name: str) -> Mapping[str, object]:
        """The settings of study ``name`` (empty when the config has none)."""
        return next((t for n, t in self.tables if n == name), {})

    def read(self, name: str, parse: Callable[[Mapping[str, object], Where], _T]) -> _T | None:
        """Study ``name``'s settings through ``parse`` (a spec's ``from_table``, given the table and its
        position for errors), or None when the config has no ``[studies.<name>]`` table."""
        return parse(self.table(name), self.where(name)) if self.has(name) else None

    def where(self, name: str) -> Where:
        """The position of study ``name``'s sub-table, for typed reads with clear errors."""
        return self.origin.child(name)

    def check_names(self, registered: Collection[str]) -> None:
        """Fail on a sub-table that no registered study reads, naming the closest study name."""
        for name, _ in self.tables:
            if name not in registered:
                raise ConfigError(
                    f"unknown study '{self.origin.key(name)}' in {self.origin.source}"
                    f"{did_you_mean(name, registered)} "
                    f"(registered studies: {', '.join(registered)})"
                )
