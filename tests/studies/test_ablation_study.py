"""Ablation plan: seven rows per model, each the right variant of the matrix or a reason; TTA support."""

from __future__ import annotations

import dataclasses
import logging
import types
from pathlib import Path

import pytest

from harness.bench import Bench
from harness.config import HarnessConfig, load_config
from harness.config.ablation import ROWS
from harness.recipes import DistillRecipe, TrainRecipe, WeightsRecipe
from harness.studies.ablation import AblationRow, plan, resolve_combined, tta_unsupported

TWO_MODELS = (
    '[[models]]\nname = "yolo11n"\ncfg = "yolo11n.yaml"\n[[models]]\nname = "yolo11s"\ncfg = "yolo11s.yaml"\n'
)


def _config(root: Path, body: str = "", profile: str = "default") -> HarnessConfig:
    path = root / "harness.toml"
    path.write_text(body)
    return load_config(root, path=path, profile=profile)


def _plan(config: HarnessConfig, model: str = "yolo11n") -> dict[str, AblationRow]:
    """The plan of ``model`` by row name (a bench builds nothing until something is measured)."""
    rows = plan(Bench.from_config(config), model)
    assert [r.name for r in rows] == list(ROWS)
    return {r.name: r for r in rows}


@pytest.fixture(scope="module")
def default_rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, AblationRow]:
    return _plan(_config(tmp_path_factory.mktemp("default")))


def test_baseline_is_the_reference_on_the_ablation_backend(default_rows: dict[str, AblationRow]) -> None:
    base = default_rows["Baseline"]
    assert base.variant is not None and base.reason == "" and not base.tta
    assert base.variant == base.baseline
    assert (base.variant.backend, base.variant.precision) == ("onnxruntime", "fp32")
    assert base.variant.prune is None and base.variant.distill is None and base.variant.quant is None
    assert base.variant.reference().is_reference and base.components == "FP32 reference"
    assert {r.baseline for r in default_rows.values() if not r.tta} == {base.variant}


def test_kd_is_missing_in_the_default_profile(default_rows: dict[str, AblationRow]) -> None:
    """The default profile distils only the pruned student: +KD says so and points to All combined."""
    kd = default_rows["+KD"]
    assert kd.variant is None and "[distill]" in kd.reason and "All combined" in kd.reason


def test_int8_is_the_unpruned_onnxruntime_int8(default_rows: dict[str, AblationRow]) -> None:
    row = default_rows["+INT8"]
    assert row.variant is not None and row.reason == ""
    assert (row.variant.precision, row.variant.backend) == ("int8", "onnxruntime")
    assert row.variant.prune is None and row.variant.distill is None
    assert row.variant.quant is not None and row.components == row.variant.quant.slug


def test_multi_scale_retrains_the_last_stage(default_rows: dict[str, AblationRow]) -> None:
    """Same recipe as the reference's (epochs, init, seed, data) but for ``multi_scale`` in hyp."""
    row, base = default_rows["+Multi-scale training"], default_rows["Baseline"]
    assert row.variant is not None and row.reason == ""
    source, reference = row.variant.source, base.variant.source  # type: ignore[union-attr]
    assert isinstance(source, TrainRecipe) and isinstance(reference, TrainRecipe)
    assert ("multi_scale", 0.5) in source.hyp
    assert dataclasses.replace(source, hyp=reference.hyp) == reference
    assert dict(source.hyp) == {**dict(reference.hyp), "multi_scale": 0.5}
    assert source.key() != reference.key()  # a separate training run in the cache
    assert (row.variant.backend, row.variant.precision) == ("onnxruntime", "fp32")
    assert f"last {source.epochs} epochs" in row.components


def test_tta_is_the_torch_reference(default_rows: dict[str, AblationRow]) -> None:
    row = default_rows["+TTA"]
    assert row.tta and row.variant is not None and row.variant.is_reference
    assert row.baseline == row.variant and row.baseline.backend == "torch"
    assert "augment=True" in row.components
    assert not any(r.tta for name, r in default_rows.items() if name != "+TTA")


