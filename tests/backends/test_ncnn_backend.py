"""NCNN on a real (quick-profile) model: FP32 matches ONNX Runtime, FP16 and INT8 run, clear skips."""

from __future__ import annotations

import dataclasses
import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.backends.base import LoadRequest
from harness.backends.ncnn_backend import NcnnBackend, NcnnRunner
from harness.bench import Bench
from harness.builders.ncnn import (
    _BINS,
    BIN,
    Layer,
    NcnnInt8Recipe,
    _entropy_threshold,
    _percentile,
    _scale,
    _walk_bin,
    companion_bin,
    quantizable,
    read_param,
)
from harness.errors import BackendUnavailable, DatasetError, HarnessError
from harness.planning import ncnn_recipe
from harness.recipes import QuantSpec, TrainRecipe, Variant, WeightsRecipe

pytest.importorskip("ncnn", reason="the ncnn wheel is not installed (pip install ncnn)")
pytest.importorskip("pnnx", reason="the pnnx wheel is not installed (pip install pnnx)")

pytestmark = pytest.mark.slow

S8 = QuantSpec(activations="s8", weights="s8", calibration="minmax", calib_size=8)


def _variant(session: Bench, precision: str = "fp32", quant: QuantSpec | None = None) -> Variant:
    return dataclasses.replace(session.variants[0], backend="ncnn", precision=precision, quant=quant)


def _ort(session: Bench, x: np.ndarray) -> np.ndarray:
    return session.runner(dataclasses.replace(session.variants[0], backend="onnxruntime"))(x)


def test_fp32_matches_onnxruntime(session: Bench) -> None:
    variant = _variant(session)
    x = session.input_batch(variant, 1)
    got, want = session.runner(variant)(x), _ort(session, x)
    assert got.shape == want.shape == (1, 4 + len(session.data.names), want.shape[2])
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=2e-3, rtol=1e-3)


def test_fp16_runs_close_to_fp32(session: Bench) -> None:
    variant = _variant(session, "fp16")
    x = session.input_batch(variant, 1)
    got, want = session.runner(variant)(x), _ort(session, x)
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got[:, 4:], want[:, 4:], atol=2e-2)  # class scores
    np.testing.assert_allclose(got[:, :4], want[:, :4], atol=0.02 * variant.imgsz)  # boxes, pixels
    fp32_bin = companion_bin(session.runner(_variant(session)).artifact)
    assert companion_bin(session.runner(variant).artifact).stat().st_size < 0.6 * fp32_bin.stat().st_size


@pytest.mark.parametrize("calibration", ["minmax", "percentile", "entropy"])
def test_int8_runs_and_stays_near_fp32(session: Bench, calibration: str) -> None:
    variant = _variant(session, "int8", dataclasses.replace(S8, calibration=calibration))
    x = session.input_batch(variant, 1)
    got, want = session.runner(variant)(x), _ort(session, x)
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.isfinite(got).all()
    assert np.abs(got[:, 4:] - want[:, 4:]).max() < 0.25  # scores in [0, 1]: no collapsed head


def test_calibration_thresholds_on_a_known_distribution() -> None:
    rng = np.random.default_rng(0)
    values = np.abs(rng.standard_normal(200_000))
    values[:5] = 50.0  # rare outliers: minmax keeps them, the others clip them
    hist = np.histogram(values, _BINS, (0.0, 50.0))[0]
    assert 3.0 < _percentile(hist, 50.0) < 5.0  # 99.99th percentile of |N(0, 1)| is about 3.9
    assert 2.5 < _entropy_threshold(hist, 50.0) < 8.0
    assert _scale(50.0) == pytest.approx(127 / 50.0) and _scale(0.0) == 1.0


def test_int8_param_marks_every_convolution_but_the_box_decode(session: Bench) -> None:
    int8 = session.runner(_variant(session, "int8", S8)).artifact
    fp32 = session.runner(_variant(session)).artifact
    _, float_layers = read_param(fp32)
    _, int8_layers = read_param(int8)
    marked = {layer.name for layer in int8_layers if layer.get(8) == 1}
    convs = {layer.name for layer in float_layers if layer.type.startswith("Convolution")}
    assert marked == {layer.name for layer in quantizable(float_layers)}
    assert len(convs - marked) == 1  # the DFL integral after the Softmax stays float
    # per output channel (per group for depthwise) weight scales, then one input scale
    extra = sum(4 * _channels(layer) + 4 for layer in int8_layers if layer.name in marked)
    assert companion_bin(int8).stat().st_size == companion_bin(fp32).stat().st_size + extra


