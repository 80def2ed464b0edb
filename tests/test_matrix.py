"""Matrix expansion: every cell once, the reference first, readable ids, unbuilt axes rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import HarnessConfig, load_config
from harness.errors import ConfigError
from harness.matrix import build_variants, data_recipe, prune_specs
from harness.recipes import PruneRecipe, SyntheticDataRecipe, TrainRecipe, WeightsRecipe


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
    variants = build_variants(config)
    m = config.matrix
    per_backend = len(m.precision) - 1 + len(m.quant)  # int8 expands over the quant configurations
    unpruned = len(m.backend) * per_backend
    cases = len(prune_specs(m, config.pruning))  # ratios > 0 x criteria x strategies, + unstructured
    assert cases == 3 * 5 * 2 + 3
    pruned = cases * len(config.pruning.backends or ()) * len(config.pruning.precisions or ())
    assert len(variants) == len(config.models) * (unpruned + pruned)
    assert len({v.slug for v in variants}) == len(variants)
    firsts = [variants[i] for i in range(0, len(variants), len(variants) // len(config.models))]
    assert all(v.is_reference for v in firsts)


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
