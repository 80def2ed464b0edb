"""Whether a backend runs a variant's reduced precision in hardware, so that its speed against
FP32 on the same backend is gated (an INT8, or an FP16/BF16 with real half arithmetic) rather
than only reported (ONNX Runtime FP16 on a CPU stores half weights and computes in float: a size
option, not a speed one)."""

from __future__ import annotations

from harness.recipes import Variant

__all__ = ["GPU_BACKENDS", "speed_not_gated"]

GPU_BACKENDS = ("tensorrt", "onnxruntime-trt")
_HALF = {"fp16": "FP16", "bf16": "BF16"}


def speed_not_gated(variant: Variant, device: str) -> str:
    """Why ``variant``'s speed against its backend's FP32 is reported but not gated; ``""`` when
    it is gated: every INT8; FP16/BF16 on CUDA, TensorRT, or an OpenVINO CPU that reports them."""
    if variant.precision == "fp32":
        return "FP32 is what the other precisions are compared with"
    capability = _HALF.get(variant.precision)
    if capability is None:
        return ""
    if device.startswith("cuda") or variant.backend in GPU_BACKENDS:
        return ""
    if variant.backend == "openvino" and capability in _openvino_capabilities():
        return ""
    return (
        f"{variant.backend} {variant.precision} on a CPU without {capability} arithmetic for it "
        "is a size option; its speed is reported, not gated"
    )


def _openvino_capabilities() -> tuple[str, ...]:
    """The OpenVINO CPU plugin's OPTIMIZATION_CAPABILITIES (empty when OpenVINO is absent)."""
    try:
        from harness.backends.openvino_backend import cpu_capabilities

        return cpu_capabilities()
    except ImportError:
        return ()
