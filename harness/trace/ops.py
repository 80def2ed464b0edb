"""What a profiler trace says about one variant: time per operator type, and in which precision.

Every backend's profiler names its kernels differently (ONNX Runtime ``QLinearConv``, OpenVINO
``brgconv_avx512_I8``, PyTorch ``aten::conv2d``); here they become :class:`OpTime` rows of one
shape, each with a *kind*:

- ``int8``: an integer kernel (the work INT8 is meant to speed up);
- ``float``: a floating-point kernel (FP32, FP16, BF16);
- ``convert``: a precision change between kernels (quantize, dequantize, casts);
- ``layout``: a memory-layout change between kernels (blocked-format reorders, ``contiguous``).

An INT8 graph that runs slower than FP32 usually shows why in the last two kinds, or in float
kernels left between integer ones (Q/DQ pairs the runtime did not fuse).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "KINDS",
    "OpTime",
    "Profile",
    "openvino_kind",
    "ort_kind",
    "summarize",
    "torch_kind",
]

KINDS = ("int8", "float", "convert", "layout")

_ORT_INT8 = frozenset(
    {"ConvInteger", "MatMulInteger", "QGemm", "MatMulIntegerToFloat", "DynamicQuantizeMatMul"}
)
_ORT_CONVERT = frozenset({"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "Cast"})
_ORT_LAYOUT = frozenset({"ReorderInput", "ReorderOutput"})
_OV_CONVERT = frozenset({"FakeQuantize", "Convert"})
_OV_LAYOUT = frozenset({"Reorder"})
_TORCH_CONVERT = frozenset({"aten::to", "aten::_to_copy", "aten::quantize_per_tensor", "aten::dequantize"})
_TORCH_LAYOUT = frozenset({"aten::contiguous", "aten::clone"})


@dataclass(frozen=True)
class OpTime:
    """One operator type's share of an inference: mean milliseconds and calls per inference."""

    op: str
    kind: str
    ms: float
    calls: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"op kind {self.kind!r} is not one of {KINDS}")


@dataclass(frozen=True)
class Profile:
    """A variant's trace: the backend's own file (None when it writes none) and its operator types,
    slowest first."""

    backend: str
    file: Path | None
    ops: tuple[OpTime, ...]
    inferences: int
    conv_macs: int | None = None  # MACs per inference of the traced convolutions (OpenVINO only)
    conv_ms: float | None = None  # their traced milliseconds per inference

    @property
    def conv_gmac_per_s(self) -> float | None:
        """The traced convolutions' MAC rate in GMAC/s (None where their MACs are not known)."""
        if self.conv_macs is None or not self.conv_ms:
            return None
        return self.conv_macs / (self.conv_ms * 1e-3) / 1e9

    @property
    def total_ms(self) -> float:
        """Milliseconds per inference spent in the traced kernels."""
        return sum(op.ms for op in self.ops)

    def share(self, kind: str) -> float | None:
        """Fraction of the traced kernel time spent in ``kind`` (None when nothing was traced)."""
        total = self.total_ms
        return sum(op.ms for op in self.ops if op.kind == kind) / total if total > 0 else None

    def top(self, n: int) -> tuple[OpTime, ...]:
        """The ``n`` slowest operator types."""
        return self.ops[:n]


def summarize(events: Iterable[tuple[str, str, float, int]], inferences: int) -> tuple[OpTime, ...]:
    """``(op, kind, milliseconds, calls)`` kernel events over ``inferences`` runs -> one row per
    ``(op, kind)``, per inference, slowest first."""
    if inferences < 1:
        raise ValueError(f"a trace needs at least one inference, got {inferences}")
    totals: dict[tuple[str, str], list[float]] = {}
    for op, kind, ms, calls in events:
        entry = totals.setdefault((op, kind), [0.0, 0.0])
        entry[0] += ms
        entry[1] += calls
    rows = [OpTime(op, kind, ms / inferences, n / inferences) for (op, kind), (ms, n) in totals.items()]
    return tuple(sorted(rows, key=lambda r: (-r.ms, r.op)))


def ort_kind(op_type: str) -> str:
    """Kind of an ONNX Runtime kernel by its operator type (``QLinearConv``: int8)."""
    if op_type.startswith("QLinear") or op_type in _ORT_INT8:
        return "int8"
    if op_type in _ORT_CONVERT:
        return "convert"
    return "layout" if op_type in _ORT_LAYOUT else "float"


def openvino_kind(node_type: str, exec_type: str) -> str:
    """Kind of an OpenVINO CPU node from its type and executed kernel (``brgconv_avx512_I8``:
    int8; the suffix is the precision the plugin ran it in)."""
    if node_type in _OV_LAYOUT:
        return "layout"
    if node_type in _OV_CONVERT:
        return "convert"
    precision = exec_type.rsplit("_", 1)[-1].upper()
    return "int8" if precision in ("I8", "U8", "I4", "U4") else "float"


def torch_kind(name: str) -> str:
    """Kind of a PyTorch profiler event by its operator name (``quantized::conv2d``: int8)."""
    if name.startswith("quantized::"):
        return "int8"
    if name in _TORCH_CONVERT:
        return "convert"
    return "layout" if name in _TORCH_LAYOUT else "float"
