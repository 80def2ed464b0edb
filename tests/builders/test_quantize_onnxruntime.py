"""ONNX Runtime INT8 and FP16 builders on a real (quick-profile) graph; the head's decode stays float."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from harness.backends.onnxruntime_backend import OrtRunner
from harness.bench import Bench
from harness.builders import build
from harness.builders.quantize.onnxruntime import OrtFp16Recipe, OrtQuantRecipe, float_nodes
from harness.errors import DatasetError, HarnessError
from harness.planning import onnx_recipe
from harness.recipes import ExportRecipe, QuantSpec, TrainRecipe, UserDataRecipe, Variant, WeightsRecipe

_QUANTIZED_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"})


# -------------------------------------------------------------------- pure: filter, hash


def _toy_head() -> onnx.ModelProto:
    """backbone Conv -> SiLU -> output Conv -> Reshape -> Softmax -> DFL Conv -> Mul -> output."""
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 4, 1, 1], np.ones(16, np.float32))
    dfl = helper.make_tensor("dfl_w", TensorProto.FLOAT, [1, 4, 1, 1], np.arange(4, dtype=np.float32))
    shape = helper.make_tensor("shape", TensorProto.INT64, [4], [1, 4, 1, 4])
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c0"], name="backbone/Conv"),
        helper.make_node("Sigmoid", ["c0"], ["s0"], name="backbone/Sigmoid"),
        helper.make_node("Mul", ["c0", "s0"], ["a0"], name="backbone/Mul"),
        helper.make_node("Conv", ["a0", "w"], ["c1"], name="head/out/Conv"),
        helper.make_node("Reshape", ["c1", "shape"], ["r"], name="head/Reshape"),
        helper.make_node("Softmax", ["r"], ["p"], name="head/dfl/Softmax", axis=1),
        helper.make_node("Conv", ["p", "dfl_w"], ["d"], name="head/dfl/Conv"),
        helper.make_node("Mul", ["d", "d"], ["y"], name="head/Mul"),
    ]
    graph = helper.make_graph(
        nodes,
        "toy",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [w, dfl, shape],
    )
    return helper.make_model(graph)


def test_float_nodes_walks_through_the_dfl_and_stops_at_the_output_conv() -> None:
    kept = float_nodes(_toy_head())
    assert set(kept) == {"head/Mul", "head/dfl/Conv", "head/dfl/Softmax", "head/Reshape", "head/out/Conv"}


def _recipe(quant: QuantSpec) -> OrtQuantRecipe:
    source = ExportRecipe(WeightsRecipe(sha256="0" * 64), "onnx", 64, 1, False, ())
    return OrtQuantRecipe(source=source, data=UserDataRecipe(sha256="1" * 64), quant=quant, versions=())


@pytest.mark.parametrize(
    ("knob", "value"),
    [
        ("method", "dynamic"),
        ("format", "qoperator"),
        ("per_channel", False),
        ("activations", "s8"),
        ("weights", "u8"),
        ("calibration", "entropy"),
        ("calibration", "percentile"),
        ("calib_size", 101),
    ],
)
def test_every_quant_knob_changes_the_recipe_hash(knob: str, value: object) -> None:
    base = _recipe(QuantSpec())
    changed = _recipe(dataclasses.replace(QuantSpec(), **{knob: value}))
    assert changed.key() != base.key()
    assert changed.to_dict()["quant"][knob] == value


def test_recipe_rejects_what_ort_cannot_build() -> None:
    with pytest.raises(ValueError, match="max_drop"):
        _recipe(QuantSpec(max_drop=0.01))
    with pytest.raises(ValueError, match="calibration split"):
        dataclasses.replace(_recipe(QuantSpec()), data=None)


# -------------------------------------------------------------------- real quick graphs


@pytest.fixture(scope="module")
def fp32(session: Bench) -> Variant:
    return dataclasses.replace(session.variants[0], backend="onnxruntime", precision="fp32")


@pytest.fixture(scope="module")
def export(session: Bench, fp32: Variant) -> ExportRecipe:
    return onnx_recipe(fp32, 1)


def _run(path: Path, session: Bench, variant: Variant) -> np.ndarray:
    runner = OrtRunner(path, "", ["CPUExecutionProvider"], session.ctx.threads)
    return runner(session.input_batch(variant, 1))


def _assert_decode_is_float(quantized: onnx.ModelProto, decode: list[str]) -> None:
    producers = {out: node for node in quantized.graph.node for out in node.output}
    by_name = {node.name: node for node in quantized.graph.node}
    for name in decode:
        node = by_name[name]  # an excluded node keeps its name and its float op
        feeders = {producers[i].op_type for i in node.input if i in producers}
        assert not feeders & _QUANTIZED_OPS, f"{name} is fed by {feeders & _QUANTIZED_OPS}"


QUICK_CALIB = 8  # the quick profile's calibration split
SPECS = [
    QuantSpec(calib_size=QUICK_CALIB),
    QuantSpec(per_channel=False, calib_size=QUICK_CALIB),
    QuantSpec(format="qoperator", calib_size=QUICK_CALIB),
    QuantSpec(format="qoperator", per_channel=False, calib_size=QUICK_CALIB),
    QuantSpec(ops="conv", calib_size=QUICK_CALIB),
    # Histograms of every operator's tensors fail on the 1-epoch quick model (see below).
    QuantSpec(calibration="entropy", ops="conv", calib_size=QUICK_CALIB),
    QuantSpec(calibration="percentile", ops="conv", calib_size=QUICK_CALIB),
    QuantSpec(activations="s8", calib_size=QUICK_CALIB),
    QuantSpec(method="dynamic", weights="u8"),
    QuantSpec(method="dynamic", weights="s8"),
]


@pytest.mark.slow
@pytest.mark.parametrize("quant", SPECS, ids=[q.slug for q in SPECS])
def test_int8_builds_runs_and_keeps_the_decode_float(
    session: Bench, fp32: Variant, export: ExportRecipe, quant: QuantSpec
) -> None:
    source = fp32.source
    assert isinstance(source, TrainRecipe)
    recipe = OrtQuantRecipe(source=export, data=source.data, quant=quant, versions=())
    artifact = build(recipe, session.ctx)
    quantized = onnx.load(str(artifact.path))
    original = onnx.load(str(build(export, session.ctx).path))
    decode = float_nodes(original)
    assert {"Softmax", "Sigmoid", "Concat", "Mul"} <= {
        n.op_type for n in original.graph.node if n.name in decode
    }
    assert any(n.op_type in _QUANTIZED_OPS | {"QLinearConv", "ConvInteger"} for n in quantized.graph.node)
    _assert_decode_is_float(quantized, decode)
    out = _run(artifact.path, session, fp32)
    assert out.shape == _run(build(export, session.ctx).path, session, fp32).shape
    assert out.dtype == np.float32 and np.isfinite(out).all()


@pytest.mark.slow
def test_fp16_graph_keeps_float32_io_and_a_float32_decode(
    session: Bench, fp32: Variant, export: ExportRecipe
) -> None:
    artifact = build(OrtFp16Recipe(source=export, versions=()), session.ctx)
    half = onnx.load(str(artifact.path))
    io = [*half.graph.input, *half.graph.output]
    assert all(v.type.tensor_type.elem_type == TensorProto.FLOAT for v in io)
    assert any(t.data_type == TensorProto.FLOAT16 for t in half.graph.initializer)
    reference = _run(build(export, session.ctx).path, session, fp32)
    out = _run(artifact.path, session, fp32)
    assert out.shape == reference.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, reference, atol=0.05 * float(np.abs(reference).max()))


@pytest.mark.slow
def test_calib_size_beyond_the_split_is_a_dataset_error(
    session: Bench, fp32: Variant, export: ExportRecipe
) -> None:
    assert isinstance(fp32.source, TrainRecipe)
    quant = QuantSpec(calib_size=QUICK_CALIB + 1)
    recipe = OrtQuantRecipe(source=export, data=fp32.source.data, quant=quant, versions=())
    with pytest.raises(
        DatasetError, match=rf"has {QUICK_CALIB} images, but {QUICK_CALIB + 1} were requested"
    ):
        build(recipe, session.ctx)


@pytest.mark.slow
def test_a_histogram_numpy_cannot_bin_is_a_clear_error(
    session: Bench, fp32: Variant, export: ExportRecipe
) -> None:
    # The 1-epoch quick model has a nearly constant tensor among all operators' outputs.
    source = fp32.source
    assert isinstance(source, TrainRecipe)
    quant = QuantSpec(calibration="percentile", calib_size=QUICK_CALIB)
    recipe = OrtQuantRecipe(source=export, data=source.data, quant=quant, versions=())
    with pytest.raises(
        HarnessError, match=r"percentile calibration cannot build a histogram.*use calibration 'minmax'"
    ):
        build(recipe, session.ctx)


def test_minmax_ranges_cover_every_calibration_image(tmp_path: Path) -> None:
    """Regression: with ORT's CalibMaxIntermediateOutputs, 1.32 discarded every full chunk of 16
    images (the range came from the last calib_size % 16 only, or 'No data is collected')."""
    from onnxruntime.quantization import quantize_static

    from harness.builders.quantize.onnxruntime import _ImageReader, _static_kwargs

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 2, 2])
    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 1, 1], [1.0])
    conv = helper.make_node("Conv", ["x", "w"], ["c"])
    relu = helper.make_node("Relu", ["c"], ["y"])
    graph = helper.make_graph([conv, relu], "g", [x], [y], [w])
    model = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), model)
    images = np.full((32, 1, 2, 2), 1.0, np.float32)
    images[0] = 10.0  # only the first image, in the first full chunk, reaches 10
    out = tmp_path / "q.onnx"
    quantize_static(str(model), str(out), _ImageReader(images, "x", 1), **_static_kwargs(QuantSpec()))
    scales = [
        onnx.numpy_helper.to_array(t)
        for t in onnx.load(out).graph.initializer
        if t.name.startswith("x_scale")
    ]
    assert scales and float(scales[0]) == pytest.approx(10.0 / 255, rel=1e-3)


@pytest.mark.parametrize(("fix", "limit"), [("enable", 64), ("first_layer_only", 127), ("disable", 127)])
def test_overflow_fix_enable_quantizes_weights_to_seven_bits(tmp_path: Path, fix: str, limit: int) -> None:
    """Without VNNI, u8 x s8 pair sums saturate in 16 bits: "enable" is ONNX Runtime's ``reduce_range``."""
    from onnxruntime.quantization import quantize_static

    from harness.builders.quantize.onnxruntime import _ImageReader, _static_kwargs

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 2, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 2, 2])
    w = helper.make_tensor("w", TensorProto.FLOAT, [2, 2, 1, 1], [1.0, -0.5, 0.25, -1.0])
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "g", [x], [y], [w])
    model = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), model)
    images = np.random.default_rng(0).random((4, 2, 2, 2), np.float32)
    out = tmp_path / "q.onnx"
    kwargs = _static_kwargs(QuantSpec(overflow_fix=fix))
    quantize_static(str(model), str(out), _ImageReader(images, "x", 1), **kwargs)
    weights = [
        onnx.numpy_helper.to_array(t)
        for t in onnx.load(out).graph.initializer
        if t.data_type == TensorProto.INT8
    ]
    assert weights and int(np.abs(np.concatenate([a.ravel() for a in weights])).max()) == limit
