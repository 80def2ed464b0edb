"""The ``[studies.adaptive_pruning]`` table: gradual pruning whose step size follows validation::

    [studies.adaptive_pruning]
    target = 0.5          # fraction of channels to remove in all
    max_drop = 0.02       # a step is kept when held-out mAP50-95 stays within this of the reference
                          # fine-tuned as often
    first_step = 0.1      # the first step's share of the original channels
    grow = 1.5            # after a kept step, the next is this much larger
    shrink = 0.5          # after a rejected step, the next try is this much smaller
    min_step = 0.025      # stop when a try would be smaller than this
    finetune_epochs = 4   # fine-tuning after every step (the one-shot control: the same in all)
    max_steps = 10        # trained tries, kept or not
    eval_images = 128     # held-out calib images (never val, never calibration) that decide
    round_to = 16         # kept channels in multiples of this (absent: [pruning] round_to); 1: no
                          # rounding, so that small steps stay small
    models = ["yolo11n"]  # [[models]] names (absent: every model)

The study runs when the table is present (the full profile has one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness.config.reader import Where, check_keys

__all__ = ["ADAPTIVE_KEYS", "AdaptiveSpec"]

ADAPTIVE_KEYS = (
    "target", "max_drop", "first_step", "grow", "shrink", "min_step", "finetune_epochs", "max_steps",
    "eval_images", "round_to", "models",
)  # fmt: skip


@dataclass(frozen=True)
class AdaptiveSpec:
    """How far to prune, how the step adapts, and what decides."""

    target: float = 0.5
    max_drop: float = 0.02
    first_step: float = 0.1
    grow: float = 1.5
    shrink: float = 0.5
    min_step: float = 0.025
    finetune_epochs: int = 4
    max_steps: int = 10
    eval_images: int = 128
    round_to: int | None = None
    models: tuple[str, ...] | None = None

    @classmethod
    def from_table(cls, table: Mapping[str, object], where: Where) -> AdaptiveSpec:
        """Parse the table; a bad key or value is a ConfigError naming it."""
        check_keys(table, ADAPTIVE_KEYS, where)
        d = cls()
        return cls(
            target=where.number(table.get("target", d.target), "target", 0.01, 0.95),
            max_drop=where.number(table.get("max_drop", d.max_drop), "max_drop", 0.0),
            first_step=where.number(table.get("first_step", d.first_step), "first_step", 0.005, 0.95),
            grow=where.number(table.get("grow", d.grow), "grow", 1.0),
            shrink=where.number(table.get("shrink", d.shrink), "shrink", 0.05, 1.0),
            min_step=where.number(table.get("min_step", d.min_step), "min_step", 0.001, 0.95),
            finetune_epochs=where.integer(
                table.get("finetune_epochs", d.finetune_epochs), "finetune_epochs", 1
            ),
            max_steps=where.integer(table.get("max_steps", d.max_steps), "max_steps", 1),
            eval_images=where.integer(table.get("eval_images", d.eval_images), "eval_images", 8),
            round_to=None if "round_to" not in table else where.integer(table["round_to"], "round_to", 1),
            models=where.optional_strings(table.get("models"), "models"),
        )
