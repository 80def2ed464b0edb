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
