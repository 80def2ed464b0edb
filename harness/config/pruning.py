"""The ``[pruning]`` config table: how pruned variants are built, where they run, and their bars.

The ratios, criteria, strategies and methods are matrix axes (``matrix.prune``,
``matrix.prune_criterion``, ``matrix.prune_strategy``, ``matrix.prune_method``); this table holds
the settings shared by every pruned variant::

    [pruning]
    round_to = 16           # kept channel counts are multiples of 16 (1: no rounding)
    rounding = "down"       # "down" (Torch-Pruning's rule) or "nearest" (uniform variants only)
    steps = 1               # iterative pruning: this many prune + fine-tune steps
    finetune_epochs = 3     # epochs of fine-tuning after each step
    taylor_batches = 8      # labelled training batches whose gradients rank channels (taylor, fisher)
    backends = ["torch", "onnxruntime"]   # pruned variants run on these (default: every backend)
    precisions = ["fp32"]                 # and at these precisions (default: every precision)
    max_seconds = 60        # dependency graph + pruning, per model
    max_memory_mib = 4096   # peak resident memory of the pruning process
    safe_drop = 0.01        # ratio guideline: "safe" is the largest ratio losing at most this
    aggressive_drop = 0.03  # and "aggressive" the largest losing at most this (mAP50-95, absolute)
    bars = [{ratio = 0.3, min_speedup = 1.3, min_params_reduction = 0.35}]

A bar applies to every structured variant whose ratio is at least the bar's ratio (the bar with
the largest such ratio wins): ``min_speedup`` against the unpruned model on the same backend and
precision, measured interleaved in the same run; ``min_params_reduction`` of the parameter count.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from harness.config.reader import Where, check_keys

PRUNING_KEYS = (
    "round_to", "rounding", "steps", "finetune_epochs", "taylor_batches", "backends", "precisions",
    "max_seconds", "max_memory_mib", "safe_drop", "aggressive_drop", "bars",
)  # fmt: skip
BAR_KEYS = ("ratio", "min_speedup", "min_params_reduction")
ROUNDINGS = ("down", "nearest")
"""``rounding`` values: ``harness.recipes.PRUNE_CHOICES["rounding"]``, restated here because the report
package reads config without the recipes (a test keeps the two equal)."""


@dataclass(frozen=True)
class PruneBar:
    """Targets for structured variants pruned at ``ratio`` or more (None: not checked)."""

    ratio: float
    min_speedup: float | None = None
    min_params_reduction: float | None = None


@dataclass(frozen=True)
class PruningSpec:
    """Settings shared by every pruned variant (see the module docstring)."""

    round_to: int | None = 16
    rounding: str = "down"
    steps: int = 1
    finetune_epochs: int = 0
    taylor_batches: int = 8
    backends: tuple[str, ...] | None = None
    precisions: tuple[str, ...] | None = None
    max_seconds: float = 60.0
    max_memory_mib: float = 4096.0
    safe_drop: float = 0.01
    aggressive_drop: float = 0.03
    bars: tuple[PruneBar, ...] = ()

    def runs_on(self, backend: str, precision: str) -> bool:
        """Whether pruned variants are built for this backend and precision."""
        return (self.backends is None or backend in self.backends) and (
            self.precisions is None or precision in self.precisions
        )

    def bar_for(self, ratio: float) -> PruneBar | None:
        """The bar that applies at ``ratio``: the one with the largest ratio not above it."""
        applicable = [bar for bar in self.bars if bar.ratio <= ratio + 1e-9]
        return max(applicable, key=lambda bar: bar.ratio, default=None)

    @classmethod
    def from_mapping(
        cls, table: Mapping[str, object], where: Where, backends: Collection[str], precisions: Collection[str]
    ) -> PruningSpec:
        """Parse ``[pruning]``; absent keys keep their defaults."""
        check_keys(table, PRUNING_KEYS, where)
        fields: dict[str, object] = {}
        if "round_to" in table:
            round_to = where.integer(table["round_to"], "round_to", 1)
            fields["round_to"] = None if round_to == 1 else round_to
        if "rounding" in table:
            fields["rounding"] = where.choice(table["rounding"], "rounding", ROUNDINGS)
        for key, low in (("steps", 1), ("finetune_epochs", 0), ("taylor_batches", 1)):
            if key in table:
                fields[key] = where.integer(table[key], key, low)
        for key, choices in (("backends", backends), ("precisions", precisions)):
            if key in table:
                items = where.sequence(table[key], key)
                fields[key] = tuple(where.choice(v, f"{key}[{i}]", choices) for i, v in enumerate(items))
        for key in ("max_seconds", "max_memory_mib", "safe_drop", "aggressive_drop"):
            if key in table:
                fields[key] = where.number(table[key], key, 0.0)
        if "bars" in table:
            items = where.sequence(table["bars"], "bars")
            fields["bars"] = tuple(_bar(where, i, v) for i, v in enumerate(items))
        return cls(**fields)  # type: ignore[arg-type]


def _bar(parent: Where, index: int, value: object) -> PruneBar:
    """Entry ``index`` of ``bars``."""
    table = parent.table(value, f"bars[{index}]")
    where = parent.child("bars").item(index)
    check_keys(table, BAR_KEYS, where)
    if "ratio" not in table:
        raise where.error("ratio", "a pruning ratio in (0, 1)", None)
    ratio = where.number(table["ratio"], "ratio", 0.0, 1.0)
    if ratio == 0.0:
        raise where.error("ratio", "a pruning ratio in (0, 1)", table["ratio"])
    speedup = where.number(table["min_speedup"], "min_speedup", 0.0) if "min_speedup" in table else None
    params = (
        where.number(table["min_params_reduction"], "min_params_reduction", 0.0, 1.0)
        if "min_params_reduction" in table
        else None
    )
    return PruneBar(ratio, speedup, params)


SPEED_BACKENDS = ("torch", "onnxruntime")
"""FP32 backends the pruning study times before and after pruning (and its table shows)."""
