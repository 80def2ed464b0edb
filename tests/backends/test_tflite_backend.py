"""TFLite on the LiteRT interpreter, on the real quick model: FP32 matches ONNX Runtime, FP16 and
INT8 run with the decode in float, and every unsupported request is a skip with its reason."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from harness.backends.tflite_backend import TfliteBackend, tflite_recipe
from harness.bench import Bench
from harness.builders import build, tflite
from harness.builders.tflite import TfliteQuantRecipe, float_patterns, missing_tflite, read_metadata
from harness.recipes import QuantSpec, Variant

S8 = QuantSpec(activations="s8", weights="s8", calibration="minmax", calib_size=8)


@pytest.fixture(autouse=True)
def _litert() -> None:
    """The tflite extra: skipped without it, required under CI (dev.py installs it)."""
    reason = missing_tflite()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI must have it")
    pytest.skip(reason)


def _variant(session: Bench, precision: str = "fp32", quant: QuantSpec | None = None) -> Variant:
    return dataclasses.replace(session.variants[0], backend="tflite", precision=precision, quant=quant)


def _ort(session: Bench, x: np.ndarray) -> np.ndarray:
    return session.runner(dataclasses.replace(session.variants[0], backend="onnxruntime"))(x)


def test_fp32_matches_onnxruntime_with_boxes_in_pixels(session: Bench) -> None:
    variant = _variant(session)
    x = session.input_batch(variant, 2)
    got, want = session.runner(variant)(x), _ort(session, x[:1])
    assert got.shape == (2, *want.shape[1:]) and got.dtype == np.float32
    np.testing.assert_allclose(got[:1], want, atol=2e-3 * variant.imgsz, rtol=1e-3)
    assert read_metadata(session.runner(variant).artifact)["imgsz"] == [variant.imgsz, variant.imgsz]


def test_fp16_halves_the_file_and_stays_close(session: Bench) -> None:
    fp32, fp16 = _variant(session), _variant(session, "fp16")
    x = session.input_batch(fp32, 1)
    np.testing.assert_allclose(session.runner(fp16)(x), session.runner(fp32)(x), atol=0.02 * fp32.imgsz)
    assert session.runner(fp16).artifact.stat().st_size < 0.6 * session.runner(fp32).artifact.stat().st_size


def test_int8_keeps_the_decode_in_float_and_runs_near_fp32(session: Bench) -> None:
    variant = _variant(session, "int8", S8)
    recipe = tflite_recipe(variant)
    assert isinstance(recipe, TfliteQuantRecipe) and recipe.float_scope == "decode" and recipe.calib_size == 8
    x = session.input_batch(variant, 1)
    got, want = session.runner(variant)(x), _ort(session, x)
    assert got.shape == want.shape and np.isfinite(got).all()
    assert np.abs(got[:, 4:] - want[:, 4:]).max() < 0.25  # scores in [0, 1]: no collapsed head
    assert (
        session.runner(variant).artifact.stat().st_size
        < 0.4 * session.runner(_variant(session)).artifact.stat().st_size
    )


def test_each_float_scope_is_its_own_model(session: Bench) -> None:
    base = tflite_recipe(_variant(session, "int8", S8))
    assert isinstance(base, TfliteQuantRecipe)
    paths = {
        scope: build(dataclasses.replace(base, float_scope=scope), session.ctx).sha256
        for scope in tflite.FLOAT_SCOPES
    }
    assert len(set(paths.values())) == len(tflite.FLOAT_SCOPES)
    assert float_patterns("none") == () and set(float_patterns("decode")) < set(float_patterns("head"))


@pytest.mark.parametrize(
    ("precision", "quant", "device", "reason"),
    [
        ("bf16", None, "cpu", "TFLite has no bf16 path"),
        ("fp32", None, "cuda:0", "measured on the CPU (XNNPACK)"),
        ("int8", QuantSpec(), "cpu", "quant.activations is 'u8'"),
        ("int8", dataclasses.replace(S8, calibration="entropy"), "cpu", "quant.calibration is 'entropy'"),
        ("int8", dataclasses.replace(S8, per_channel=False), "cpu", "quant.per_channel is false"),
        ("int8", dataclasses.replace(S8, method="dynamic"), "cpu", "quant.method is 'dynamic'"),
        ("int8", dataclasses.replace(S8, overflow_fix="enable"), "cpu", "ai-edge-quantizer has none"),
    ],
)
def test_what_litert_cannot_run_is_a_reason(
    session: Bench, precision: str, quant: QuantSpec | None, device: str, reason: str
) -> None:
    found = TfliteBackend().unsupported(_variant(session, precision, quant), device)
    assert found is not None and reason in found


def test_without_the_extra_the_skip_names_it(session: Bench, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tflite.importlib.util.find_spec
    monkeypatch.setattr(
        tflite.importlib.util, "find_spec", lambda name: None if name == "litert_torch" else real(name)
    )
    reason = TfliteBackend().unsupported(_variant(session), "cpu")
    assert reason is not None and "TFLite needs the tflite extra; litert_torch not installed" in reason
    assert "pip install 'yolo-compression-harness[tflite]'" in reason
