"""Real profiler traces of the quick yolo11n on every CPU backend (PyTorch, ONNX Runtime FP32 and
INT8, OpenVINO), and a note, not a failure, for NCNN."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from harness.bench import Bench
from harness.config import HarnessConfig, MatrixSpec, QuantChoice
from harness.recipes import QuantSpec, Variant
from harness.trace import Profile, TraceUnavailable, profile_runner
from harness.trace.onnxruntime import read_ort_profile

ROUNDS = 3


@pytest.fixture(scope="module")
def bench(quick_config: HarnessConfig) -> Bench:
    matrix = MatrixSpec((0.0,), ("fp32", "int8"), ("torch", "onnxruntime", "openvino", "ncnn"),
                        (QuantChoice(QuantSpec(calib_size=8)),))  # fmt: skip
    return Bench.from_config(dataclasses.replace(quick_config, matrix=matrix))


def _variant(bench: Bench, backend: str, precision: str = "fp32") -> Variant:
    return next(v for v in bench.variants if v.backend == backend and v.precision == precision)


def _trace(bench: Bench, variant: Variant, tmp_path: Path) -> Profile:
    runner = bench.runner(variant)
    return profile_runner(runner, bench.input_batch(variant, 1), ROUNDS, tmp_path / variant.slug)


def _check(profile: Profile, backend: str, tmp_path: Path, slug: str) -> None:
    assert profile.backend == backend and profile.inferences == ROUNDS
    assert profile.file == tmp_path / f"{slug}.json" and profile.file.is_file()
    json.loads(profile.file.read_text())  # the backend's own file, complete
    assert profile.ops and all(op.ms >= 0 for op in profile.ops)
    assert [op.ms for op in profile.ops] == sorted((op.ms for op in profile.ops), reverse=True)
    assert profile.total_ms > 0


@pytest.mark.slow
def test_torch_trace(bench: Bench, tmp_path: Path) -> None:
    variant = _variant(bench, "torch")
    profile = _trace(bench, variant, tmp_path)
    _check(profile, "torch", tmp_path, variant.slug)
    assert any(
        op.op == "aten::conv2d" or op.op.startswith("aten::mkldnn") or "conv" in op.op for op in profile.ops
    )
    assert profile.share("int8") == 0.0


@pytest.mark.slow
def test_onnxruntime_fp32_and_int8_traces(bench: Bench, tmp_path: Path) -> None:
    fp32 = _trace(bench, _variant(bench, "onnxruntime"), tmp_path)
    _check(fp32, "onnxruntime", tmp_path, _variant(bench, "onnxruntime").slug)
    assert fp32.share("int8") == 0.0 and "Conv" in {op.op for op in fp32.ops}
    int8_variant = _variant(bench, "onnxruntime", "int8")
    int8 = _trace(bench, int8_variant, tmp_path)
    _check(int8, "onnxruntime", tmp_path, int8_variant.slug)
    assert (int8.share("int8") or 0) > 0 and "QLinearConv" in {op.op for op in int8.ops}
    # The file read again gives the same rows: the warm-up run is left out by model_run events.
    assert read_ort_profile(int8.file, skip=1) == (int8.ops, ROUNDS)  # type: ignore[arg-type]


@pytest.mark.slow
def test_openvino_trace_names_the_executed_precision(bench: Bench, tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    variant = _variant(bench, "openvino", "int8")
    profile = _trace(bench, variant, tmp_path)
    _check(profile, "openvino", tmp_path, variant.slug)
    nodes = json.loads(profile.file.read_text())  # type: ignore[union-attr]
    assert {"node", "type", "exec_type", "us_per_inference", "macs"} <= set(nodes[0])
    assert (profile.share("int8") or 0) > 0  # NNCF INT8 convolutions ran as integer kernels
    # Every convolution of the IR ran as a node of its own name: its MACs are the whole model's
    import openvino as ov

    from harness.trace.macs import conv_macs

    ir = conv_macs(ov.Core().read_model(str(bench.runner(variant).artifact)))  # type: ignore[attr-defined]
    assert ir and profile.conv_macs == sum(ir.values())
    assert sum(n["macs"] or 0 for n in nodes) == profile.conv_macs
    assert profile.conv_ms and 0 < profile.conv_ms < profile.total_ms and (profile.conv_gmac_per_s or 0) > 0


@pytest.mark.slow
def test_ncnn_has_no_trace_and_says_why(bench: Bench, tmp_path: Path) -> None:
    pytest.importorskip("ncnn")
    variant = _variant(bench, "ncnn")
    with pytest.raises(TraceUnavailable, match="NCNN's Python API exposes no per-layer timing"):
        _trace(bench, variant, tmp_path)


def test_an_unknown_runner_has_no_trace(tmp_path: Path) -> None:
    with pytest.raises(TraceUnavailable, match="no profiler is wired for object"):
        profile_runner(object(), None, 1, tmp_path / "x")  # type: ignore[arg-type]


def test_a_broken_ort_profile_is_a_clear_error(tmp_path: Path) -> None:
    from harness.errors import HarnessError

    bad = tmp_path / "p.json"
    bad.write_text("[{")
    with pytest.raises(HarnessError, match="p.json: not an ONNX Runtime profile"):
        read_ort_profile(bad)
    bad.write_text('[{"cat": "Session", "name": "model_run", "ts": 0, "dur": 5}]')
    with pytest.raises(HarnessError, match="1 model runs traced, expected more than 1"):
        read_ort_profile(bad, skip=1)
