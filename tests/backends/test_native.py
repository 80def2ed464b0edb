"""Which reduced precisions are gated on speed against their backend's FP32."""

from __future__ import annotations

import pytest

from harness.backends import native
from harness.recipes import QuantSpec, SyntheticDataRecipe, TrainRecipe, Variant
from harness.variant_checks import own_fp32

DATA = SyntheticDataRecipe(seed=0, imgsz=64, n_train=8, n_val=4, n_calib=8, generator_version=1)
TRAIN = TrainRecipe(cfg="yolo11n.yaml", data=DATA, epochs=1, batch=8, imgsz=64, seed=0, versions=())


def _variant(precision: str, backend: str) -> Variant:
    quant = QuantSpec() if precision == "int8" else None
    return Variant("yolo11n", TRAIN, None, precision, backend, None, 64, quant)


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino", "ncnn", "torch"])
def test_every_int8_is_gated(backend: str) -> None:
    assert native.speed_not_gated(_variant("int8", backend), "cpu") == ""


@pytest.mark.parametrize(
    ("precision", "backend"), [("fp16", "onnxruntime"), ("fp16", "ncnn"), ("bf16", "torch")]
)
def test_half_on_a_cpu_backend_is_reported_not_gated(precision: str, backend: str) -> None:
    reason = native.speed_not_gated(_variant(precision, backend), "cpu")
    assert "size option" in reason and backend in reason and precision in reason


@pytest.mark.parametrize(
    ("precision", "backend", "device"), [("fp16", "torch", "cuda:0"), ("fp16", "tensorrt", "cpu")]
)
def test_half_on_a_gpu_is_gated(precision: str, backend: str, device: str) -> None:
    assert native.speed_not_gated(_variant(precision, backend), device) == ""


@pytest.mark.parametrize(
    ("capabilities", "gated"), [(("FP32", "BF16", "INT8"), True), (("FP32", "INT8"), False)]
)
def test_openvino_half_is_gated_where_its_cpu_plugin_reports_it(
    capabilities: tuple[str, ...], gated: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(native, "_openvino_capabilities", lambda: capabilities)
    assert (native.speed_not_gated(_variant("bf16", "openvino"), "cpu") == "") is gated


def test_fp32_is_what_the_others_are_compared_with() -> None:
    assert native.speed_not_gated(_variant("fp32", "onnxruntime"), "cpu")


def test_own_fp32_keeps_backend_and_drops_the_quantization() -> None:
    fp32 = own_fp32(_variant("int8", "openvino"))
    assert (fp32.precision, fp32.backend, fp32.quant) == ("fp32", "openvino", None)