def test_bin_walk_covers_the_whole_file(session: Bench) -> None:
    param = session.runner(_variant(session)).artifact
    _, layers = read_param(param)
    data = companion_bin(param).read_bytes()
    spans = [(start, end) for _, start, end, _ in _walk_bin(data, layers)]
    assert spans[0][0] == 0 and spans[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))


def test_batch_of_two_runs_image_by_image(session: Bench) -> None:
    variant = _variant(session)
    x2 = session.input_batch(variant, 2)
    runner = session.runner(variant, batch=2)
    both = runner(x2)
    assert both.shape[0] == 2
    np.testing.assert_array_equal(both[1:2], runner(x2[1:2]))


def test_artifacts_are_hashed_param_and_bin(session: Bench) -> None:
    runner = session.runner(_variant(session))
    assert runner.artifact.name == "model.ncnn.param" and runner.artifact.is_file()
    assert (runner.artifact.parent / BIN).is_file()
    assert len(runner.artifact_sha256) == 64


def test_calibration_split_too_small_is_a_dataset_error(session: Bench) -> None:
    variant = _variant(session, "int8", dataclasses.replace(S8, calib_size=10_000))
    with pytest.raises(DatasetError, match="10000"):
        session.runner(variant)


def test_unknown_calibration_is_rejected_by_the_recipe(session: Bench) -> None:
    source = session.variants[0].source
    assert isinstance(source, TrainRecipe)
    with pytest.raises(ValueError, match="calibration"):
        NcnnInt8Recipe(model=ncnn_recipe(_variant(session)), data=source.data, calibration="kl", calib_size=8)


def test_a_model_that_fails_to_load_is_a_harness_error(tmp_path: Path) -> None:
    param = tmp_path / "model.ncnn.param"
    param.write_text("not an ncnn param file\n")
    companion_bin(param).write_bytes(b"")
    with pytest.raises(HarnessError, match="failed to load"):
        NcnnRunner(param, "0" * 64, "fp32", 1)


@pytest.mark.parametrize(
    ("precision", "quant", "device", "reason"),
    [
        ("fp32", None, "cuda:0", "CPU only"),
        ("bf16", None, "cpu", "no bf16 path"),
        ("int8", QuantSpec(), "cpu", "symmetric signed (s8s8)"),
        ("int8", dataclasses.replace(S8, method="dynamic"), "cpu", "static only"),
        ("int8", dataclasses.replace(S8, format="qoperator"), "cpu", "ONNX Runtime graph format"),
        ("int8", dataclasses.replace(S8, max_drop=0.01), "cpu", "NNCF"),
        ("int8", dataclasses.replace(S8, ops="conv"), "cpu", "ncnn2int8 quantizes its own operator set"),
        ("int8", dataclasses.replace(S8, overflow_fix="enable"), "cpu", "ncnn2int8 has none"),
    ],
)
def test_unsupported_combinations_have_reasons(
    session: Bench, precision: str, quant: QuantSpec | None, device: str, reason: str
) -> None:
    variant = _variant(session, precision, quant)
    assert reason in (NcnnBackend().unsupported(variant, device) or "")
    with pytest.raises(BackendUnavailable, match=reason.replace("(", r"\(").replace(")", r"\)")):
        NcnnBackend().load(LoadRequest(variant, 1, dataclasses.replace(session.ctx, device=device)))


def test_int8_of_a_users_weights_needs_a_dataset(session: Bench) -> None:
    variant = dataclasses.replace(
        _variant(session, "int8", S8), source=WeightsRecipe(sha256="0" * 64, path="x.pt")
    )
    assert "dataset" in (NcnnBackend().unsupported(variant, "cpu") or "")


def test_missing_ncnn_is_a_reason(session: Bench, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ncnn", None)
    assert "ncnn is not installed" in (NcnnBackend().unsupported(_variant(session), "cpu") or "")


def _channels(layer: Layer) -> int:
    return layer.get(0) if layer.type == "Convolution" else layer.get(7, 1)