def test_pruning_is_pruned_fp32_on_onnxruntime(default_rows: dict[str, AblationRow]) -> None:
    row = default_rows["+Pruning"]
    assert row.variant is not None and row.variant.prune is not None and row.variant.distill is None
    assert row.variant.prune.method == "structured"
    assert (row.variant.backend, row.variant.precision, row.variant.quant) == ("onnxruntime", "fp32", None)
    assert row.components == row.variant.prune.slug


def test_all_combined_is_the_pruned_kd_student_at_int8(default_rows: dict[str, AblationRow]) -> None:
    row, int8 = default_rows["All combined"], default_rows["+INT8"].variant
    assert row.variant is not None and int8 is not None
    assert row.variant.prune is not None and row.variant.distill is not None
    assert (row.variant.precision, row.variant.backend, row.variant.quant) == (
        "int8",
        "onnxruntime",
        int8.quant,
    )
    assert row.components == "KD + pruning + INT8"
    assert "multi-scale" in row.reason and "TTA" in row.reason
    assert sorted(v.backend for v in row.alternatives) == ["ncnn", "onnxruntime", "openvino"]
    assert all(v.precision == "int8" and v.prune is None for v in row.alternatives)


def test_all_combined_moves_to_the_fastest_backend_that_holds(tmp_path: Path, shared_cache: Path) -> None:
    body = (
        f'cache_dir = "{shared_cache}"\n[matrix]\nprune = [0.0, 0.3]\nprecision = ["fp32", "int8"]\n'
        'backend = ["torch", "onnxruntime", "openvino"]\nquant = [{calib_size = 8}]\n'
        "[pruning]\nfinetune_epochs = 0\n[budgets]\nmax_map_drop = 1.0\n[budgets.pruned]\nmax_map_drop = 1.0\n"
    )
    bench = Bench.from_config(_config(tmp_path, body, profile="quick"))
    row = {r.name: r for r in plan(bench, "yolo11n")}["All combined"]
    resolved = resolve_combined(bench, row)
    assert resolved.variant is not None and resolved.variant.prune is not None
    ordered = resolved.reason.split("unpruned INT8 screen: ")[1].split(")")[0].split(", ")
    fastest = ordered[0].split(" ")[0]
    assert resolved.variant.backend == fastest == resolved.baseline.backend  # every drop holds a 1.0 budget
    assert resolved.baseline.precision == "fp32" and resolved.baseline.prune is None
    assert "holds its budget" in resolved.reason and "multi-scale" in resolved.reason


def test_slugs_are_unique(default_rows: dict[str, AblationRow]) -> None:
    slugs = [r.slug for r in default_rows.values()]
    assert slugs == [
        "yolo11n-baseline", "yolo11n-kd", "yolo11n-int8", "yolo11n-multiscale", "yolo11n-tta",
        "yolo11n-pruning", "yolo11n-all",
    ]  # fmt: skip


def test_multi_scale_zero_turns_the_row_off(tmp_path: Path) -> None:
    row = _plan(_config(tmp_path, "[ablation]\nmulti_scale = 0\n"))["+Multi-scale training"]
    assert row.variant is None and "multi_scale" in row.reason and row.components == ""


