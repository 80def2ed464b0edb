"""Typed reads from parsed TOML tables, with errors that name the file and dotted key.

Shared by ``config`` and ``budgets`` so that both report problems the same way::

    unknown key 'tool.harness.matrx' in pyproject.toml; did you mean 'matrix'?
    tool.harness.imgsz in pyproject.toml: expected an integer >= 32, got '320' (str)
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from harness.errors import ConfigError

__all__ = ["Where", "check_keys", "did_you_mean"]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest choice, or ``""`` when none is close."""
    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{matches[0]}'?" if matches else ""


@dataclass(frozen=True)
class Where:
    """A position in a config source: the file shown to the user and a dotted table path."""

    source: str
    prefix: str = ""

    def key(self, name: str) -> str:
        """The dotted path of ``name`` inside this table."""
        return f"{self.prefix}.{name}" if self.prefix else name

    def child(self, name: str) -> Where:
        """The position of the sub-table ``name``."""
        return Where(self.source, self.key(name))

    def item(self, index: int) -> Where:
        """The position of element ``index`` of the list at this position."""
        return Where(self.source, f"{self.prefix}[{index}]")

    def error(self, name: str, expected: str, got: object) -> ConfigError:
        """A ConfigError saying that key ``name`` should have been ``expected``."""
        return ConfigError(
            f"{self.key(name)} in {self.source}: expected {expected}, got {got!r} ({type(got).__name__})"
        )

    def table(self, value: object, name: str) -> Mapping[str, object]:
        """``value`` as a table (TOML ``[section]`` or ``{...}``)."""
        if not isinstance(value, Mapping):
            raise self.error(name, "a table", value)
        return value

    def sequence(self, value: object, name: str) -> list[object]:
        """``value`` as a list (a lone scalar is not accepted)."""
        if not isinstance(value, list | tuple):
            raise self.error(name, "a list", value)
        return list(value)

    def string(self, value: object, name: str) -> str:
        """``value`` as a non-empty string."""
        if not isinstance(value, str) or not value:
            raise self.error(name, "a non-empty string", value)
        return value

    def strings(self, value: object, name: str) -> tuple[str, ...]:
        """``value`` as a list of non-empty strings (model or backend names), as a tuple."""
        return tuple(self.string(item, name) for item in self.sequence(value, name))

    def optional_strings(self, value: object, name: str) -> tuple[str, ...] | None:
        """:meth:`strings`, or None when the key is absent (``value`` None)."""
        return None if value is None else self.strings(value, name)

    def integer(self, value: object, name: str, minimum: int | None = None) -> int:
        """``value`` as an integer (booleans rejected), at least ``minimum`` if given."""
        if isinstance(value, int) and not isinstance(value, bool) and (minimum is None or value >= minimum):
            return value
        bound = f" >= {minimum}" if minimum is not None else ""
        raise self.error(name, f"an integer{bound}", value)

    def number(self, value: object, name: str, low: float, high: float | None = None) -> float:
        """``value`` as a float in ``[low, high)`` (``high`` None: no upper bound)."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
            if math.isfinite(number) and low <= number and (high is None or number < high):
                return number
        bound = f"in [{low}, {high})" if high is not None else f">= {low}"
        raise self.error(name, f"a number {bound}", value)

    def choice(self, value: object, name: str, choices: Collection[str]) -> str:
        """``value`` as one of ``choices``, with a did-you-mean for near misses."""
        text = self.string(value, name)
        if text not in choices:
            allowed = ", ".join(sorted(choices))
            raise ConfigError(
                f"{self.key(name)} in {self.source}: unknown value '{text}' "
                f"(expected one of: {allowed}){did_you_mean(text, choices)}"
            )
        return text


def check_keys(table: Mapping[str, object], allowed: Collection[str], where: Where) -> None:
    """Raise ConfigError for the first key of ``table`` not in ``allowed``."""
    for key in table:
        if key not in allowed:
            raise ConfigError(
                f"unknown key '{where.key(str(key))}' in {where.source}{did_you_mean(str(key), allowed)}"
            )
