"""A user's weights file with `data` configured calibrates static INT8 on every backend, exactly
like a model the harness trained: each backend's INT8 recipe carries the configured dataset."""

from __future__ import annotations

import dataclasses

import pytest

from harness.backends.ncnn_backend import _int8_unsupported as ncnn_int8_unsupported
from harness.planning import onnxruntime_recipe, openvino_recipe, tensorrt_recipe
from harness.recipes import QuantSpec, UserDataRecipe, Variant, WeightsRecipe

DATA = UserDataRecipe(sha256="1" * 64, yaml_path="/u/data.yaml")


def _variant(backend: str, quant: QuantSpec, data: UserDataRecipe | None = DATA) -> Variant:
    weights = WeightsRecipe(sha256="0" * 64, path="/u/best.pt", data=data)
    return Variant("det", weights, None, "int8", backend, None, 64, quant)


@pytest.mark.parametrize(
    "quant",
    [QuantSpec(), QuantSpec(calibration="entropy"), QuantSpec(format="qoperator", per_channel=False),
     QuantSpec(activations="s8", calibration="percentile", calib_size=500), QuantSpec(ops="conv")],
    ids=lambda q: q.slug,
)  # fmt: skip
def test_onnxruntime_static_int8_calibrates_on_the_configured_data(quant: QuantSpec) -> None:
    assert onnxruntime_recipe(_variant("onnxruntime", quant), 1).data == DATA  # type: ignore[attr-defined]


@pytest.mark.parametrize("quant", [QuantSpec(activations="s8"), QuantSpec(activations="s8", max_drop=0.01)])
def test_openvino_int8_and_accuracy_control_calibrate_on_the_configured_data(quant: QuantSpec) -> None:
    assert openvino_recipe(_variant("openvino", quant), 1).data == DATA  # type: ignore[attr-defined]


def test_ncnn_int8_needs_only_the_configured_data() -> None:
    quant = QuantSpec(activations="s8", calibration="percentile")
    assert ncnn_int8_unsupported(_variant("ncnn", quant)) is None
    assert "config names no 'data'" in (ncnn_int8_unsupported(_variant("ncnn", quant, None)) or "")


def test_tensorrt_int8_engine_calibrates_on_the_configured_data() -> None:
    recipe = tensorrt_recipe(_variant("tensorrt", QuantSpec(calibration="entropy")), 1)
    assert recipe.data == DATA
    fp16 = dataclasses.replace(_variant("tensorrt", QuantSpec()), precision="fp16", quant=None)
    assert tensorrt_recipe(fp16, 1).data is None


@pytest.mark.parametrize("saturates", [True, False])
def test_tensorrt_engine_key_does_not_depend_on_the_host_cpus_vnni(
    saturates: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness import recipes

    monkeypatch.setattr(recipes, "int8_saturates", lambda: saturates)
    recipe = tensorrt_recipe(_variant("tensorrt", QuantSpec()), 1)
    assert recipe.quant is not None and recipe.quant.to_dict()["overflow_fix"] == "disable"
    assert recipe.key() == tensorrt_recipe(_variant("tensorrt", QuantSpec(overflow_fix="disable")), 1).key()
