"""Recipes: stable hashes, readable slugs, unhashed local paths."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import recipes
from harness.recipes import (
    DISTILL_METHODS,
    DistillRecipe,
    DistillSpec,
    PruneRecipe,
    PruneSpec,
    QuantSpec,
    SyntheticDataRecipe,
    TrainRecipe,
    Variant,
    WeightsRecipe,
    base_source,
    prune_recipe_of,
    source_data,
    user_weights,
)

DATA = SyntheticDataRecipe(seed=0, imgsz=320, n_train=8, n_val=4, n_calib=2, generator_version=1)
TRAIN = TrainRecipe(
    cfg="yolo11n.yaml", data=DATA, epochs=1, batch=8, imgsz=320, seed=0, versions=(("torch", "2"),)
)


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


def _pruned(spec: PruneSpec, source: TrainRecipe | WeightsRecipe = TRAIN) -> PruneRecipe:
    return PruneRecipe(source=source, data=DATA, spec=spec, imgsz=320, batch=8, seed=0, versions=())


def _variant(ratio: float, precision: str = "fp32", backend: str = "torch", **kw: object) -> Variant:
    if ratio == 0.0:
        return Variant("yolo11n", TRAIN, None, precision, backend, **kw)  # type: ignore[arg-type]
    spec = PruneSpec(ratio)
    return Variant("yolo11n", _pruned(spec), spec, precision, backend, **kw)  # type: ignore[arg-type]


@given(
    prune=st.sampled_from([0.0, 0.1, 0.3, 0.55]),
    precision=st.sampled_from(["fp32", "fp16", "bf16"]),
    backend=st.sampled_from(["torch", "onnxruntime", "openvino"]),
)
def test_slug_reads_like_the_matrix(prune: float, precision: str, backend: str) -> None:
    v = _variant(prune, precision, backend)
    cell = f"p{round(prune * 100):02d}" + ("-l1" if prune else "")
    assert v.slug == f"yolo11n-{cell}-{precision}-{backend}"
    assert v.reference().slug == "yolo11n-p00-fp32-torch"
    assert v.reference().source == TRAIN
    assert v.is_reference == (prune == 0.0 and precision == "fp32" and backend == "torch")


def test_distilled_slug_names_the_method() -> None:
    recipe = _distilled(_pruned(PruneSpec(0.3)))
    v = Variant("yolo11n", recipe, PruneSpec(0.3), "fp32", "onnxruntime", distill=recipe.spec.slug)
    assert v.slug == "yolo11n-p30-l1-kd-response-reference-fp32-onnxruntime"


def test_prune_slug_names_every_knob_away_from_the_default() -> None:
    assert PruneSpec(0.3).slug == "p30-l1"
    assert PruneSpec(0.3, "taylor", "global", steps=3, round_to=None, finetune_epochs=5).slug == (
        "p30-taylor-global-it3-r1-ft5"
    )
    assert PruneSpec(0.5, method="unstructured").slug == "p50-l1-unstructured"
    assert PruneSpec(0.3, finetune_epochs=5).without_finetune() == PruneSpec(0.3)
    assert PruneSpec(0.6, "fisher", rounding="nearest").slug == "p60-fisher-r16n"
    assert PruneSpec(0.6, round_to=8, rounding="nearest", finetune_epochs=4).slug == "p60-l1-r8n-ft4"


def test_rounding_enters_the_cache_key_only_when_it_is_not_down() -> None:
    # The keys of recipes made before the option existed stay as they were.
    assert "rounding" not in PruneSpec(0.3).to_dict()
    assert PruneSpec(0.3).to_dict() == {
        "ratio": 0.3, "criterion": "l1", "strategy": "uniform", "method": "structured",
        "round_to": 16, "steps": 1, "finetune_epochs": 0,
    }  # fmt: skip
    assert PruneSpec(0.3, rounding="nearest").to_dict()["rounding"] == "nearest"
    assert PruneSpec(**PruneSpec(0.3, rounding="nearest").to_dict()) == PruneSpec(0.3, rounding="nearest")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ratio": 0.0}, r"prune\.ratio must be in \(0, 1\), got 0\.0"),
        ({"ratio": 1.0}, r"prune\.ratio must be in \(0, 1\), got 1\.0"),
        ({"ratio": -0.2}, r"prune\.ratio must be in \(0, 1\)"),
        ({"ratio": 0.3, "criterion": "l3"}, r"prune\.criterion must be one of .*'l1'.*got 'l3'"),
        ({"ratio": 0.3, "strategy": "layerwise"}, r"prune\.strategy must be one of"),
        ({"ratio": 0.3, "steps": 0}, r"prune\.steps must be >= 1"),
        ({"ratio": 0.3, "rounding": "up"}, r"prune\.rounding must be one of"),
        ({"ratio": 0.3, "strategy": "global", "rounding": "nearest"}, r"'nearest' needs .* uniform strategy"),
    ],
)
def test_bad_prune_spec_names_the_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PruneSpec(**fields)  # type: ignore[arg-type]


def test_pruned_variant_pairs_spec_and_recipe() -> None:
    spec = PruneSpec(0.3)
    with pytest.raises(ValueError, match="PruneSpec goes with the PruneRecipe"):
        Variant("yolo11n", TRAIN, spec)
    with pytest.raises(ValueError, match="PruneSpec goes with the PruneRecipe"):
        Variant("yolo11n", _pruned(spec), PruneSpec(0.5))
    v = _variant(0.3, "int8", "onnxruntime", quant=QuantSpec())
    assert v.unpruned().slug == "yolo11n-p00-int8-qdq-pc-u8s8-minmax-c100-onnxruntime"
    assert v.unpruned(precision="fp32", quant=None).slug == "yolo11n-p00-fp32-onnxruntime"


def test_pruned_source_knows_its_data_and_base() -> None:
    recipe = _pruned(PruneSpec(0.3))
    assert source_data(recipe) == DATA and source_data(TRAIN) == DATA
    assert source_data(WeightsRecipe(sha256="ab")) is None
    assert base_source(recipe) == TRAIN and base_source(TRAIN) == TRAIN
    assert _pruned(PruneSpec(0.3, finetune_epochs=1)).key() != recipe.key()
    assert _pruned(PruneSpec(0.3, criterion="lamp")).key() != recipe.key()


def test_a_chain_of_pruning_steps_leads_back_to_its_base_and_weights() -> None:
    """Adaptive pruning prunes the previous step's checkpoint: ``base_source`` (so ``unpruned()`` and
    ``reference()``) and ``user_weights`` follow the chain to the unpruned start, not one step back."""
    weights = WeightsRecipe(sha256="ab", path="/u/best.pt")
    first = _pruned(PruneSpec(0.2), weights)
    second = dataclasses.replace(first, spec=PruneSpec(0.3), source=first)
    assert base_source(second) == weights and user_weights(second) == weights
    variant = Variant("yolo11n", second, PruneSpec(0.3))
    assert variant.unpruned().source == weights and variant.reference().prune is None


def test_int8_slug_says_format_granularity_and_calibration() -> None:
    static = Variant("yolo11n", TRAIN, None, "int8", "onnxruntime", quant=QuantSpec(calibration="entropy"))
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
        Variant("m", TRAIN, None, "int8", "onnxruntime")
    with pytest.raises(ValueError, match="QuantSpec goes with precision int8"):
        Variant("m", TRAIN, None, "fp32", "onnxruntime", quant=QuantSpec())
    with pytest.raises(ValueError, match="quant.calibration must be one of"):
        QuantSpec(calibration="kl")


# --- distillation ---------------------------------------------------------------------

SPEC = DistillSpec("response", "reference", 1.0, 2.0, 6)


def _distilled(student: TrainRecipe | WeightsRecipe | PruneRecipe, spec: DistillSpec = SPEC) -> DistillRecipe:
    return DistillRecipe(
        student=student, teacher=TRAIN, data=DATA, spec=spec, imgsz=320, batch=8, seed=0, versions=()
    )


def test_distill_spec_slug_and_methods() -> None:
    """The slug names the method, then the teacher's label."""
    assert DISTILL_METHODS == (
        "response",
        "feature",
        "cwd",
        "attention",
        "relational",
        "multi",
        "progressive",
    )
    assert SPEC.slug == "kd-response-reference"
    assert DistillSpec("cwd", "yolo11s", 1.0, 4.0, 3).slug == "kd-cwd-yolo11s"
    assert SPEC.to_dict() == {"method": "response", "teacher": "reference", "weight": 1.0, "temperature": 2.0,
                              "epochs": 6}  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"method": "logit"},
            r"distill\.method must be one of \('response', 'feature', 'cwd', .*\), got 'logit",
        ),
        ({"weight": 0.0}, r"weight"),
        ({"weight": -1.0}, r"weight"),
        ({"temperature": 0.0}, r"temperature"),
        ({"temperature": -2.0}, r"temperature"),
        ({"epochs": 0}, r"epochs"),
    ],
)
def test_bad_distill_spec_names_the_field(fields: dict[str, object], message: str) -> None:
    """An unknown method or a non-positive weight, temperature or epoch count is a ValueError."""
    with pytest.raises(ValueError, match=message):
        DistillSpec(**(SPEC.to_dict() | fields))


