"""Matrix expansion: every cell once, the reference first, readable ids, unbuilt axes rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import HarnessConfig, load_config
from harness.config.distillation import StudentChoice
from harness.errors import ConfigError
from harness.matrix import (
    build_variants,
    control_recipe,
    data_recipe,
    distill_recipe,
    prune_recipe,
    prune_specs,
    student_spec,
    student_start,
    teacher_label,
    teacher_source,
    teachers_for,
)
from harness.recipes import (
    DistillRecipe,
    DistillSpec,
    PruneRecipe,
    PruneSpec,
    SyntheticDataRecipe,
    TrainRecipe,
    Variant,
    WeightsRecipe,
)


def _config(tmp_path: Path, text: str) -> HarnessConfig:
    (tmp_path / "harness.toml").write_text(text)
    return load_config(tmp_path)


def test_quick_profile_matrix(tmp_path: Path) -> None:
    config = _config(tmp_path, 'profile = "quick"\n')
    variants = build_variants(config)
    assert [v.slug for v in variants] == ["yolo11n-p00-fp32-torch", "yolo11n-p00-fp32-onnxruntime"]
    assert variants[0].is_reference
    assert isinstance(variants[0].source, TrainRecipe)
    assert isinstance(data_recipe(config), SyntheticDataRecipe)


def test_full_profile_crosses_every_axis(tmp_path: Path) -> None:
    config = _config(tmp_path, 'profile = "full"\n')
    everything = build_variants(config)
    variants = [v for v in everything if v.distill is None]  # distilled students: see the tests below
    m = config.matrix
    per_backend = len(m.precision) - 1 + len(m.quant)  # int8 expands over the quant configurations
    unpruned = len(m.backend) * per_backend
    cases = len(prune_specs(m, config.pruning))  # ratios > 0 x criteria x strategies, + unstructured
    assert cases == 3 * 6 * 2 + 3
    pruned = cases * len(config.pruning.backends or ()) * len(config.pruning.precisions or ())
    assert len(variants) == len(config.models) * (unpruned + pruned)
    assert len({v.slug for v in variants}) == len(variants)
    firsts = [variants[i] for i in range(0, len(variants), len(variants) // len(config.models))]
    assert all(v.is_reference for v in firsts)
    distilled = [v for v in everything if v.distill is not None]
    assert len({v.slug for v in everything}) == len(everything)
    # every model (yolo11n, yolov8n, yolo26n, yolo11s) p30 from its reference; yolo11n p30 and p00
    # also from yolo11s, p30 from both at once (multi-teacher), and every pruned student through a
    # teacher assistant (progressive: the four p30 students from their references, yolo11n's from yolo11s)
    single = len(config.distill.methods) - 2
    assert len(distilled) == ((4 + 1 + 1) * single + 1 + 5) * len(config.distill.backends)


def test_user_weights_are_hashed_by_content(tmp_path: Path) -> None:
    (tmp_path / "w.pt").write_bytes(b"weights")
    config = _config(
        tmp_path,
        'profile = "quick"\n[[models]]\nname = "det-n"\nweights = "w.pt"\n',
    )
    (variant, *_) = build_variants(config)
    assert variant.slug == "det-n-p00-fp32-torch"
    assert isinstance(variant.source, WeightsRecipe)
    assert variant.source.path == str((tmp_path / "w.pt").resolve())


def test_pruned_variants_cross_ratio_criterion_and_strategy(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        'profile = "quick"\n[matrix]\nprune = [0.0, 0.3, 0.5]\nprecision = ["fp32"]\nbackend = ["torch"]\n'
        'prune_criterion = ["l1", "taylor"]\nprune_strategy = ["uniform", "global"]\n'
        'prune_method = ["structured", "unstructured"]\n[pruning]\nfinetune_epochs = 2\nround_to = 8\n',
    )
    slugs = [v.slug for v in build_variants(config)]
    assert slugs[0] == "yolo11n-p00-fp32-torch"
    assert "yolo11n-p30-taylor-global-r8-ft2-fp32-torch" in slugs
    assert "yolo11n-p50-l1-unstructured-fp32-torch" in slugs  # not fine-tuned, no rounding
    assert len(slugs) == 1 + 2 * 2 * 2 + 2 and len(set(slugs)) == len(slugs)
    pruned = [v for v in build_variants(config) if v.prune is not None]
    assert all(isinstance(v.source, PruneRecipe) and v.source.spec == v.prune for v in pruned)
    assert all(v.reference().slug == "yolo11n-p00-fp32-torch" for v in pruned)
    taylor = next(v for v in pruned if v.prune and v.prune.criterion == "taylor")
    assert isinstance(taylor.source, PruneRecipe) and taylor.source.taylor_batches == 8


def test_nearest_rounding_reaches_the_uniform_variants_only(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        'profile = "quick"\n[matrix]\nprune = [0.0, 0.6]\nprecision = ["fp32"]\nbackend = ["torch"]\n'
        'prune_strategy = ["uniform", "global"]\n[pruning]\nrounding = "nearest"\n',
    )
    specs = {v.prune.strategy: v.prune for v in build_variants(config) if v.prune is not None}
    assert specs["uniform"].rounding == "nearest" and specs["uniform"].slug == "p60-l1-r16n"
    assert specs["global"].rounding == "down" and specs["global"].slug == "p60-l1-global"


def test_pruned_variants_only_on_the_configured_backends(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        'profile = "quick"\n[matrix]\nprune = [0.0, 0.3]\nprecision = ["fp32", "fp16"]\n'
        'backend = ["torch", "onnxruntime", "openvino"]\n'
        '[pruning]\nbackends = ["onnxruntime"]\nprecisions = ["fp32"]\n',
    )
    pruned = [v.slug for v in build_variants(config) if v.prune is not None]
    assert pruned == ["yolo11n-p30-l1-fp32-onnxruntime"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[matrix]\nprune = [0.0, 1.0]", r"matrix\.prune\[1\] .*expected a number in \[0\.0, 1\.0\)"),
        ("[matrix]\nprune = [0.3]\nprune_criterion = ['l1', 'hessian']", r"prune_criterion\[1\].*'hessian'"),
        (
            "[matrix]\nprune = [0.3]\nprune_strategy = ['local']",
            r"prune_strategy\[0\].*unknown value 'local'",
        ),
        ("[pruning]\nround_to = 0", r"pruning\.round_to .*expected an integer >= 1"),
        (
            "[pruning]\nrounding = 'up'",
            r"pruning\.rounding .*unknown value 'up' \(expected one of: down, nearest\)",
        ),
        ("[pruning]\nbackends = ['tensorflow']", r"pruning\.backends\[0\].*unknown value 'tensorflow'"),
        (
            "[pruning]\nbars = [{ratio = 1.2}]",
            r"pruning\.bars\[0\]\.ratio .*expected a number in \[0\.0, 1\.0\)",
        ),
        ("[pruning]\nbars = [{min_speedup = 1.3}]", r"pruning\.bars\[0\]\.ratio .*expected a pruning ratio"),
        ("[pruning]\nbars = [{ratio = 0.3, speedup = 1.3}]", r"unknown key 'pruning\.bars\[0\]\.speedup'"),
        ("[pruning]\nfine_tune = 3", r"unknown key 'pruning\.fine_tune'"),
    ],
)
def test_bad_pruning_config_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _config(tmp_path, 'profile = "quick"\n' + text.replace("'", '"') + "\n")


def test_prune_bars_apply_from_their_ratio_up(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        'profile = "quick"\n[pruning]\n'
        "bars = [{ratio = 0.3, min_speedup = 1.3}, {ratio = 0.5, min_speedup = 1.6}]\n",
    )
    bars = config.pruning
    assert bars.bar_for(0.2) is None
    assert bars.bar_for(0.3).min_speedup == 1.3  # type: ignore[union-attr]
    assert bars.bar_for(0.45).min_speedup == 1.3  # type: ignore[union-attr]
    assert bars.bar_for(0.7).min_speedup == 1.6  # type: ignore[union-attr]


def test_low_resolution_first_stage_chains_recipes(tmp_path: Path) -> None:
    config = _config(tmp_path, 'profile = "quick"\nimgsz = 320\n[train]\nepochs = 2\npre_epochs = 5\n')
    source = build_variants(config)[0].source
    assert isinstance(source, TrainRecipe) and isinstance(source.init, TrainRecipe)
    assert (source.imgsz, source.epochs) == (320, 2)
    assert (source.init.imgsz, source.init.epochs, source.init.init) == (160, 5, None)
    changed = _config(tmp_path, 'profile = "quick"\nimgsz = 320\n[train]\nepochs = 2\npre_epochs = 6\n')
    assert build_variants(changed)[0].source.key() != source.key()


def test_int8_cells_expand_over_quant_configs(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        'profile = "quick"\n[matrix]\nprune = [0.0]\nprecision = ["fp32", "int8"]\nbackend = ["onnxruntime"]\n'
        '[[matrix.quant]]\ncalibration = "entropy"\n'
        '[[matrix.quant]]\nformat = "qoperator"\nper_channel = false\ncalib_size = 8\n',
    )
    slugs = [v.slug for v in build_variants(config)]
    assert slugs == [
        "yolo11n-p00-fp32-onnxruntime",
        "yolo11n-p00-int8-qdq-pc-u8s8-entropy-c100-onnxruntime",
        "yolo11n-p00-int8-qoperator-pt-u8s8-minmax-c8-onnxruntime",
    ]


def test_bad_quant_table_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"calibration.*unknown value 'kl'"):
        _config(tmp_path, 'profile = "quick"\n[matrix]\nprune = [0.0]\nprecision = ["int8"]\n'
                'backend = ["onnxruntime"]\n[[matrix.quant]]\ncalibration = "kl"\n')  # fmt: skip
    with pytest.raises(ConfigError, match=r"unknown key.*calib_sise.*did you mean 'calib_size'"):
        _config(tmp_path, 'profile = "quick"\n[matrix]\nprune = [0.0]\nprecision = ["int8"]\n'
                'backend = ["onnxruntime"]\n[[matrix.quant]]\ncalib_sise = 8\n')  # fmt: skip


# --- distilled variants -----------------------------------------------------------------

DISTILL = (
    'profile = "quick"\n[matrix]\nprune = [0.0, 0.3]\n[pruning]\nfinetune_epochs = {finetune}\n'
    "{models}[distill]\nstudents = [{students}]\nmethods = {methods}\nteachers = {teachers}\n"
    "epochs = {epochs}\n{extra}\n"
)
YOLO11S = (
    '[[models]]\nname = "yolo11n"\ncfg = "yolo11n.yaml"\n[[models]]\nname = "yolo11s"\ncfg = "yolo11s.yaml"\n'
)


def _distill_config(tmp_path: Path, **fields: object) -> HarnessConfig:
    """Quick profile, matrix.prune [0.0, 0.3], and a [distill] table (pruned yolo11n, response + cwd)."""
    values: dict[str, object] = {
        "finetune": 6,
        "models": "",
        "students": '{model = "yolo11n", prune = 0.3}',
        "methods": '["response", "cwd"]',
        "teachers": '["reference"]',
        "epochs": 6,
        "extra": "",
    }
    return _config(tmp_path, DISTILL.format(**(values | fields)))


def _distilled(config: HarnessConfig) -> list[Variant]:
    return [v for v in build_variants(config) if v.distill is not None]


def test_distilled_variants_join_the_matrix(tmp_path: Path) -> None:
    """One FP32 torch variant per method for the pruned student, after the model's matrix cells."""
    config = _distill_config(tmp_path)
    variants = build_variants(config)
    assert [v.slug for v in variants] == [
        "yolo11n-p00-fp32-torch",
        "yolo11n-p00-fp32-onnxruntime",
        "yolo11n-p30-l1-ft6-fp32-onnxruntime",
        "yolo11n-p30-l1-ft6-fp32-torch",
        "yolo11n-p30-l1-kd-response-reference-fp32-torch",
        "yolo11n-p30-l1-kd-cwd-reference-fp32-torch",
    ]
    for variant in variants[4:]:
        assert isinstance(variant.source, DistillRecipe)
        assert variant.precision == "fp32" and variant.quant is None
        assert variant.distill == variant.source.spec.slug
        assert variant.prune == PruneSpec(0.3)  # the student's pruning, not fine-tuned
        assert variant.reference() == variants[0]


