"""The ``[studies.qat]`` table: quantization-aware training, per model and QDQ backend::

    [studies.qat]
    epochs = 2                             # QAT epochs; the FP32 control fine-tunes the same epochs
    backends = ["onnxruntime", "openvino"] # backends that run the exported QDQ INT8 graph
    models = ["yolo11n"]                   # [[models]] names (absent: every model)
    lr0 = 0.0001                           # learning rate of QAT and of its control
    recover = 0.5                          # QAT must take back this share of the best PTQ loss

The study runs when the table is present (an empty table takes every default). QAT fine-tunes
with fake quantization through Ultralytics' ``quantize=8`` (NVIDIA ModelOpt) and exports a QDQ
ONNX graph, so it runs on backends that execute QDQ INT8 on this machine: ONNX Runtime and
OpenVINO (which reads the ONNX file itself). Any other backend is an error naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness.config.reader import Where, check_keys
from harness.errors import ConfigError

__all__ = ["QAT_KEYS", "QDQ_BACKENDS", "QatSpec"]

QAT_KEYS = ("epochs", "backends", "models", "lr0", "recover")
QDQ_BACKENDS = ("onnxruntime", "openvino")
"""Backends that run a QDQ INT8 ONNX graph on the CPU (TensorRT builds engines from its own path)."""


@dataclass(frozen=True)
class QatSpec:
    """What the QAT study trains and where it runs the result."""

    epochs: int = 2
    backends: tuple[str, ...] = QDQ_BACKENDS
    models: tuple[str, ...] | None = None
    lr0: float = 1e-4
    recover: float = 0.5

    @classmethod
    def from_table(cls, table: Mapping[str, object], where: Where) -> QatSpec:
        """Parse the table; a bad key, type or backend is a ConfigError naming it."""
        check_keys(table, QAT_KEYS, where)
        default = cls()
        return cls(
            epochs=where.integer(table.get("epochs", default.epochs), "epochs", minimum=1),
            backends=_backends(table.get("backends", list(default.backends)), where),
            models=where.optional_strings(table.get("models"), "models"),
            lr0=where.number(table.get("lr0", default.lr0), "lr0", 0.0),
            recover=where.number(table.get("recover", default.recover), "recover", 0.0, 1.0),
        )


def _backends(value: object, where: Where) -> tuple[str, ...]:
    names = where.strings(value, "backends")
    for name in names:
        if name not in QDQ_BACKENDS:
            raise ConfigError(
                f"{where.key('backends')} in {where.source}: backend {name!r} cannot run the QDQ INT8 "
                f"graph QAT exports (QAT runs on {', '.join(QDQ_BACKENDS)})"
            )
    return tuple(dict.fromkeys(names))
