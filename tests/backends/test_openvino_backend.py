"""OpenVINO backend on a real (quick-profile) model: every precision loads and runs; clear skips."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.backends import openvino_backend
from harness.backends.base import LoadRequest
from harness.backends.openvino_backend import OpenVinoBackend, OpenVinoRunner, compile_config
from harness.backends.registry import get_backend
from harness.bench import Bench
from harness.errors import BackendUnavailable, HarnessError
from harness.recipes import QuantSpec, Variant, WeightsRecipe

needs_openvino = pytest.mark.skipif(
    importlib.util.find_spec("openvino") is None, reason="openvino is not installed"
)

QUICK_QUANT = QuantSpec(calib_size=8)  # the quick profile's calib split holds 8 images


def _variant(session: Bench, precision: str, quant: QuantSpec | None = None) -> Variant:
    if precision == "int8" and quant is None:
        quant = QUICK_QUANT
    return dataclasses.replace(session.variants[0], backend="openvino", precision=precision, quant=quant)


def _ort_fp32(session: Bench, x: np.ndarray) -> np.ndarray:
    return session.runner(dataclasses.replace(session.variants[0], backend="onnxruntime"))(x)


def _runner_or_skip(session: Bench, variant: Variant) -> OpenVinoRunner:
    reason = OpenVinoBackend().unsupported(variant, session.ctx.device)
    if reason:
        pytest.skip(reason)
    runner = session.runner(variant)
    assert isinstance(runner, OpenVinoRunner)
    return runner


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "fp16", "bf16", "int8"])
def test_each_precision_builds_loads_and_runs(session: Bench, precision: str) -> None:
    variant = _variant(session, precision)
    runner = _runner_or_skip(session, variant)
    x = session.input_batch(variant, 1)
    out = runner(x)
    assert out.dtype == np.float32
    assert out.shape == _ort_fp32(session, x).shape
    assert np.isfinite(out).all()
    assert runner.artifact.suffix == ".xml" and runner.artifact.with_suffix(".bin").is_file()
    assert len(runner.artifact_sha256) == 64


@pytest.mark.slow
def test_fp32_matches_onnxruntime_fp32(session: Bench) -> None:
    variant = _variant(session, "fp32")
    runner = _runner_or_skip(session, variant)
    x = session.input_batch(variant, 1)
    np.testing.assert_allclose(runner(x), _ort_fp32(session, x), atol=2e-3, rtol=1e-3)
    assert runner.inference_precision == "f32"
    assert set(runner.execution_precisions) == {"f32"}


@pytest.mark.slow
@pytest.mark.parametrize(("precision", "executed"), [("fp16", "f16"), ("bf16", "bf16")])
def test_half_precisions_execute_in_that_precision(session: Bench, precision: str, executed: str) -> None:
    runner = _runner_or_skip(session, _variant(session, precision))
    assert runner.inference_precision == executed
    assert set(runner.execution_precisions) == {executed}


@pytest.mark.slow
def test_int8_runs_quantized_convolutions(session: Bench) -> None:
    runner = _runner_or_skip(session, _variant(session, "int8"))
    executed = runner.execution_precisions
    assert executed.get("u8", 0) + executed.get("i8", 0) > sum(executed.values()) // 2


@pytest.mark.slow
def test_batched_runner_matches_batch_one(session: Bench, batch_matches_single) -> None:  # type: ignore[no-untyped-def]
    batch_matches_single(session, _variant(session, "fp32"))


def test_compile_config_forces_f32_only_for_fp32(session: Bench) -> None:
    assert compile_config(_variant(session, "fp32"), 2) == {
        "INFERENCE_NUM_THREADS": 2,
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": "f32",
    }
    assert compile_config(_variant(session, "fp16"), 3)["INFERENCE_PRECISION_HINT"] == "f16"
    assert "INFERENCE_PRECISION_HINT" not in compile_config(_variant(session, "bf16"), 2)
    assert "INFERENCE_PRECISION_HINT" not in compile_config(_variant(session, "int8"), 2)


def test_registered_under_openvino() -> None:
    assert isinstance(get_backend("openvino"), OpenVinoBackend)


# ------------------------------------------------------------------------ unsupported / errors


def test_cuda_device_is_unsupported(session: Bench) -> None:
    reason = OpenVinoBackend().unsupported(_variant(session, "fp32"), "cuda:0")
    assert reason is not None and "CPU plugin only" in reason and "cuda:0" in reason


@needs_openvino
@pytest.mark.parametrize(("precision", "capability"), [("bf16", "BF16"), ("fp16", "FP16")])
def test_half_precision_needs_the_cpu_capability(
    session: Bench, monkeypatch: pytest.MonkeyPatch, precision: str, capability: str
) -> None:
    monkeypatch.setattr(openvino_backend, "cpu_capabilities", lambda: ("FP32", "INT8"))
    reason = OpenVinoBackend().unsupported(_variant(session, precision), "cpu")
    assert reason is not None and f"no {capability} support" in reason


def test_missing_openvino_is_a_reason(session: Bench, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # makes ``import openvino`` raise ImportError
    reason = OpenVinoBackend().unsupported(_variant(session, "fp32"), "cpu")
    assert reason is not None and "openvino is not installed" in reason


@needs_openvino
def test_missing_nncf_is_a_reason_for_int8_only(session: Bench, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nncf", None)
    reason = OpenVinoBackend().unsupported(_variant(session, "int8"), "cpu")
    assert reason is not None and "nncf is not installed" in reason
    assert OpenVinoBackend().unsupported(_variant(session, "fp32"), "cpu") is None


@needs_openvino
@pytest.mark.parametrize(
    ("quant", "reason"),
    [
        (QuantSpec(format="qoperator"), "format 'qoperator' is ONNX Runtime's"),
        (QuantSpec(method="dynamic"), "static (calibrated) only"),
        (QuantSpec(weights="u8"), "weights 'u8' is not available"),
        (
            QuantSpec(activations="s8", ops="conv"),
            "is ONNX Runtime's option; NNCF quantizes its own operator set",
        ),
    ],
)
def test_int8_options_nncf_cannot_build_are_reasons(session: Bench, quant: QuantSpec, reason: str) -> None:
    variant = _variant(session, "int8", quant)
    assert reason in (OpenVinoBackend().unsupported(variant, "cpu") or "")
    with pytest.raises(BackendUnavailable, match=re.escape(reason)):
        OpenVinoBackend().load(LoadRequest(variant, 1, session.ctx))


@needs_openvino
def test_int8_of_a_weights_file_without_dataset_is_a_reason(session: Bench) -> None:
    variant = dataclasses.replace(
        _variant(session, "int8"), source=WeightsRecipe(sha256="0" * 64, path="w.pt")
    )
    assert "config names no 'data'" in (OpenVinoBackend().unsupported(variant, "cpu") or "")


@needs_openvino
def test_a_model_that_fails_to_load_names_the_file(tmp_path: Path) -> None:
    xml = tmp_path / "model.xml"
    xml.write_text("<net name='broken'><layers><layer id='0' type='Nope'/></layers></net>")
    with pytest.raises(HarnessError, match="OpenVINO failed to load .*model.xml"):
        OpenVinoRunner(xml, "0" * 64, {"INFERENCE_NUM_THREADS": 1})


def test_importing_the_backend_does_not_import_openvino() -> None:
    code = (
        "import sys, harness.backends.openvino_backend, harness.builders.quantize.openvino;"
        "print(sorted(m for m in ('openvino', 'nncf') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