def test_distilled_variants_only_on_distill_backends_in_the_matrix(tmp_path: Path) -> None:
    """``distill.backends`` outside ``matrix.backend`` add nothing."""
    config = _distill_config(tmp_path, extra='backends = ["openvino", "onnxruntime", "torch"]')
    slugs = [v.slug for v in _distilled(config)]
    assert slugs == [
        "yolo11n-p30-l1-kd-response-reference-fp32-onnxruntime",
        "yolo11n-p30-l1-kd-response-reference-fp32-torch",
        "yolo11n-p30-l1-kd-cwd-reference-fp32-onnxruntime",
        "yolo11n-p30-l1-kd-cwd-reference-fp32-torch",
    ]
    assert not _distilled(_distill_config(tmp_path, extra='backends = ["openvino"]'))


def test_pruned_student_starts_pruned_without_finetuning(tmp_path: Path) -> None:
    """The student is the matrix's pruning at its ratio, fine-tune epochs 0; the teacher its reference."""
    config = _distill_config(tmp_path)
    reference = build_variants(config)[0]
    for variant in _distilled(config):
        recipe = variant.source
        assert isinstance(recipe, DistillRecipe) and isinstance(recipe.student, PruneRecipe)
        assert recipe.student.spec == PruneSpec(0.3, finetune_epochs=0)
        assert recipe.student.source == reference.source
        assert recipe.teacher == reference.source
        assert recipe.data == data_recipe(config)
        assert (recipe.spec.teacher, recipe.spec.epochs) == ("reference", 6)
    response, cwd = (v.source for v in _distilled(config))
    assert (response.spec.weight, response.spec.temperature) == (1.0, 2.0)  # type: ignore[union-attr]
    assert (cwd.spec.weight, cwd.spec.temperature) == (3.0, 4.0)  # type: ignore[union-attr]


