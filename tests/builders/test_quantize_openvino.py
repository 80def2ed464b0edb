"""OpenVINO IR builders: recipe hashing and validation, the float decode tail, NNCF INT8 IR."""

from __future__ import annotations

import dataclasses
import importlib.util

import pytest

from harness.bench import Bench
from harness.builders import build
from harness.builders.quantize.openvino import (
    MapValidator,
    OpenVinoQuantRecipe,
    OpenVinoRecipe,
    anchor_count,
    decode_tail,
    in_decode_tail,
)
from harness.errors import DatasetError
from harness.planning import openvino_recipe
from harness.recipes import ExportRecipe, QuantSpec, SyntheticDataRecipe, TrainRecipe, Variant

needs_nncf = pytest.mark.skipif(
    importlib.util.find_spec("openvino") is None or importlib.util.find_spec("nncf") is None,
    reason="openvino and nncf are needed",
)

DATA = SyntheticDataRecipe(seed=0, imgsz=64, n_train=8, n_val=4, n_calib=8, generator_version=1)
TRAIN = TrainRecipe(cfg="yolo11n.yaml", data=DATA, epochs=1, batch=8, imgsz=64, seed=0, versions=())
ONNX = ExportRecipe(source=TRAIN, format="onnx", imgsz=64, batch=1, half=False, versions=())
VERSIONS = (("openvino", "2026.4.1"), ("nncf", "3.4.0"))


def _quant_recipe(**knobs: object) -> OpenVinoQuantRecipe:
    return OpenVinoQuantRecipe(source=ONNX, data=DATA, quant=QuantSpec(**knobs), versions=VERSIONS)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- recipes


def test_ir_precision_changes_the_key() -> None:
    fp32 = OpenVinoRecipe(source=ONNX, precision="fp32", versions=VERSIONS)
    fp16 = OpenVinoRecipe(source=ONNX, precision="fp16", versions=VERSIONS)
    assert fp32.key() != fp16.key()
    assert fp32.key() == OpenVinoRecipe(source=ONNX, precision="fp32", versions=VERSIONS).key()


@pytest.mark.parametrize(
    "knob",
    [
        {"per_channel": False},
        {"activations": "s8"},
        {"calibration": "entropy"},
        {"calibration": "percentile"},
        {"calib_size": 4},
        {"max_drop": 0.01},
    ],
    ids=lambda k: next(iter(k)),
)
def test_every_quant_knob_changes_the_key(knob: dict[str, object]) -> None:
    assert _quant_recipe(**knob).key() != _quant_recipe().key()


def test_source_versions_and_data_change_the_quant_key() -> None:
    base = _quant_recipe()
    assert dataclasses.replace(base, source=dataclasses.replace(ONNX, batch=2)).key() != base.key()
    assert dataclasses.replace(base, versions=(("openvino", "0"),)).key() != base.key()
    assert dataclasses.replace(base, data=dataclasses.replace(DATA, seed=1)).key() != base.key()
    assert base.key() != OpenVinoRecipe(source=ONNX, precision="fp32", versions=VERSIONS).key()


def test_quant_recipe_serialises_its_spec() -> None:
    as_dict = _quant_recipe(max_drop=0.01).to_dict()
    assert as_dict["kind"] == "openvino-int8"
    assert as_dict["quant"]["max_drop"] == 0.01 and as_dict["quant"]["calib_size"] == 100
    assert '"calibration":"minmax"' in _quant_recipe().canonical_json()


