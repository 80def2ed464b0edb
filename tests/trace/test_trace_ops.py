"""Operator rows of one shape for every backend's profiler, and each kernel's kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.trace.ops import OpTime, Profile, openvino_kind, ort_kind, summarize, torch_kind


def test_summarize_groups_by_op_and_kind_per_inference_slowest_first() -> None:
    events = [("Conv", "float", 2.0, 1), ("QLinearConv", "int8", 1.0, 1), ("Conv", "float", 4.0, 1),
              ("QLinearConv", "int8", 1.0, 1), ("DequantizeLinear", "convert", 0.5, 3)]  # fmt: skip
    rows = summarize(events, inferences=2)
    assert rows == (
        OpTime("Conv", "float", 3.0, 1.0),
        OpTime("QLinearConv", "int8", 1.0, 1.0),
        OpTime("DequantizeLinear", "convert", 0.25, 1.5),
    )
    with pytest.raises(ValueError, match="at least one inference"):
        summarize(events, inferences=0)


def test_profile_shares_and_top() -> None:
    ops = (OpTime("QLinearConv", "int8", 3.0, 1), OpTime("ReorderOutput", "layout", 1.0, 1))
    profile = Profile("onnxruntime", Path("t.json"), ops, 20)
    assert profile.total_ms == 4.0 and profile.top(1) == ops[:1]
    assert (profile.share("int8"), profile.share("layout"), profile.share("float")) == (0.75, 0.25, 0.0)
    assert Profile("torch", None, (), 1).share("float") is None  # nothing traced: no share
    with pytest.raises(ValueError, match="not one of"):
        OpTime("x", "fp8", 1.0, 1)


@pytest.mark.parametrize(
    ("op", "kind"),
    [("QLinearConv", "int8"), ("QLinearAdd", "int8"), ("ConvInteger", "int8"), ("DequantizeLinear", "convert"),
     ("QuantizeLinear", "convert"), ("Cast", "convert"), ("ReorderInput", "layout"), ("Conv", "float"),
     ("Sigmoid", "float")],
)  # fmt: skip
def test_ort_kinds(op: str, kind: str) -> None:
    assert ort_kind(op) == kind


@pytest.mark.parametrize(
    ("node_type", "exec_type", "kind"),
    [("Convolution", "brgconv_avx512_I8", "int8"), ("Convolution", "jit_avx2_U8", "int8"),
     ("Convolution", "brgconv_avx512_FP32", "float"), ("Eltwise", "jit_avx512_BF16", "float"),
     ("Reorder", "jit_uni_I8", "layout"), ("FakeQuantize", "jit_avx512_FP32", "convert"),
     ("Subgraph", "unknown_FP32", "float")],
)  # fmt: skip
def test_openvino_kinds(node_type: str, exec_type: str, kind: str) -> None:
    assert openvino_kind(node_type, exec_type) == kind


@pytest.mark.parametrize(
    ("name", "kind"),
    [("aten::conv2d", "float"), ("quantized::conv2d", "int8"), ("aten::to", "convert"),
     ("aten::contiguous", "layout"), ("aten::silu", "float")],
)  # fmt: skip
def test_torch_kinds(name: str, kind: str) -> None:
    assert torch_kind(name) == kind


def test_conv_rate_is_macs_over_traced_time_and_unknown_without_macs() -> None:
    ops = (OpTime("Convolution", "int8", 3.0, 1),)
    traced = Profile("openvino", None, ops, 1, conv_macs=600_000_000, conv_ms=3.0)
    assert traced.conv_gmac_per_s == pytest.approx(200.0)  # 0.6 GMAC in 3 ms
    assert Profile("onnxruntime", None, ops, 1).conv_gmac_per_s is None  # MACs not known: not 0
    assert Profile("openvino", None, ops, 1, conv_macs=600_000_000, conv_ms=0.0).conv_gmac_per_s is None