def test_a_pruned_or_distilled_checkpoint_is_not_pruned_again(tmp_path: Path) -> None:
    """``prune_recipe`` takes an unpruned, undistilled checkpoint; anything else is a ConfigError."""
    config = _distill_config(tmp_path)
    model, data = config.model("yolo11n"), data_recipe(config)
    pruned = next(v for v in build_variants(config) if v.prune is not None and v.distill is None).source
    distilled = _distilled(config)[0].source
    with pytest.raises(ConfigError, match="cannot prune an already pruned recipe"):
        prune_recipe(pruned, PruneSpec(0.5), data, model, config)
    with pytest.raises(ConfigError, match="cannot prune a distilled recipe"):
        prune_recipe(distilled, PruneSpec(0.5), data, model, config)


def test_control_of_a_pruned_student_is_the_matrix_pruned_variant(tmp_path: Path) -> None:
    """Same epochs as pruning.finetune_epochs: the control is the pruned variant's own recipe (one build)."""
    config = _distill_config(tmp_path)
    model = config.model("yolo11n")
    pruned = next(v for v in build_variants(config) if v.prune is not None and v.distill is None)
    kd = _distilled(config)[0].source
    assert isinstance(kd, DistillRecipe)
    control = control_recipe(kd.student, kd.data, model, config)
    assert control == pruned.source and control.key() == pruned.source.key()
    longer = _distill_config(tmp_path, epochs=4)
    kd4 = _distilled(longer)[0].source
    assert isinstance(kd4, DistillRecipe)
    control4 = control_recipe(kd4.student, kd4.data, longer.model("yolo11n"), longer)
    assert isinstance(control4, PruneRecipe) and control4.spec.finetune_epochs == 4
    assert control4.key() != pruned.source.key()
    assert control4.key() != next(v for v in build_variants(longer) if v.prune and not v.distill).source.key()


