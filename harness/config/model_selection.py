"""The ``[studies.model_selection]`` table: every model of the run side by side, per backend::

    [studies.model_selection]
    backends = ["torch", "onnxruntime", "openvino"]   # FP32 backends timed (absent: every FP32
                                                      # backend of the matrix)
    rounds = 15                                       # round-robin rounds per backend
    conf = 0.25                                       # score threshold of the timed postprocessing

The study runs when the table is present and the matrix has at least two models (the full profile
has one). It feeds the model-size selection and the version comparison tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness.config.reader import Where, check_keys

__all__ = ["MODEL_SELECTION_KEYS", "ModelSelectionSpec"]

MODEL_SELECTION_KEYS = ("backends", "rounds", "conf")


@dataclass(frozen=True)
class ModelSelectionSpec:
    """Which backends time every model, how long, and the postprocessing threshold."""

    backends: tuple[str, ...] | None = None
    rounds: int = 15
    conf: float = 0.25

    @classmethod
    def from_table(cls, table: Mapping[str, object], where: Where) -> ModelSelectionSpec:
        """Parse the table; a bad key or value is a ConfigError naming it."""
        check_keys(table, MODEL_SELECTION_KEYS, where)
        default = cls()
        return cls(
            backends=where.optional_strings(table.get("backends"), "backends"),
            rounds=where.integer(table.get("rounds", default.rounds), "rounds", 3),
            conf=where.number(table.get("conf", default.conf), "conf", 0.0, 1.0),
        )