@pytest.mark.parametrize(
    ("knob", "message"),
    [
        ({"method": "dynamic"}, "static"),
        ({"format": "qoperator"}, "qoperator"),
        ({"weights": "u8"}, "u8"),
    ],
)
def test_quant_recipe_rejects_what_nncf_cannot_build(knob: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _quant_recipe(**knob)


def test_recipes_reject_a_half_source_and_unknown_ir_precision() -> None:
    with pytest.raises(ValueError, match="source.half"):
        OpenVinoRecipe(source=dataclasses.replace(ONNX, half=True), precision="fp16", versions=())
    with pytest.raises(ValueError, match="IR precision"):
        OpenVinoRecipe(source=ONNX, precision="int8", versions=())


def test_variant_maps_to_its_ir_recipe() -> None:
    base = Variant("yolo11n", TRAIN, backend="openvino", imgsz=64)
    fp16 = openvino_recipe(dataclasses.replace(base, precision="fp16"), 1)
    bf16 = openvino_recipe(dataclasses.replace(base, precision="bf16"), 1)
    int8 = openvino_recipe(dataclasses.replace(base, precision="int8", quant=QuantSpec(calib_size=8)), 1)
    assert isinstance(fp16, OpenVinoRecipe) and fp16.precision == "fp16" and not fp16.source.half
    assert isinstance(bf16, OpenVinoRecipe) and bf16.precision == "fp32"  # BF16 is chosen at compile time
    assert isinstance(int8, OpenVinoQuantRecipe) and int8.data == DATA


# ------------------------------------------------------------------- real quick-profile graphs


def _variant(session: Bench, quant: QuantSpec | None) -> Variant:
    precision = "fp32" if quant is None else "int8"
    return dataclasses.replace(session.variants[0], backend="openvino", precision=precision, quant=quant)


def _read(session: Bench, quant: QuantSpec | None):  # type: ignore[no-untyped-def]
    import openvino as ov

    artifact = build(openvino_recipe(_variant(session, quant), 1), session.ctx)
    return ov.Core().read_model(artifact.path)


@pytest.mark.slow
@needs_nncf
def test_decode_tail_is_the_box_decode_and_class_sigmoid(session: Bench) -> None:
    model = _read(session, None)
    assert anchor_count(model) == (64 // 8) ** 2 + (64 // 16) ** 2 + (64 // 32) ** 2
    tail = set(decode_tail(model))
    types = {op.get_type_name() for op in model.get_ordered_ops() if op.get_friendly_name() in tail}
    assert {"Softmax", "Sigmoid", "Convolution", "Concat"} <= types  # DFL softmax + conv, scores, output
    convs = [op for op in model.get_ordered_ops() if op.get_type_name() == "Convolution"]
    assert sum(op.get_friendly_name() in tail for op in convs) == 1  # only the DFL's fixed 1x1 conv


@pytest.mark.slow
@needs_nncf
def test_int8_ir_has_fake_quantize_but_none_in_the_decode_tail(session: Bench) -> None:
    model = _read(session, QuantSpec(calib_size=8))
    n = anchor_count(model)
    ops = model.get_ordered_ops()
    fq = [op for op in ops if op.get_type_name() == "FakeQuantize"]
    assert len(fq) > 20
    assert not [op.get_friendly_name() for op in fq if in_decode_tail(op, n)]
    tail = [op for op in ops if in_decode_tail(op, n)]
    fed_by_fq = [
        op.get_friendly_name()
        for op in tail
        for port in op.inputs()
        if port.get_source_output().get_node().get_type_name() == "FakeQuantize"
    ]
    assert fed_by_fq == []


@pytest.mark.slow
@needs_nncf
def test_accuracy_controlled_int8_builds_through_the_map_path(session: Bench) -> None:
    model = _read(session, QuantSpec(calib_size=8, max_drop=0.01))
    assert any(op.get_type_name() == "FakeQuantize" for op in model.get_ordered_ops())


@pytest.mark.slow
@needs_nncf
def test_map_validator_returns_map_and_one_output_per_sample(session: Bench) -> None:
    import openvino as ov

    artifact = build(openvino_recipe(_variant(session, None), 1), session.ctx)
    compiled = ov.Core().compile_model(artifact.path, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    samples = session.val_samples()
    validator = MapValidator(session.data.names, session.config.imgsz, 1)
    value, outputs = validator(compiled, samples)
    assert 0.0 <= value <= 1.0
    assert len(outputs) == len(samples) and outputs[0][0].shape[0] == 1
    assert validator.model_input(samples[0]).shape == (1, 3, session.config.imgsz, session.config.imgsz)


@pytest.mark.slow
@needs_nncf
def test_calibration_split_too_small_is_a_dataset_error(session: Bench) -> None:
    with pytest.raises(DatasetError, match="requested"):
        build(openvino_recipe(_variant(session, QuantSpec(calib_size=9)), 1), session.ctx)


@pytest.mark.parametrize("fix", ["enable", "first_layer_only", "disable"])
def test_overflow_fix_goes_to_nncf(fix: str) -> None:
    import nncf

    from harness.builders.quantize.openvino import _quantize_kwargs

    advanced = _quantize_kwargs(QuantSpec(overflow_fix=fix), [])["advanced_parameters"]
    assert advanced.overflow_fix is nncf.OverflowFix(fix)