def test_multi_scale_value_reaches_the_recipe(tmp_path: Path) -> None:
    row = _plan(_config(tmp_path, "[ablation]\nmulti_scale = 0.25\n"))["+Multi-scale training"]
    assert row.variant is not None and ("multi_scale", 0.25) in row.variant.source.hyp  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def user_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real yolo11n checkpoint whose stored training arguments the fine-tunes must reuse."""
    from user_checkpoints import save_checkpoint

    path = tmp_path_factory.mktemp("user") / "w.pt"
    save_checkpoint(path)
    return path


def _weights_rows(root: Path, weights: Path, extra: str = "") -> dict[str, AblationRow]:
    body = f'[[models]]\nname = "mine"\nweights = "{weights}"\n{extra}'
    return _plan(_config(root, body), "mine")


def test_multi_scale_fine_tunes_user_weights(tmp_path: Path, user_weights: Path) -> None:
    """A user's .pt: the row fine-tunes it ``train.epochs`` epochs with its checkpoint's arguments
    and ``multi_scale``, and is compared with the same fine-tune without ``multi_scale`` (its own
    baseline), not with the untrained .pt."""
    from harness.builders.weights import checkpoint_train_args
    from harness.config.trainargs import checkpoint_hyp

    rows = _weights_rows(tmp_path, user_weights)
    row, base = rows["+Multi-scale training"], rows["Baseline"]
    assert row.variant is not None and base.variant is not None and row.reason == ""
    weights = base.variant.source
    assert isinstance(weights, WeightsRecipe)
    source, compared = row.variant.source, row.baseline.source
    assert isinstance(source, TrainRecipe) and isinstance(compared, TrainRecipe)
    model = _config(tmp_path, f'[[models]]\nname = "mine"\nweights = "{user_weights}"\n').model("mine")
    assert (source.init, source.epochs, source.imgsz, source.batch) == (
        weights, model.epochs, model.train_imgsz, model.batch,
    )  # fmt: skip
    stored = dict(checkpoint_hyp(checkpoint_train_args(user_weights)))
    assert dict(source.hyp) == {**stored, "multi_scale": 0.5}
    assert dict(compared.hyp) == stored and stored["multi_scale"] == 0.0
    assert dataclasses.replace(source, hyp=compared.hyp) == compared  # only multi_scale differs
    assert source.key() != compared.key()
    assert row.baseline != base.variant and compared.init == weights
    assert {(r.backend, r.precision) for r in (row.variant, row.baseline)} == {("onnxruntime", "fp32")}
    assert "fine-tune of the .pt" in row.components and "without it" in row.components
    others = [r for name, r in rows.items() if name not in ("+Multi-scale training", "+TTA")]
    assert {r.baseline for r in others} == {base.variant}  # every other row still against Baseline
    assert rows["+TTA"].variant is not None and rows["+Pruning"].variant is not None


def test_multi_scale_baseline_of_user_weights_is_the_kd_control(tmp_path: Path, user_weights: Path) -> None:
    """With KD epochs equal to the model's, the row's baseline fine-tune is the unpruned student's
    fair control: one training in the cache serves both."""
    from harness.matrix import control_recipe

    extra = f'[distill]\nstudents = [{{model = "mine", teachers = ["{user_weights}"]}}]\nepochs = 3\n'
    config = _config(tmp_path, f'[[models]]\nname = "mine"\nweights = "{user_weights}"\n{extra}')
    assert config.model("mine").epochs == config.distill.epochs == 3
    row = _plan(config, "mine")["+Multi-scale training"]
    kd = _plan(config, "mine")["+KD"].variant
    assert kd is not None and isinstance(kd.source, DistillRecipe)
    control = control_recipe(kd.source.student, kd.source.data, config.model("mine"), config)
    assert row.baseline.source == control


def test_multi_scale_row_baseline_drops_the_configs_own_multi_scale(
    tmp_path: Path, user_weights: Path
) -> None:
    rows = _weights_rows(
        tmp_path, user_weights, "train = {multi_scale = 0.25}\n[ablation]\nmulti_scale = 0.5\n"
    )
    row = rows["+Multi-scale training"]
    assert row.variant is not None
    assert dict(row.variant.source.hyp)["multi_scale"] == 0.5  # type: ignore[union-attr]
    assert dict(row.baseline.source.hyp)["multi_scale"] == 0.0  # type: ignore[union-attr]


def test_without_int8_int8_and_all_combined_are_missing(tmp_path: Path) -> None:
    rows = _plan(_config(tmp_path, '[matrix]\nprecision = ["fp32", "fp16"]\n'))
    assert rows["+INT8"].variant is None and "INT8" in rows["+INT8"].reason
    assert rows["All combined"].variant is None and "INT8" in rows["All combined"].reason
    assert rows["+Pruning"].variant is not None and rows["Baseline"].variant is not None


def test_other_backend_moves_every_row_but_tta(tmp_path: Path) -> None:
    rows = _plan(_config(tmp_path, '[ablation]\nbackend = "openvino"\n'))
    for name, row in rows.items():
        if name == "+KD":  # no unpruned student in the default profile
            assert row.variant is None
            continue
        assert row.variant is not None, name
        assert row.variant.backend == ("torch" if name == "+TTA" else "openvino"), name


def test_unpruned_student_fills_kd(tmp_path: Path) -> None:
    """An unpruned distilled student is the +KD row, in FP32 on the ablation backend; without a
    pruned KD student All combined stacks pruning and INT8 only."""
    body = TWO_MODELS + '[distill]\nstudents = [{model = "yolo11n", teachers = ["yolo11s"]}]\n'
    rows = _plan(_config(tmp_path, body))
    kd = rows["+KD"]
    assert kd.variant is not None and kd.reason == "" and kd.variant.prune is None
    assert kd.variant.distill == kd.components == "kd-response-yolo11s"
    assert (kd.variant.backend, kd.variant.precision) == ("onnxruntime", "fp32")
    combined = rows["All combined"]
    assert combined.variant is not None and combined.variant.distill is None
    assert combined.components == "pruning + INT8"


def test_quick_profile_has_only_baseline_multiscale_and_tta(tmp_path: Path) -> None:
    rows = _plan(_config(tmp_path, profile="quick"))
    present = {name for name, row in rows.items() if row.variant is not None}
    assert present == {"Baseline", "+Multi-scale training", "+TTA"}
    assert rows["+KD"].reason == "no unpruned student in [distill] for this model"
    assert all(row.reason for name, row in rows.items() if name not in present)


# --- TTA support --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nets() -> dict[str, object]:
    from ultralytics.nn.tasks import DetectionModel

    logging.getLogger("ultralytics").setLevel(logging.ERROR)
    return {name: DetectionModel(f"{name}.yaml", nc=3, verbose=False) for name in ("yolo11n", "yolo26n")}


def test_tta_supported_on_yolo11n(nets: dict[str, object]) -> None:
    assert tta_unsupported(nets["yolo11n"]) == ""


def test_tta_unsupported_on_end_to_end_yolo26n(nets: dict[str, object]) -> None:
    """yolo26n's one-to-one head, when selected (as Ultralytics does for ``nms=False``), has no TTA."""
    net = nets["yolo26n"]
    previous = net.end2end  # type: ignore[attr-defined]
    try:
        net.end2end = True  # type: ignore[attr-defined]
        assert net.end2end  # type: ignore[attr-defined]
        reason = tta_unsupported(net)
    finally:
        net.end2end = previous  # type: ignore[attr-defined]
    assert "augment=True" in reason and "end-to-end" in reason


@pytest.mark.parametrize("name", ["yolo11n", "yolo26n"])
def test_tta_rule_matches_ultralytics(nets: dict[str, object], name: str) -> None:
    """The same rule as DetectionModel._predict_augment: end-to-end or a non-Detect head falls back."""
    from ultralytics.nn.modules import Detect

    net = nets[name]
    falls_back = bool(getattr(net, "end2end", False)) or type(net.model[-1]) is not Detect  # type: ignore[attr-defined]
    assert bool(tta_unsupported(net)) == falls_back


def test_tta_unsupported_on_another_head() -> None:
    class Head:
        pass

    reason = tta_unsupported(types.SimpleNamespace(model=[object(), Head()]))
    assert "Head" in reason
