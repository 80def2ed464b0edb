"""Mixed precision: ORT's SQNR ranks quantized layers; kept layers really run in float; the search stops."""

from __future__ import annotations

import dataclasses

import onnx
import pytest

from harness.bench import Bench
from harness.builders import build, materialize
from harness.builders.quantize.calibration import calibration_images
from harness.builders.quantize.onnxruntime import OrtQuantRecipe
from harness.builders.quantize.sensitivity import (
    LayerSensitivity,
    MixedStep,
    keep_float,
    layer_sensitivity,
    search,
)
from harness.config import HarnessConfig
from harness.planning import onnxruntime_recipe
from harness.recipes import ExportRecipe, QuantSpec, UserDataRecipe, WeightsRecipe

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quant_setup(quick_config: HarnessConfig):  # type: ignore[no-untyped-def]
    session = Bench.from_config(quick_config)
    base = session.variants[0]
    variant = dataclasses.replace(
        base, backend="onnxruntime", precision="int8", quant=QuantSpec(calib_size=8)
    )
    recipe = onnxruntime_recipe(variant, 1)
    assert isinstance(recipe, OrtQuantRecipe)
    images = calibration_images(materialize(recipe.data, session.ctx), variant.imgsz, 8)  # type: ignore[arg-type]
    return session, recipe, images


def test_sensitivity_ranks_every_quantized_conv(quant_setup) -> None:  # type: ignore[no-untyped-def]
    session, recipe, images = quant_setup
    int8 = build(recipe, session.ctx).path
    layers = layer_sensitivity(int8, images)
    graph = onnx.load(str(int8)).graph
    convs = {n.name for n in graph.node if n.op_type == "Conv"}
    assert len(layers) >= 10 and {layer.node for layer in layers} <= convs
    sqnr = [layer.sqnr_db for layer in layers]
    assert sqnr == sorted(sqnr)


def test_kept_layers_are_not_quantized(quant_setup) -> None:  # type: ignore[no-untyped-def]
    session, recipe, images = quant_setup
    layers = layer_sensitivity(build(recipe, session.ctx).path, images)
    mixed = keep_float(recipe, layers, 2)
    assert mixed.keep_float == (layers[0].node, layers[1].node) and mixed.key() != recipe.key()
    graph = onnx.load(str(build(mixed, session.ctx).path)).graph
    dequantized = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    for node in graph.node:
        if node.name in mixed.keep_float:
            assert not set(node.input) & dequantized, node.name


def test_search_stops_when_the_target_is_reached() -> None:
    layers = [LayerSensitivity(f"n{i}", f"t{i}", float(i)) for i in range(20)]
    source = ExportRecipe(WeightsRecipe(sha256="0" * 64), "onnx", 64, 1, False, ())
    recipe = OrtQuantRecipe(
        source=source, data=UserDataRecipe(sha256="1" * 64), quant=QuantSpec(), versions=()
    )
    seen: list[int] = []

    def measure(r: OrtQuantRecipe) -> MixedStep:
        seen.append(len(r.keep_float))
        return MixedStep(r.keep_float, 0.5 + 0.01 * len(r.keep_float), None)

    steps = search(measure, recipe, layers, target_map=0.53)
    assert seen == [0, 1, 2, 4]
    assert steps[-1].kept == ("n0", "n1", "n2", "n3")
