"""The ``[studies.recommendation]`` table: the fastest variant that keeps accuracy, per model::

    [studies.recommendation]
    models = ["yolo11n"]       # [[models]] names (absent: every model)
    screen_rounds = 15         # rounds of the round-robin that times every candidate
    interleaved_rounds = 300   # rounds of the recommended variant against PyTorch FP32 eager
                               # (absent: [latency] interleaved_rounds, as every other study)
    combine = false            # also put each pruned / distilled checkpoint on the fastest unpruned
                               # configuration that holds its budget (builds and scores them)
    min_speedup = 8.0          # a bar: the recommended variant against PyTorch FP32 eager, timed
                               # interleaved (absent: measured, not judged)
    max_roofline_ratio = 1.5   # a bar: the fastest unpruned INT8 variant's latency over this CPU's
                               # measured INT8 compute roofline (absent: measured, not judged)

The study runs when the table is present (the default and full profiles have one; an empty table
takes every default). A bar is judged only when its key is set: the figures are recorded either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness.config.reader import Where, check_keys

__all__ = ["RECOMMENDATION_KEYS", "RecommendationSpec"]

RECOMMENDATION_KEYS = (
    "models", "screen_rounds", "interleaved_rounds", "combine", "min_speedup", "max_roofline_ratio",
)  # fmt: skip


@dataclass(frozen=True)
class RecommendationSpec:
    """Which models get a recommendation, how candidates are timed, and the optional bars."""

    models: tuple[str, ...] | None = None
    screen_rounds: int = 15
    interleaved_rounds: int | None = None
    combine: bool = False
    min_speedup: float | None = None
    max_roofline_ratio: float | None = None

    @classmethod
    def from_table(cls, table: Mapping[str, object], where: Where) -> RecommendationSpec:
        """Parse the table; a bad key or type is a ConfigError naming it."""
        check_keys(table, RECOMMENDATION_KEYS, where)
        default = cls()
        combine = table.get("combine", default.combine)
        if not isinstance(combine, bool):
            raise where.error("combine", "true or false", combine)
        return cls(
            models=where.optional_strings(table.get("models"), "models"),
            screen_rounds=where.integer(
                table.get("screen_rounds", default.screen_rounds), "screen_rounds", 3
            ),
            interleaved_rounds=_rounds(table.get("interleaved_rounds"), where),
            combine=combine,
            min_speedup=_optional(table.get("min_speedup"), "min_speedup", where),
            max_roofline_ratio=_optional(table.get("max_roofline_ratio"), "max_roofline_ratio", where),
        )


def _optional(value: object, name: str, where: Where) -> float | None:
    """A positive number, or None when the key is absent."""
    if value is None:
        return None
    number = where.number(value, name, 0.0)
    if number == 0.0:
        raise where.error(name, "a number > 0", value)
    return number


def _rounds(value: object, where: Where) -> int | None:
    """The recommendation's own interleaved round count (at least 3), or None when absent."""
    return None if value is None else where.integer(value, "interleaved_rounds", 3)