def test_distill_spec_fields_change_the_hash() -> None:
    """Method, teacher label, weight, temperature and epochs all key the distilled artifact."""
    base = _distilled(TRAIN).key()
    for change in ({"method": "cwd"}, {"teacher": "yolo11s"}, {"weight": 0.5}, {"temperature": 3.0},
                   {"epochs": 5}):  # fmt: skip
        assert _distilled(TRAIN, dataclasses.replace(SPEC, **change)).key() != base, change
    assert _distilled(TRAIN, DistillSpec(**SPEC.to_dict())).key() == base
    assert dataclasses.replace(_distilled(TRAIN), teacher=WeightsRecipe(sha256="ab")).key() != base


def test_distilled_variant_pairs_slug_and_recipe() -> None:
    """``distill`` is the DistillSpec's slug exactly when the source is a DistillRecipe."""
    recipe = _distilled(TRAIN)
    assert Variant("yolo11n", recipe, distill="kd-response-reference").slug == (
        "yolo11n-p00-kd-response-reference-fp32-torch"
    )
    with pytest.raises(ValueError, match="distill slug goes with the DistillRecipe"):
        Variant("yolo11n", recipe)
    with pytest.raises(ValueError, match="distill slug goes with the DistillRecipe"):
        Variant("yolo11n", recipe, distill="kd-cwd-reference")
    with pytest.raises(ValueError, match="distill slug goes with the DistillRecipe"):
        Variant("yolo11n", TRAIN, distill="kd-response-reference")