def test_student_start_and_spec_follow_the_matrix(tmp_path: Path) -> None:
    """``student_spec`` picks the matrix's pruning at the ratio; ``student_start`` drops its fine-tune."""
    config = _distill_config(tmp_path)
    model = config.model("yolo11n")
    source = build_variants(config)[0].source
    data = data_recipe(config)
    assert student_spec(StudentChoice("yolo11n"), config) is None
    assert student_spec(StudentChoice("yolo11n", 0.3), config) == PruneSpec(0.3, finetune_epochs=6)
    assert student_start(StudentChoice("yolo11n"), source, data, model, config) == source
    start = student_start(StudentChoice("yolo11n", 0.3), source, data, model, config)
    assert isinstance(start, PruneRecipe) and start.spec == PruneSpec(0.3)
    with pytest.raises(
        ConfigError, match=r"prune 0\.5 is not .*\[0\.0, 0\.3\]: add 0\.5 to \[matrix\] prune"
    ):
        student_spec(StudentChoice("yolo11n", 0.5), config)


def test_unpruned_student_is_not_its_own_teacher(tmp_path: Path) -> None:
    """An unpruned student with teacher "reference" gives no variant (alone, a one-line error naming
    the method); another model teaches it."""
    config = _distill_config(tmp_path, students='{model = "yolo11n"}', methods='["response"]')
    with pytest.raises(ConfigError, match=r"'response' applies to no student: .*only teacher is itself"):
        build_variants(config)
    config = _distill_config(
        tmp_path, models=YOLO11S, students='{model = "yolo11n"}', methods='["response"]',
        teachers='["reference", "yolo11s"]',
    )  # fmt: skip
    variants = build_variants(config)
    (kd,) = [v for v in variants if v.distill is not None]
    assert kd.slug == "yolo11n-p00-kd-response-yolo11s-fp32-torch"
    assert isinstance(kd.source, DistillRecipe) and kd.prune is None
    yolo11s = next(v for v in variants if v.slug == "yolo11s-p00-fp32-torch")
    yolo11n = next(v for v in variants if v.slug == "yolo11n-p00-fp32-torch")
    assert kd.source.teacher == yolo11s.source and kd.source.student == yolo11n.source
    assert teacher_source("yolo11s", config.model("yolo11n"), data_recipe(config), config) == yolo11s.source
    assert teacher_source("reference", config.model("yolo11n"), data_recipe(config), config) == yolo11n.source
    control = control_recipe(kd.source.student, kd.source.data, config.model("yolo11n"), config)
    assert isinstance(control, TrainRecipe) and control.init == yolo11n.source and control.epochs == 6
    assert kd.reference() == yolo11n


