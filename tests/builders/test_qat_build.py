"""QAT recipes and the check of an exported QDQ graph."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from harness.builders.qat import missing_modelopt, qat_recipe, qdq_ops
from harness.errors import HarnessError
from harness.recipes import SyntheticDataRecipe, TrainRecipe

DATA = SyntheticDataRecipe(seed=0, imgsz=64, n_train=4, n_val=2, n_calib=2, generator_version=1)


def _control() -> TrainRecipe:
    return TrainRecipe("yolo11n.yaml", DATA, 1, 8, 64, 0, (), hyp=(("lr0", 0.0001),))


def test_qat_is_its_control_with_quantize_8() -> None:
    control = _control()
    qat = qat_recipe(control)
    assert dict(qat.hyp) == {"lr0": 0.0001, "quantize": 8}
    assert (qat.epochs, qat.seed, qat.data, qat.init) == (
        control.epochs,
        control.seed,
        control.data,
        control.init,
    )
    assert qat.key() != control.key()


def test_modelopt_is_installed_with_the_harness() -> None:
    assert missing_modelopt() is None


def _graph(path: Path, quantized: bool) -> Path:
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    if quantized:
        nodes = [
            helper.make_node("QuantizeLinear", ["x", "s"], ["q"]),
            helper.make_node("DequantizeLinear", ["q", "s"], ["y"]),
        ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        [helper.make_tensor("s", TensorProto.FLOAT, [], [0.1])],
    )  # fmt: skip
    onnx.save(helper.make_model(graph), path)
    return path


def test_qdq_ops_counts_the_pairs(tmp_path: Path) -> None:
    assert qdq_ops(_graph(tmp_path / "q.onnx", True)) == {"QuantizeLinear": 1, "DequantizeLinear": 1}


def test_an_export_without_qdq_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="holds no QuantizeLinear/DequantizeLinear nodes"):
        qdq_ops(_graph(tmp_path / "f.onnx", False))
