"""The ``[studies.layer_pruning]`` table: remove the least important residual blocks::

    [studies.layer_pruning]
    blocks = 2                          # how many residual blocks to remove
    finetune_epochs = 4                 # fine-tuning afterwards; the control fine-tunes the
                                        # unpruned reference as long
    eval_images = 64                    # held-out calib images that rank the blocks
    rank = "latency"                    # "latency": the blocks that save the most PyTorch ms
                                        # (each timed removed alone) within max_loss;
                                        # "accuracy": the least held-out mAP lost alone
    max_loss = 0.05                     # "latency": the chosen blocks' held-out mAP lost alone,
                                        # added up, before fine-tuning
    backends = ["torch", "onnxruntime"] # FP32 backends the speedup is timed on
    models = ["yolo11n"]                # [[models]] names (absent: every model)

The study runs when the table is present (the full profile has one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness.config.reader import Where, check_keys

__all__ = ["LAYER_KEYS", "LAYER_RANKS", "LayerSpec"]

LAYER_KEYS = ("blocks", "finetune_epochs", "eval_images", "rank", "max_loss", "backends", "models")
LAYER_RANKS = ("latency", "accuracy")


@dataclass(frozen=True)
class LayerSpec:
    """How many blocks go, how the rest is fine-tuned and ranked, and where it is timed."""

    blocks: int = 2
    finetune_epochs: int = 4
    eval_images: int = 64
    rank: str = "latency"
    max_loss: float = 0.05
    backends: tuple[str, ...] = ("torch", "onnxruntime")
    models: tuple[str, ...] | None = None

    @classmethod
    def from_table(cls, table: Mapping[str, object], where: Where) -> LayerSpec:
        """Parse the table; a bad key or value is a ConfigError naming it."""
        check_keys(table, LAYER_KEYS, where)
        d = cls()
        return cls(
            blocks=where.integer(table.get("blocks", d.blocks), "blocks", 1),
            finetune_epochs=where.integer(
                table.get("finetune_epochs", d.finetune_epochs), "finetune_epochs", 1
            ),
            eval_images=where.integer(table.get("eval_images", d.eval_images), "eval_images", 8),
            rank=where.choice(table.get("rank", d.rank), "rank", LAYER_RANKS),
            max_loss=where.number(table.get("max_loss", d.max_loss), "max_loss", 0.0),
            backends=where.strings(table.get("backends", list(d.backends)), "backends"),
            models=where.optional_strings(table.get("models"), "models"),
        )