def test_student_ratio_must_be_in_the_matrix(tmp_path: Path) -> None:
    """A student pruned at a ratio the matrix does not build is a ConfigError."""
    config = _distill_config(tmp_path, students='{model = "yolo11n", prune = 0.5}')
    message = r"distill\.students: yolo11n at prune 0\.5 .*matrix\.prune \[0\.0, 0\.3\]"
    with pytest.raises(ConfigError, match=message):
        build_variants(config)


def test_loss_settings_and_epochs_change_the_distill_key(tmp_path: Path) -> None:
    """Weight, temperature and epochs are in the DistillSpec and so in the recipe hash."""

    def key(**fields: object) -> str:
        (variant, *_) = _distilled(_distill_config(tmp_path, methods='["response"]', **fields))
        return variant.source.key()

    base = key()
    assert key(extra="response = {weight = 1.0, temperature = 2.0}") == base  # the defaults, spelled out
    assert key(extra="response = {temperature = 3.0}") != base
    assert key(extra="response = {weight = 0.5}") != base
    assert key(extra="cwd = {temperature = 3.0}") == base  # another method's settings
    assert key(epochs=4) != base


def test_teacher_file_is_a_weights_recipe_labelled_by_its_stem(tmp_path: Path) -> None:
    """A teacher path hashes the file's content; its stem names the teacher in ids."""
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "big-teacher.pt").write_bytes(b"not really a checkpoint")
    config = _distill_config(tmp_path, methods='["response"]', teachers='["w/big-teacher.pt"]')
    (kd,) = _distilled(config)
    assert kd.slug == "yolo11n-p30-l1-kd-response-big-teacher-fp32-torch"
    assert isinstance(kd.source, DistillRecipe) and isinstance(kd.source.teacher, WeightsRecipe)
    assert kd.source.teacher.path == str((tmp_path / "w" / "big-teacher.pt").resolve())
    assert teacher_label(tmp_path / "w" / "big-teacher.pt") == "big-teacher"
    assert teacher_label("reference") == "reference"
    (tmp_path / "w" / "big-teacher.pt").write_bytes(b"other weights")
    assert _distilled(config)[0].source.key() != kd.source.key()


def test_model_teacher_file_is_one_more_teacher(tmp_path: Path) -> None:
    """A model's own ``teacher`` joins distill.teachers once, even when listed there too."""
    (tmp_path / "t.pt").write_bytes(b"teacher")
    models = '[[models]]\nname = "yolo11n"\ncfg = "yolo11n.yaml"\nteacher = "t.pt"\n'
    config = _distill_config(tmp_path, models=models, methods='["response"]')
    (student,) = config.distill.students
    assert teachers_for(config.model("yolo11n"), student, config) == ["reference", tmp_path / "t.pt"]
    assert [v.distill for v in _distilled(config)] == ["kd-response-reference", "kd-response-t"]
    both = _distill_config(tmp_path, models=models, methods='["response"]', teachers='["t.pt", "reference"]')
    listed = teachers_for(both.model("yolo11n"), both.distill.students[0], both)
    assert listed == [tmp_path / "t.pt", "reference"]


