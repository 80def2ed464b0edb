"""ONNX Runtime backend: FP16 on the CPU, INT8 from the variant's QuantSpec, unsupported combinations."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness.backends.base import LoadRequest
from harness.backends.onnxruntime_backend import OnnxRuntimeBackend, OnnxRuntimeTensorRTBackend
from harness.bench import Bench
from harness.builders.quantize.onnxruntime import OrtFp16Recipe, OrtQuantRecipe
from harness.errors import BackendUnavailable
from harness.planning import onnxruntime_recipe
from harness.recipes import ExportRecipe, QuantSpec, UserDataRecipe, Variant, WeightsRecipe

QUICK_CALIB = 8  # the quick profile's calibration split


@pytest.fixture(scope="module")
def fp32(session: Bench) -> Variant:
    return dataclasses.replace(session.variants[0], backend="onnxruntime", precision="fp32")


def _int8(variant: Variant, **knobs: object) -> Variant:
    quant = QuantSpec(**{"calib_size": QUICK_CALIB, **knobs})  # type: ignore[arg-type]
    return dataclasses.replace(variant, precision="int8", quant=quant)


def test_each_precision_maps_to_its_recipe(fp32: Variant) -> None:
    assert isinstance(onnxruntime_recipe(fp32, 1), ExportRecipe)
    half = onnxruntime_recipe(dataclasses.replace(fp32, precision="fp16"), 1)
    assert isinstance(half, OrtFp16Recipe) and not half.source.half
    int8 = onnxruntime_recipe(_int8(fp32), 1)
    assert isinstance(int8, OrtQuantRecipe) and int8.source == onnxruntime_recipe(fp32, 1)
    assert onnxruntime_recipe(_int8(fp32), 8).key() != int8.key()


@pytest.mark.slow
@pytest.mark.parametrize(
    "variant_of",
    [
        lambda v: dataclasses.replace(v, precision="fp16"),
        lambda v: _int8(v),
        lambda v: _int8(v, format="qoperator", per_channel=False),
        lambda v: _int8(v, method="dynamic", weights="u8"),
    ],
    ids=["fp16", "int8-qdq", "int8-qoperator-pt", "int8-dynamic"],
)
def test_runs_on_cpu_with_the_fp32_output_shape(session: Bench, fp32: Variant, variant_of) -> None:  # type: ignore[no-untyped-def]
    variant = variant_of(fp32)
    assert OnnxRuntimeBackend().unsupported(variant, "cpu") is None
    x = session.input_batch(variant, 1)
    out = session.runner(variant)(x)
    assert out.shape == session.runner(fp32)(x).shape and out.dtype == np.float32
    assert session.runner(variant).artifact.suffix == ".onnx"


@pytest.mark.parametrize(
    ("backend", "device", "knobs", "reason"),
    [
        (OnnxRuntimeBackend(), "cuda:0", {"format": "qoperator"}, "CPU provider only"),
        (OnnxRuntimeTensorRTBackend(), "cuda:0", {"format": "qoperator"}, "CPU provider only"),
        (OnnxRuntimeBackend(), "cuda:0", {"method": "dynamic"}, "no CUDA or TensorRT kernels"),
        (OnnxRuntimeTensorRTBackend(), "cuda:0", {"activations": "u8"}, "signed 8-bit QDQ only"),
        (OnnxRuntimeBackend(), "cpu", {"max_drop": 0.01}, "NNCF"),
    ],
    ids=["qoperator-cuda", "qoperator-trt", "dynamic-cuda", "trt-u8", "max-drop"],
)
def test_unsupported_int8_combinations_give_a_reason(
    fp32: Variant, backend: OnnxRuntimeBackend, device: str, knobs: dict[str, object], reason: str
) -> None:
    assert reason in (backend.unsupported(_int8(fp32, **knobs), device) or "")


def test_static_int8_of_a_weights_file_without_data_is_unavailable_with_reason(
    fp32: Variant, session: Bench
) -> None:
    variant = dataclasses.replace(_int8(fp32), source=WeightsRecipe(sha256="0" * 64, path="/x/best.pt"))
    reason = OnnxRuntimeBackend().unsupported(variant, "cpu") or ""
    assert "config names no 'data'" in reason
    with pytest.raises(BackendUnavailable, match="config names no 'data'"):
        OnnxRuntimeBackend().load(LoadRequest(variant, 1, session.ctx))
    dynamic = dataclasses.replace(variant, quant=QuantSpec(method="dynamic", weights="u8"))
    assert OnnxRuntimeBackend().unsupported(dynamic, "cpu") is None


def test_static_int8_of_a_weights_file_calibrates_on_the_configured_data(fp32: Variant) -> None:
    data = UserDataRecipe(sha256="1" * 64, yaml_path="/x/data.yaml")
    weights = WeightsRecipe(sha256="0" * 64, path="/x/best.pt", data=data)
    variant = dataclasses.replace(_int8(fp32), source=weights)
    assert OnnxRuntimeBackend().unsupported(variant, "cpu") is None
    recipe = onnxruntime_recipe(variant, 1)
    assert isinstance(recipe, OrtQuantRecipe) and recipe.data == data
    # the pairing is not part of the weights' own cache key: the export is the same file
    assert weights.key() == WeightsRecipe(sha256="0" * 64, path="/y/best.pt").key()
