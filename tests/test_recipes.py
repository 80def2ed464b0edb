"""Recipes: stable hashes, readable slugs, unhashed local paths."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.recipes import QuantSpec, SyntheticDataRecipe, TrainRecipe, Variant, WeightsRecipe

DATA = SyntheticDataRecipe(seed=0, imgsz=320, n_train=8, n_val=4, n_calib=2, generator_version=1)
TRAIN = TrainRecipe(cfg="yolo11n.yaml", data=DATA, epochs=1, batch=8, imgsz=320, seed=0, versions=(("torch", "2"),))


def test_hash_is_stable_and_pinned() -> None:
    # Pinned: a silent change of the canonical form would orphan every user's cache.
    assert DATA.canonical_json() == (
        '{"generator_version":1,"imgsz":320,"kind":"synthetic-data","n_calib":2,'
        '"n_train":8,"n_val":4,"schema":1,"seed":0}'
    )
    assert DATA.key() == SyntheticDataRecipe(**dataclasses.asdict(DATA)).key()


def test_every_field_changes_the_hash() -> None:
    for field in ("epochs", "batch", "imgsz", "seed"):
        changed = dataclasses.replace(TRAIN, **{field: getattr(TRAIN, field) + 1})
        assert changed.key() != TRAIN.key(), field
    assert dataclasses.replace(TRAIN, data=dataclasses.replace(DATA, seed=1)).key() != TRAIN.key()
    assert dataclasses.replace(TRAIN, versions=(("torch", "3"),)).key() != TRAIN.key()


def test_local_path_is_not_hashed_but_content_is() -> None:
    a = WeightsRecipe(sha256="ab", path="/home/a/best.pt")
    b = WeightsRecipe(sha256="ab", path="/srv/b/best.pt")
    assert a.key() == b.key()
    assert WeightsRecipe(sha256="cd", path=a.path).key() != a.key()


@given(
    prune=st.sampled_from([0.0, 0.1, 0.3, 0.55]),
    precision=st.sampled_from(["fp32", "fp16", "bf16"]),
    backend=st.sampled_from(["torch", "onnxruntime", "openvino"]),
)
def test_slug_reads_like_the_matrix(prune: float, precision: str, backend: str) -> None:
    v = Variant("yolo11n", TRAIN, prune, precision, backend)
    assert v.slug == f"yolo11n-p{round(prune * 100):02d}-{precision}-{backend}"
    assert v.reference().slug == "yolo11n-p00-fp32-torch"
    assert v.is_reference == (prune == 0.0 and precision == "fp32" and backend == "torch")


def test_distilled_slug_names_the_method() -> None:
    v = Variant("yolo11n", TRAIN, 0.3, "fp32", "onnxruntime", distill="response")
    assert v.slug == "yolo11n-p30-kd-response-fp32-onnxruntime"


def test_int8_slug_says_format_granularity_and_calibration() -> None:
    static = Variant("yolo11n", TRAIN, 0.0, "int8", "onnxruntime", quant=QuantSpec(calibration="entropy"))
    assert static.slug == "yolo11n-p00-int8-qdq-pc-u8s8-entropy-c100-onnxruntime"
    per_tensor = QuantSpec(format="qoperator", per_channel=False, activations="s8", calib_size=500)
    assert per_tensor.slug == "qoperator-pt-s8s8-minmax-c500"
    assert QuantSpec(method="dynamic").slug == "dyn-pc-s8"
    assert QuantSpec(ops="conv").slug == "qdq-pc-u8s8-minmax-c100-conv"
    assert QuantSpec(max_drop=0.01, ops="conv").slug == "qdq-pc-u8s8-minmax-c100-ac010-conv"
    assert QuantSpec(method="dynamic", ops="conv").slug == "dyn-pc-s8-conv"
    with pytest.raises(ValueError, match=r"quant\.ops must be one of \('all', 'conv'\)"):
        QuantSpec(ops="matmul")
    assert static.reference().slug == "yolo11n-p00-fp32-torch"


def test_quant_spec_goes_with_int8_only() -> None:
    with pytest.raises(ValueError, match="QuantSpec goes with precision int8"):
        Variant("m", TRAIN, 0.0, "int8", "onnxruntime")
    with pytest.raises(ValueError, match="QuantSpec goes with precision int8"):
        Variant("m", TRAIN, 0.0, "fp32", "onnxruntime", quant=QuantSpec())
    with pytest.raises(ValueError, match="quant.calibration must be one of"):
        QuantSpec(calibration="kl")
