"""Which artifact each backend builds and loads for a variant: the recipe, planned in one place.

Backends ask this module what to build; builders only turn the recipes they are given into files
(the TensorRT engine recipe carries the ONNX export it parses), so no builder depends on a backend.
"""

from __future__ import annotations

import dataclasses

from harness.builders.ncnn import NcnnInt8Recipe, NcnnRecipe
from harness.builders.quantize.onnxruntime import OrtFp16Recipe, OrtQuantRecipe
from harness.builders.tensorrt import TrtEngineRecipe
from harness.errors import BackendUnavailable
from harness.recipes import NO_CALIBRATION_DATA, DataRecipe, ExportRecipe, Recipe, Variant, source_data
from harness.versions import versions

__all__ = [
    "OPENVINO_NO_DATA",
    "ncnn_int8_recipe",
    "ncnn_recipe",
    "onnx_recipe",
    "onnxruntime_no_data_reason",
    "onnxruntime_recipe",
    "openvino_recipe",
    "tensorrt_recipe",
]

OPENVINO_NO_DATA = f"OpenVINO INT8 needs a calibration set; {NO_CALIBRATION_DATA}"
"""Why an OpenVINO INT8 variant of a weights file without a configured dataset is skipped."""


def onnx_recipe(variant: Variant, batch: int) -> ExportRecipe:
    """The FP32 ONNX export every ONNX Runtime artifact of ``variant`` starts from, at ``batch``."""
    return ExportRecipe(
        source=variant.source,
        format="onnx",
        imgsz=variant.imgsz,
        batch=batch,
        half=False,
        versions=versions("torch", "ultralytics", "onnx", "onnxslim"),
    )


def _fp32_onnx(variant: Variant, batch: int) -> ExportRecipe:
    """The FP32 export of ``variant``'s network, whatever its own precision."""
    return onnx_recipe(dataclasses.replace(variant, precision="fp32", quant=None), batch)


def onnxruntime_recipe(variant: Variant, batch: int) -> Recipe:
    """The recipe of the graph ONNX Runtime runs for ``variant``: FP32 export, FP16 or INT8 graph."""
    export = onnx_recipe(variant, batch)
    tools = versions("onnxruntime", "onnx")
    if variant.precision == "fp16":
        return OrtFp16Recipe(source=export, versions=tools)
    if variant.quant is not None:
        data = _onnxruntime_calibration_data(variant) if variant.quant.method == "static" else None
        return OrtQuantRecipe(source=export, data=data, quant=variant.quant, versions=tools)
    return export


def _onnxruntime_calibration_data(variant: Variant) -> DataRecipe:
    """The dataset whose calib split calibrates ``variant``: the one its source was trained on."""
    data = source_data(variant.source)
    if data is not None:
        return data
    raise BackendUnavailable(onnxruntime_no_data_reason(variant))


def onnxruntime_no_data_reason(variant: Variant) -> str:
    """Why ONNX Runtime cannot calibrate ``variant``'s static INT8 (its source names no dataset)."""
    return f"{variant.slug}: static INT8 needs a calibration set; {NO_CALIBRATION_DATA}"


def openvino_recipe(variant: Variant, batch: int) -> Recipe:
    """The IR a variant needs: converted FP32 / FP16, or NNCF INT8 (calibrated on the source's data)."""
    from harness.builders.quantize.openvino import OpenVinoQuantRecipe, OpenVinoRecipe

    onnx = _fp32_onnx(variant, batch)
    if variant.quant is not None:
        data = source_data(variant.source)
        if data is None:
            raise BackendUnavailable(OPENVINO_NO_DATA)
        return OpenVinoQuantRecipe(
            source=onnx, data=data, quant=variant.quant, versions=versions("openvino", "nncf")
        )
    ir = "fp16" if variant.precision == "fp16" else "fp32"
    return OpenVinoRecipe(source=onnx, precision=ir, versions=versions("openvino"))


def ncnn_recipe(variant: Variant) -> NcnnRecipe:
    """The pnnx conversion a variant needs (float16 weights for the FP16 variant)."""
    return NcnnRecipe(
        source=variant.source,
        imgsz=variant.imgsz,
        versions=versions("torch", "ultralytics", "pnnx", "ncnn"),
        half=variant.precision == "fp16",
    )


def ncnn_int8_recipe(variant: Variant, data: DataRecipe) -> NcnnInt8Recipe:
    """The INT8 scales an int8 variant needs, calibrated on ``data``'s calibration split."""
    if variant.quant is None:
        raise ValueError(f"{variant.slug}: an int8 variant needs a QuantSpec")
    fp32 = ncnn_recipe(Variant(variant.model, variant.source, variant.prune, imgsz=variant.imgsz))
    return NcnnInt8Recipe(
        model=fp32,
        data=data,
        calibration=variant.quant.calibration,
        calib_size=variant.quant.calib_size,
        per_channel=variant.quant.per_channel,
        versions=versions("ncnn"),
    )


def tensorrt_recipe(variant: Variant, batch: int) -> TrtEngineRecipe:
    """The engine a variant needs, with the FP32 ONNX export it parses; INT8 calibrates on the
    dataset the reference was trained with. TensorRT has no 7-bit weights: the engine's recipe
    holds ``overflow_fix = "disable"`` (what it builds), so its key does not depend on whether
    the host CPU has VNNI, which is what "auto" resolves by."""
    data = source_data(variant.source)
    if variant.quant is not None and data is None:
        raise BackendUnavailable(f"TensorRT INT8 needs a calibration set; {NO_CALIBRATION_DATA}")
    quant = dataclasses.replace(variant.quant, overflow_fix="disable") if variant.quant else None
    return TrtEngineRecipe(
        source=_fp32_onnx(variant, batch),
        precision=variant.precision,
        data=data if variant.quant else None,
        quant=quant,
        versions=versions("tensorrt", "onnx"),
    )