def test_student_teachers_replace_the_table_teachers(tmp_path: Path) -> None:
    """A student's own ``teachers`` list replaces ``distill.teachers`` for that student only."""
    config = _distill_config(
        tmp_path, models=YOLO11S, methods='["response"]', teachers='["reference"]',
        students='{model = "yolo11n", prune = 0.3, teachers = ["yolo11s"]}, {model = "yolo11n", prune = 0.3}',
    )  # fmt: skip
    own, shared = config.distill.students
    assert teachers_for(config.model("yolo11n"), own, config) == ["yolo11s"]
    assert teachers_for(config.model("yolo11n"), shared, config) == ["reference"]
    assert [v.slug for v in _distilled(config)] == [
        "yolo11n-p30-l1-kd-response-yolo11s-fp32-torch",
        "yolo11n-p30-l1-kd-response-reference-fp32-torch",
    ]


def test_distill_recipe_builds_from_its_parts(tmp_path: Path) -> None:
    """``distill_recipe`` copies the model's batch, imgsz and the seed, and the method's loss."""
    config = _distill_config(tmp_path, extra="cwd = {weight = 0.25, temperature = 8.0}")
    model = config.model("yolo11n")
    source = build_variants(config)[0].source
    start = student_start(StudentChoice("yolo11n", 0.3), source, data_recipe(config), model, config)
    recipe = distill_recipe(start, "reference", "cwd", data_recipe(config), model, config)
    assert recipe.spec == DistillSpec("cwd", "reference", 0.25, 8.0, 6)
    assert (recipe.imgsz, recipe.batch, recipe.seed) == (model.train_imgsz, model.batch, config.seed)
    assert recipe == _distilled(config)[1].source


def test_unpruned_student_named_as_its_own_teacher_is_skipped(tmp_path: Path) -> None:
    """Naming the student's own model as teacher is the "reference" teacher: no self-teaching case
    (and a config whose only student that leaves is a one-line error naming the method)."""
    config = _distill_config(
        tmp_path, students='{model = "yolo11n"}, {model = "yolo11n", prune = 0.3}', methods='["response"]',
        teachers='["yolo11n"]',
    )  # fmt: skip
    (variant,) = _distilled(config)
    assert isinstance(variant.source, DistillRecipe) and variant.prune == PruneSpec(0.3)
    assert variant.source.teacher != variant.source.student, f"{variant.slug} is taught by itself"
    alone = _distill_config(
        tmp_path, students='{model = "yolo11n"}', methods='["response"]', teachers='["yolo11n"]'
    )
    with pytest.raises(ConfigError, match=r"'response' applies to no student"):
        build_variants(alone)


# --- Ultralytics training arguments -------------------------------------------------------

TRAIN_ARGS = {"optimizer": "SGD", "lr0": 0.01, "box": 5.0, "mosaic": 1.0}
TRAINED = (
    'profile = "quick"\nimgsz = 128\n[matrix]\nprune = [0.0, 0.3]\n[pruning]\nfinetune_epochs = 2\n'
    "[train]\npre_epochs = 1\n{train}\n{models}"
    '[distill]\nstudents = [{{prune = 0.3}}, {{model = "yolo11n", teachers = ["yolo11s"]}}]\n'
    'methods = ["response"]\nepochs = 3\n'
)


def _training_recipes(config: HarnessConfig) -> dict[str, object]:
    """Every kind of training the matrix plans for yolo11n: both reference stages, the pruning
    fine-tune, KD (pruned student), the unpruned student's KD and its fair control."""
    variants = build_variants(config)
    reference = variants[0].source
    pruned = next(v.source for v in variants if v.prune is not None and v.distill is None)
    kd = next(v.source for v in variants if v.distill is not None and v.prune is not None)
    kd_unpruned = next(v.source for v in variants if v.distill is not None and v.prune is None)
    assert isinstance(reference, TrainRecipe) and isinstance(kd_unpruned, DistillRecipe)
    control = control_recipe(kd_unpruned.student, kd_unpruned.data, config.model("yolo11n"), config)
    return {"first stage": reference.init, "last stage": reference, "prune": pruned, "kd": kd,
            "kd unpruned": kd_unpruned, "control": control}  # fmt: skip


