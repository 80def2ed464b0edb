"""Helpers shared by the config's table modules: the integer-table base and path and size reads.

Private to :mod:`harness.config`; it imports only the typed reader, so every table module
and the loader can use it without an import cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Self

from harness.config.reader import Where, check_keys
from harness.errors import ConfigError

__all__ = ["_IntTable", "_absolute", "_imgsz", "_path"]


class _IntTable:
    """Mixin for frozen dataclasses whose fields are integers with lower bounds."""

    MINIMUMS: ClassVar[Mapping[str, int]]

    def __post_init__(self) -> None:
        for name, low in self.MINIMUMS.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{type(self).__name__}.{name} must be an integer >= {low}")

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], where: Where) -> Self:
        """Parse a table holding exactly this class's keys."""
        check_keys(table, cls.MINIMUMS, where)
        for name in cls.MINIMUMS:
            if name not in table:
                raise ConfigError(f"missing key '{where.key(name)}' in {where.source}")
        return cls(**{n: where.integer(table[n], n, low) for n, low in cls.MINIMUMS.items()})


def _imgsz(where: Where, value: object, name: str) -> int:
    """An image size: integer >= 32 and a multiple of 32 (the YOLO stride)."""
    size = where.integer(value, name, 32)
    if size % 32:
        raise where.error(name, "a multiple of 32", value)
    return size


def _path(where: Where, value: object, name: str, must_exist: bool) -> Path:
    """A path already made absolute by the loader's layering (a str means rootdir-less input)."""
    path = value if isinstance(value, Path) else Path(where.string(value, name)).absolute()
    if must_exist and not path.exists():
        raise ConfigError(f"{where.key(name)} in {where.source}: file not found: {path}")
    return path


def _absolute(base: Path, text: str) -> Path:
    """``text`` as an absolute path, ``~`` expanded, relative to ``base``."""
    return (base / Path(text).expanduser()).absolute()
