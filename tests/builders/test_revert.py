"""Measured mixed-precision sensitivity: layer groups, a group put back in float, cached errors."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from harness.bench import Bench
from harness.builders import build
from harness.builders.quantize.onnxruntime import OrtQuantRecipe
from harness.builders.quantize.revert import RevertGainsRecipe, conv_groups, read_gains, reverted
from harness.config import HarnessConfig
from harness.planning import onnxruntime_recipe
from harness.recipes import QuantSpec

pytestmark = pytest.mark.slow
DQ = "_DequantizeLinear_Output"


@pytest.fixture(scope="module")
def graphs(quick_config: HarnessConfig):  # type: ignore[no-untyped-def]
    session = Bench.from_config(quick_config)
    variant = dataclasses.replace(
        session.variants[0], backend="onnxruntime", precision="int8", quant=QuantSpec(calib_size=8)
    )
    recipe = onnxruntime_recipe(variant, 1)
    assert isinstance(recipe, OrtQuantRecipe)
    int8 = onnx.load(str(build(recipe, session.ctx).path))
    fp32 = onnx.load(str(build(recipe.source, session.ctx).path))
    return session, recipe, int8, fp32


def test_groups_are_modules_and_the_head_splits(graphs) -> None:  # type: ignore[no-untyped-def]
    _, _, int8, _ = graphs
    groups = dict(conv_groups(int8))
    assert "model.0" in groups and "model.1" in groups
    assert any(name.startswith("model.23/") for name in groups) and "model.23" not in groups
    nodes = [n for names in groups.values() for n in names]
    assert len(nodes) == len(set(nodes))  # every quantized node in exactly one group
    by_name = {n.name: n for n in int8.graph.node}
    assert all(any(i.endswith(DQ) for i in by_name[n].input) for n in nodes)


def test_a_reverted_group_reads_float_tensors_and_fp32_weights(graphs) -> None:  # type: ignore[no-untyped-def]
    _, _, int8, fp32 = graphs
    _name, nodes = conv_groups(int8)[0]
    model = reverted(int8, fp32, nodes)
    by_name = {n.name: n for n in model.graph.node}
    weights = {i.name: i for i in model.graph.initializer}
    for node in nodes:
        assert not any(i.endswith(DQ) for i in by_name[node].input), node
    conv = next(by_name[n] for n in nodes if by_name[n].op_type == "Conv")
    original = next(i for i in fp32.graph.initializer if i.name == conv.input[1])
    assert weights[conv.input[1]] == original
    assert len(int8.graph.initializer) < len(model.graph.initializer)  # the int8 graph is untouched
    x = np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)
    run = lambda m: ort.InferenceSession(m.SerializeToString()).run(None, {"images": x})[0]
    assert not np.array_equal(run(model), run(int8))  # the group now computes in float


def test_gains_are_measured_once_and_cached(graphs) -> None:  # type: ignore[no-untyped-def]
    session, recipe, int8, _ = graphs
    artifact = build(RevertGainsRecipe(recipe, 4, recipe.versions), session.ctx)
    base, gains = read_gains(artifact.path)
    assert [g.name for g in gains] == [name for name, _ in conv_groups(int8)]
    assert base > 0 and all(g.gain == pytest.approx((base - g.error) / base) for g in gains)
    assert all(g.gain <= 1.0 + 1e-9 for g in gains) and any(g.gain > 0 for g in gains)
    assert json.loads(artifact.path.read_text())["images"] == 4
    assert build(RevertGainsRecipe(recipe, 4, recipe.versions), session.ctx).path == artifact.path
