"""The ``[ablation]`` config table: how the ablation table of each model is measured::

    [ablation]
    backend = "onnxruntime"   # runtime of every row but +TTA (a PyTorch inference option)
    multi_scale = 0.5         # Ultralytics' multi_scale range for the +Multi-scale row (0: row off)
    max_map_drop = 0.01       # a row may lose at most this mAP50-95 against Baseline (paired CI)

Rows: Baseline, +KD, +INT8, +Multi-scale training, +TTA, +Pruning, All combined
(see :mod:`harness.studies.ablation`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from harness.config.reader import Where, check_keys

__all__ = ["ABLATION_KEYS", "ROWS", "AblationSpec"]

ABLATION_KEYS = ("backend", "multi_scale", "max_map_drop")
ROWS = ("Baseline", "+KD", "+INT8", "+Multi-scale training", "+TTA", "+Pruning", "All combined")
"""The ablation table's rows, in order (the source documents' layout)."""


@dataclass(frozen=True)
class AblationSpec:
    """Settings of the ablation study (see the module docstring)."""

    backend: str = "onnxruntime"
    multi_scale: float = 0.5
    max_map_drop: float = 0.01

    @classmethod
    def from_mapping(
        cls, table: Mapping[str, object], where: Where, backends: Collection[str]
    ) -> AblationSpec:
        """Parse ``[ablation]``; absent keys keep their defaults."""
        check_keys(table, ABLATION_KEYS, where)
        fields: dict[str, object] = {}
        if "backend" in table:
            fields["backend"] = where.choice(table["backend"], "backend", backends)
        if "multi_scale" in table:
            fields["multi_scale"] = where.number(table["multi_scale"], "multi_scale", 0.0, 0.9)
        if "max_map_drop" in table:
            fields["max_map_drop"] = where.number(table["max_map_drop"], "max_map_drop", 0.0, 1.0)
        return cls(**fields)  # type: ignore[arg-type]