def test_distilled_pruned_variant_carries_the_student_pruning() -> None:
    """A pruned student's variant needs the PruneSpec of the student's PruneRecipe."""
    spec = PruneSpec(0.3)
    recipe = _distilled(_pruned(spec))
    slug = recipe.spec.slug
    variant = Variant("yolo11n", recipe, spec, distill=slug)
    assert variant.slug == "yolo11n-p30-l1-kd-response-reference-fp32-torch"
    with pytest.raises(ValueError, match="PruneSpec goes with the PruneRecipe"):
        Variant("yolo11n", recipe, None, distill=slug)
    with pytest.raises(ValueError, match="PruneSpec goes with the PruneRecipe"):
        Variant("yolo11n", recipe, PruneSpec(0.3, finetune_epochs=6), distill=slug)
    with pytest.raises(ValueError, match="PruneSpec goes with the PruneRecipe"):
        Variant("yolo11n", _distilled(TRAIN), spec, distill=slug)


def test_distilled_source_unwraps_to_its_student() -> None:
    """``base_source`` and ``prune_recipe_of`` see through a DistillRecipe to the student."""
    pruned = _pruned(PruneSpec(0.3))
    assert base_source(_distilled(pruned)) == TRAIN and prune_recipe_of(_distilled(pruned)) == pruned
    assert base_source(_distilled(TRAIN)) == TRAIN and prune_recipe_of(_distilled(TRAIN)) is None
    weights = WeightsRecipe(sha256="ab")
    assert base_source(_distilled(_pruned(PruneSpec(0.3), weights))) == weights
    assert prune_recipe_of(pruned) == pruned and prune_recipe_of(TRAIN) is None
    assert source_data(_distilled(pruned)) == DATA