def test_train_arguments_reach_every_training_recipe(tmp_path: Path) -> None:
    """The config's Ultralytics arguments go over the harness's defaults key by key in every
    training's ``hyp``, hence its cache key; without them nothing changes (same cache keys)."""
    from harness.builders.train import FINETUNE_HYP, REFERENCE_HYP

    train = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in TRAIN_ARGS.items())
    plain = _training_recipes(_config(tmp_path, TRAINED.format(train="", models=YOLO11S)))
    tuned = _training_recipes(_config(tmp_path, TRAINED.format(train=train, models=YOLO11S)))
    assert plain["first stage"].hyp == REFERENCE_HYP  # type: ignore[attr-defined]
    for name in ("last stage", "prune", "kd", "kd unpruned", "control"):
        assert plain[name].hyp == REFERENCE_HYP + FINETUNE_HYP, name  # type: ignore[attr-defined]
    for name, recipe in tuned.items():
        hyp = dict(recipe.hyp)  # type: ignore[attr-defined]
        assert hyp.items() >= TRAIN_ARGS.items(), name
        assert hyp["nbs"] == 8, name  # the harness's defaults the config leaves alone stay
        assert hyp["warmup_epochs"] == (1 if name == "first stage" else 0), name
        assert recipe.key() != plain[name].key(), name  # type: ignore[attr-defined]


def test_a_models_train_arguments_are_its_own(tmp_path: Path) -> None:
    """``[[models]] train = {...}`` changes that model's trainings only."""
    models = YOLO11S.replace('cfg = "yolo11s.yaml"\n', 'cfg = "yolo11s.yaml"\ntrain = {cls = 1.0}\n')
    config = _config(tmp_path, TRAINED.format(train="", models=models))
    variants = build_variants(config)
    yolo11s = next(v for v in variants if v.model == "yolo11s" and v.prune is not None)
    assert dict(yolo11s.source.hyp)["cls"] == 1.0  # type: ignore[union-attr]
    assert all("cls" not in dict(recipe.hyp) for recipe in _training_recipes(config).values())  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def user_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """A real yolo11n checkpoint with training arguments stored as Ultralytics stores them."""
    from user_checkpoints import save_checkpoint

    path = tmp_path_factory.mktemp("user") / "w.pt"
    return path, save_checkpoint(path)


WEIGHTS = (
    'profile = "quick"\n[matrix]\nprune = [0.0, 0.3]\n[pruning]\nfinetune_epochs = 2\n'
    '[[models]]\nname = "mine"\nweights = "{weights}"\n{train}'
    '[distill]\nstudents = [{{prune = 0.3}}]\nteachers = ["reference"]\nmethods = ["response"]\nepochs = 3\n'
)


def test_user_weights_finetune_with_their_checkpoint_arguments(
    tmp_path: Path, user_checkpoint: tuple[Path, dict[str, object]]
) -> None:
    """A user's .pt is fine-tuned (pruning, KD, the control) with the hyperparameters stored in
    it, not the harness's REFERENCE_HYP; the config's arguments go over them."""
    from harness.config.trainargs import checkpoint_hyp, with_overrides

    path, stored = user_checkpoint
    config = _config(tmp_path, WEIGHTS.format(weights=path, train="train = {lr0 = 0.05, mixup = 0.1}\n"))
    variants = build_variants(config)
    pruned = next(v.source for v in variants if v.prune is not None and v.distill is None)
    kd = next(v.source for v in variants if v.distill is not None)
    assert isinstance(pruned, PruneRecipe) and isinstance(kd, DistillRecipe)
    control = control_recipe(kd.student, kd.data, config.model("mine"), config)
    expected = with_overrides(checkpoint_hyp(stored), {"lr0": 0.05, "mixup": 0.1})
    for recipe in (pruned, kd, control):
        assert recipe.hyp == expected
        hyp = dict(recipe.hyp)
        assert (hyp["optimizer"], hyp["momentum"], hyp["mosaic"], hyp["nbs"]) == ("SGD", 0.9, 0.5, 64)
        assert (hyp["lr0"], hyp["mixup"], hyp["freeze"]) == (0.05, 0.1, (0, 1))
        assert not {"epochs", "batch", "imgsz", "data", "device", "workers", "seed", "conf"} & set(hyp)
    untuned = _config(tmp_path, WEIGHTS.format(weights=path, train=""))
    untuned_prune = next(v.source for v in build_variants(untuned) if v.prune and not v.distill)
    assert isinstance(untuned_prune, PruneRecipe) and untuned_prune.hyp == checkpoint_hyp(stored)


