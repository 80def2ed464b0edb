"""Mixed precision: the measured groups ranked; kept groups really run in float; the search stops."""

from __future__ import annotations

import dataclasses

import onnx
import pytest

from harness.bench import Bench
from harness.builders import build
from harness.builders.quantize.onnxruntime import OrtQuantRecipe
from harness.builders.quantize.revert import GroupGain, conv_groups
from harness.builders.quantize.sensitivity import MixedStep, keep_float, ranked, search
from harness.config import HarnessConfig
from harness.planning import onnxruntime_recipe
from harness.recipes import ExportRecipe, QuantSpec, UserDataRecipe, WeightsRecipe


def _gains(*gains: float) -> list[GroupGain]:
    return [GroupGain(f"g{i}", (f"g{i}/a", f"g{i}/b"), 0.5 + g, g) for i, g in enumerate(gains)]


def test_ranked_puts_the_largest_measured_gain_first() -> None:
    assert [g.name for g in ranked(_gains(0.001, 0.0, 0.004, -0.002, 0.002, 0.0))] == [
        "g2",
        "g4",
        "g0",
        "g1",
        "g5",
        "g3",
    ]


def test_search_stops_when_the_target_is_reached() -> None:
    source = ExportRecipe(WeightsRecipe(sha256="0" * 64), "onnx", 64, 1, False, ())
    recipe = OrtQuantRecipe(
        source=source, data=UserDataRecipe(sha256="1" * 64), quant=QuantSpec(), versions=()
    )
    seen: list[tuple[str, ...]] = []

    def measure(r: OrtQuantRecipe, kept: tuple[str, ...]) -> MixedStep:
        seen.append(kept)
        assert len(r.keep_float) == 2 * len(kept)  # every node of every kept group
        return MixedStep(kept, 0.5 + 0.01 * len(kept), None)

    groups = _gains(*([0.01] * 10))
    steps = search(measure, recipe, groups, lambda step: step.map50_95 >= 0.53, max_steps=8)
    assert seen == [(), ("g0",), ("g0", "g1"), ("g0", "g1", "g2")] and steps[-1].kept == ("g0", "g1", "g2")
    assert len(search(measure, recipe, groups, lambda step: False, max_steps=2)) == 3  # step 0 + 2


@pytest.mark.slow
def test_kept_groups_are_not_quantized(quick_config: HarnessConfig) -> None:
    session = Bench.from_config(quick_config)
    variant = dataclasses.replace(
        session.variants[0], backend="onnxruntime", precision="int8", quant=QuantSpec(calib_size=8)
    )
    recipe = onnxruntime_recipe(variant, 1)
    assert isinstance(recipe, OrtQuantRecipe)
    groups = [
        GroupGain(name, nodes, 0.0, 0.0)
        for name, nodes in conv_groups(onnx.load(str(build(recipe, session.ctx).path)))
    ]
    mixed = keep_float(recipe, groups[:2])
    assert mixed.keep_float == (*groups[0].nodes, *groups[1].nodes) and mixed.key() != recipe.key()
    graph = onnx.load(str(build(mixed, session.ctx).path)).graph
    dequantized = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    for node in graph.node:
        if node.name in mixed.keep_float and node.op_type == "Conv":
            assert not set(node.input) & dequantized, node.name
