"""Post-training quantization builders, one module per toolchain (ONNX Runtime, OpenVINO, NCNN...)."""

from __future__ import annotations

from harness.recipes import QuantSpec


def ops_unsupported(quant: QuantSpec | None, toolchain: str) -> str | None:
    """Why ``toolchain`` (not ONNX Runtime) cannot honour ``quant.ops``, or None.

    Only ONNX Runtime takes a list of operator types to quantize; every other toolchain
    quantizes its own default set, which is what ``ops = "all"`` means.
    """
    if quant is None or quant.ops == "all":
        return None
    return (
        f"quant.ops {quant.ops!r} (choose the quantized operator types) is ONNX Runtime's option; "
        f"{toolchain} quantizes its own operator set (ops 'all')"
    )


def overflow_fix_unsupported(quant: QuantSpec | None, toolchain: str) -> str | None:
    """Why ``toolchain`` (not ONNX Runtime or NNCF) cannot honour an explicit ``quant.overflow_fix``, or None.

    Only ONNX Runtime (``reduce_range``) and NNCF (``OverflowFix``) choose 7-bit weights; "auto"
    leaves every other toolchain's own weights, so only an explicit value is refused.
    """
    if quant is None or quant.overflow_fix == "auto":
        return None
    return f"quant.overflow_fix (7-bit weights) is ONNX Runtime's and NNCF's option; {toolchain} has none"