def test_checkpoint_is_read_once_per_model_and_only_for_weights(
    tmp_path: Path, user_checkpoint: tuple[Path, dict[str, object]]
) -> None:
    from harness.matrix import checkpoint_args

    checkpoint_args.cache_clear()
    build_variants(_config(tmp_path, TRAINED.format(train="", models=YOLO11S)))
    assert checkpoint_args.cache_info().misses == 0  # no weights file: nothing unpickled
    config = _config(tmp_path, WEIGHTS.format(weights=user_checkpoint[0], train=""))
    build_variants(config)
    build_variants(config)
    info = checkpoint_args.cache_info()
    assert (info.misses, info.currsize) == (1, 1) and info.hits >= 3


def test_a_checkpoint_changed_since_it_was_hashed_is_not_loaded(tmp_path: Path) -> None:
    from harness.errors import WeightsError
    from harness.matrix import checkpoint_args

    (tmp_path / "w.pt").write_bytes(b"not the file that was hashed")
    with pytest.raises(WeightsError, match=r"w\.pt changed"):
        checkpoint_args(str(tmp_path / "w.pt"), "0" * 64)


def test_multi_teacher_is_one_student_per_entry_with_all_its_teachers(tmp_path: Path) -> None:
    config = _distill_config(
        tmp_path, models=YOLO11S, methods='["response", "multi"]', teachers='["reference", "yolo11s"]'
    )
    slugs = [v.slug for v in _distilled(config) if v.model == "yolo11n"]
    assert slugs == [
        "yolo11n-p30-l1-kd-response-reference-fp32-torch",
        "yolo11n-p30-l1-kd-response-yolo11s-fp32-torch",
        "yolo11n-p30-l1-kd-multi-reference+yolo11s-fp32-torch",
    ]
    multi = next(v for v in _distilled(config) if "multi" in v.slug and v.model == "yolo11n").source
    assert isinstance(multi, DistillRecipe) and multi.extra_teachers is not None
    assert [t.cfg for t in multi.teachers] == ["yolo11n.yaml", "yolo11s.yaml"]  # type: ignore[union-attr]
    single = _distill_config(tmp_path, methods='["response", "multi"]')  # one teacher: no multi student
    with pytest.raises(
        ConfigError, match=r"distill\.methods: 'multi' applies to no student: .*two or more teachers"
    ):
        build_variants(single)


def test_progressive_kd_teaches_through_an_assistant_pruned_half_as_much(tmp_path: Path) -> None:
    config = _distill_config(tmp_path, methods='["progressive"]')
    (variant,) = _distilled(config)
    assert variant.slug == "yolo11n-p30-l1-kd-progressive-reference-fp32-torch"
    recipe = variant.source
    assert isinstance(recipe, DistillRecipe) and recipe.spec.method == "progressive"
    assistant = recipe.teacher
    assert isinstance(assistant, DistillRecipe) and assistant.spec.method == "response"
    assert isinstance(assistant.student, PruneRecipe) and assistant.student.spec.ratio == 0.15
    assert assistant.student.spec.finetune_epochs == 0 and assistant.spec.epochs == recipe.spec.epochs
    assert assistant.teacher == variant.reference().source  # the reference teaches the assistant
    assert variant.prune == PruneSpec(0.3)  # the student's own pruning
    from harness.bench import Bench
    from harness.studies.distillation import cases

    (case,) = cases(Bench.from_config(config))
    assert case.teacher.source == assistant and case.teacher.prune == assistant.student.spec
    assert case.teacher.distill == "kd-response-reference"
    unpruned = _distill_config(
        tmp_path,
        methods='["progressive"]',
        students='{model = "yolo11n"}',
        teachers='["yolo11s"]',
        models=YOLO11S,
    )
    with pytest.raises(ConfigError, match=r"'progressive' applies to no student: .*no student is pruned"):
        build_variants(unpruned)  # an unpruned student has no assistant, and no other student is pruned
    both = _distill_config(
        tmp_path, methods='["progressive"]', students='{model = "yolo11n"}, {model = "yolo11n", prune = 0.3}'
    )
    assert [v.slug for v in _distilled(both)] == ["yolo11n-p30-l1-kd-progressive-reference-fp32-torch"]


def test_methods_are_not_checked_where_nothing_is_distilled(tmp_path: Path) -> None:
    """No distill backend in the matrix: no student at all, and the study says so, not the method."""
    assert _distilled(_distill_config(tmp_path, methods='["multi"]', extra='backends = ["openvino"]')) == []