def test_reference_of_a_distilled_variant_is_undistilled_and_unpruned() -> None:
    """The reference drops the teacher and the pruning: the unpruned torch FP32 variant."""
    recipe = _distilled(_pruned(PruneSpec(0.3)))
    variant = Variant("yolo11n", recipe, PruneSpec(0.3), "fp32", "onnxruntime", distill=recipe.spec.slug)
    reference = variant.reference()
    assert reference == Variant("yolo11n", TRAIN, None, "fp32", "torch")
    assert reference.slug == "yolo11n-p00-fp32-torch" and reference.is_reference
    assert not variant.is_reference
    assert variant.unpruned().slug == "yolo11n-p00-fp32-onnxruntime"
    unpruned = Variant("yolo11n", _distilled(TRAIN), distill=SPEC.slug)
    assert not unpruned.is_reference and unpruned.reference() == Variant("yolo11n", TRAIN)
    assert variant.to_dict()["distill"] == "kd-response-reference"
    assert variant.to_dict()["source"]["kind"] == "distill"


def test_user_weights_follow_pruning_distillation_and_fine_tunes() -> None:
    """The weights file a checkpoint descends from, through every kind of derived recipe."""
    weights = WeightsRecipe(sha256="ab", path="/u/best.pt")
    tuned = dataclasses.replace(TRAIN, init=weights)
    for derived in (weights, _pruned(PruneSpec(0.3), weights), _distilled(_pruned(PruneSpec(0.3), weights)), tuned,
                    _distilled(tuned)):  # fmt: skip
        assert user_weights(derived) == weights
    assert user_weights(TRAIN) is None and user_weights(_distilled(_pruned(PruneSpec(0.3)))) is None


def test_new_recipe_options_keep_the_cache_keys_of_recipes_without_them() -> None:
    """end2end on exports is left out of the hash while None (every existing export keeps its key)."""
    import dataclasses

    from harness.recipes import ExportRecipe

    export = ExportRecipe(source=TRAIN, format="onnx", imgsz=320, batch=1, half=False, versions=())
    assert "end2end" not in export.to_dict(for_hash=True)
    assert dataclasses.replace(export, end2end=True).key() != export.key()


@pytest.mark.parametrize(("saturates", "resolved"), [(True, "enable"), (False, "first_layer_only")])
def test_overflow_fix_auto_is_decided_by_this_cpu_and_keyed_resolved(
    saturates: bool, resolved: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recipes, "int8_saturates", lambda: saturates)
    auto = QuantSpec()
    assert auto.resolved_overflow_fix == resolved
    assert auto.to_dict()["overflow_fix"] == resolved  # what the cache key and results.json hold
    assert auto.to_dict() == QuantSpec(overflow_fix=resolved).to_dict()
    assert auto.slug == "qdq-pc-u8s8-minmax-c100"  # ids stay the same on every machine
    other = "first_layer_only" if saturates else "enable"
    assert QuantSpec(overflow_fix=other).to_dict() != auto.to_dict()


def test_explicit_overflow_fix_is_in_the_slug_and_checked() -> None:
    assert QuantSpec(overflow_fix="enable").slug == "qdq-pc-u8s8-minmax-c100-ovf-enable"
    assert QuantSpec(method="dynamic", overflow_fix="disable").slug == "dyn-pc-s8-ovf-disable"
    assert QuantSpec(overflow_fix="disable").resolved_overflow_fix == "disable"
    with pytest.raises(ValueError, match=r"quant\.overflow_fix must be one of"):
        QuantSpec(overflow_fix="on")
