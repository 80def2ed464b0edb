"""Matrix expansion: every cell once, the reference first, readable ids, unbuilt axes rejected."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.config import HarnessConfig, load_config
from harness.errors import ConfigError
from harness.matrix import build_variants, data_recipe
from harness.recipes import SyntheticDataRecipe, TrainRecipe, WeightsRecipe


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
    assert len(variants) == len(config.models) * len(m.prune) * len(m.backend) * per_backend
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


def test_unbuilt_prune_ratio_is_rejected_before_anything_runs(tmp_path: Path) -> None:
    config = _config(tmp_path, 'profile = "quick"\n')
    pruned = dataclasses.replace(config, matrix=dataclasses.replace(config.matrix, prune=(0.0, 0.3)))
    with pytest.raises(ConfigError, match=r"matrix\.prune contains \[0\.3\]"):
        build_variants(pruned)


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
