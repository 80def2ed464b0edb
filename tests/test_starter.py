"""`harness init`'s checks and the starter config it writes (real tiny checkpoints, a cv2 dataset)."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest

from harness.config import load_config
from harness.config.profiles import profile_defaults
from harness.errors import DatasetError, HarnessError, WeightsError
from harness.starter import FALLBACK_IMGSZ, init, model_name


def _copy_weights(checkpoints: Path, tmp_path: Path, name: str = "best.pt") -> Path:
    return Path(shutil.copy2(checkpoints / name, tmp_path / "best.pt"))


def test_writes_a_config_that_loads(detector_checkpoints: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    weights = _copy_weights(detector_checkpoints, tmp_path)
    out = tmp_path / "harness.toml"
    lines = init(weights, tiny_dataset, out)
    text = out.read_text()
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert "a pickle" in text and f'weights_sha256 = "{sha}"' in text
    config = load_config(tmp_path)
    assert config.source == out and config.data == tiny_dataset
    assert config.imgsz == 320 and config.device == "cpu"
    (model,) = config.models
    assert model.name == "best" and model.weights == weights and model.weights_sha256 == sha
    assert config.matrix.prune == (0.0,)
    assert config.matrix.precision == ("fp32", "fp16", "int8")
    assert config.matrix.backend == ("torch", "onnxruntime", "openvino", "ncnn")
    expected = [dict(q) for q in profile_defaults("default")["matrix"]["quant"]]  # type: ignore[index]
    assert [c.backends for c in config.matrix.quant] == [tuple(q.pop("backends")) for q in expected]
    assert [(c.spec.activations, c.spec.calibration) for c in config.matrix.quant] == [
        (q.get("activations", "u8"), q.get("calibration", "minmax")) for q in expected
    ]
    assert config.budgets.default.max_map_drop == 0.01
    assert config.mixed_precision is None and not config.distill.students  # studies stay commented out
    # Paths are written relative to the config, so the folder can move.
    assert 'data = "data/data.yaml"' in text and 'weights = "best.pt"' in text
    summary = "\n".join(lines)
    assert "2 (circle, square)" in summary and "train 4 images (4 labelled), val 2 images" in summary
    assert f"wrote {out}" in summary and sha in summary


def test_study_costs_come_from_the_split_sizes(
    detector_checkpoints: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    init(_copy_weights(detector_checkpoints, tmp_path), tiny_dataset, tmp_path / "harness.toml")
    text = (tmp_path / "harness.toml").read_text()
    assert "one fine-tune of 4 epochs per case" in text
    assert "per epoch at 320 px on this split: 4 train images" in text
    assert "(2 images)" in text  # the val pass
    for block in ("# [pruning]", "# [distill]", "# [mixed_precision]", "# [ablation]"):
        assert block in text


def test_every_commented_study_loads_once_uncommented(
    detector_checkpoints: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    init(_copy_weights(detector_checkpoints, tmp_path), tiny_dataset, tmp_path / "harness.toml")
    text = (tmp_path / "harness.toml").read_text()
    setting = re.compile(r"^# (\[[a-z_.]+\]|[a-z_]+ = .+)$")
    lines = [line[2:] if setting.match(line) else line for line in text.splitlines()]
    uncommented = "\n".join(lines).replace("prune = [0.0]", "prune = [0.0, 0.3]")
    (tmp_path / "harness.toml").write_text(uncommented)
    config = load_config(tmp_path)
    assert config.matrix.prune == (0.0, 0.3) and config.pruning.finetune_epochs == 4
    assert config.budgets.pruned.max_map_drop == 0.02
    assert [s.prune for s in config.distill.students] == [0.3] and config.distill.epochs == 4
    assert config.mixed_precision is not None and config.mixed_precision.max_steps == 4
    assert config.ablation.backend == "onnxruntime" and config.ablation.multi_scale == 0.5


def test_image_size_falls_back_to_640_and_says_so(
    detector_checkpoints: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    weights = _copy_weights(detector_checkpoints, tmp_path, "bare.pt")
    lines = init(weights, tiny_dataset, tmp_path / "harness.toml")
    text = (tmp_path / "harness.toml").read_text()
    assert f"imgsz = {FALLBACK_IMGSZ}\n# the checkpoint stores no training imgsz" in text
    assert load_config(tmp_path).imgsz == FALLBACK_IMGSZ
    assert any("no training imgsz" in line for line in lines)


MORE = r"classes differ: weights file .*best\.pt has 2 \(circle, square\), dataset YAML .*data\.yaml has 3"
OTHER = (
    r"classes differ: class 1 is 'square' in weights file .*best\.pt but 'star' in dataset YAML .*data\.yaml"
)


@pytest.mark.parametrize(("names", "message"), [("[circle, square, star]", MORE), ("[circle, star]", OTHER)])
def test_class_mismatch_names_both_files(
    detector_checkpoints: Path, tiny_dataset: Path, tmp_path: Path, names: str, message: str
) -> None:
    tiny_dataset.write_text(tiny_dataset.read_text().replace("[circle, square]", names))
    with pytest.raises(HarnessError, match=message):
        init(_copy_weights(detector_checkpoints, tmp_path), tiny_dataset, tmp_path / "harness.toml")
    assert not (tmp_path / "harness.toml").exists()


def test_missing_split_is_an_error(detector_checkpoints: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    weights = _copy_weights(detector_checkpoints, tmp_path)
    shutil.rmtree(tiny_dataset.parent / "images" / "val")
    with pytest.raises(DatasetError, match=r"data\.yaml.*'val'.*does not exist"):
        init(weights, tiny_dataset, tmp_path / "harness.toml")
    (tiny_dataset.parent / "images" / "val").mkdir()  # there, but without images
    with pytest.raises(DatasetError, match=r"val split of .*data\.yaml has no images"):
        init(weights, tiny_dataset, tmp_path / "harness.toml")
    assert not (tmp_path / "harness.toml").exists()


def test_existing_file_needs_force(detector_checkpoints: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    weights = _copy_weights(detector_checkpoints, tmp_path)
    out = tmp_path / "harness.toml"
    out.write_text("# mine\n")
    with pytest.raises(HarnessError, match=r"harness\.toml already exists \(use --force to overwrite it\)"):
        init(weights, tiny_dataset, out)
    assert out.read_text() == "# mine\n"
    init(weights, tiny_dataset, out, force=True)
    assert "[[models]]" in out.read_text()


def test_bad_weights_file(tiny_dataset: Path, tmp_path: Path) -> None:
    bad = tmp_path / "best.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match=r"best\.pt is not a loadable Ultralytics checkpoint"):
        init(bad, tiny_dataset, tmp_path / "harness.toml")
    with pytest.raises(WeightsError, match=r"missing\.pt does not exist"):
        init(tmp_path / "missing.pt", tiny_dataset, tmp_path / "harness.toml")
    assert not (tmp_path / "harness.toml").exists()


def test_refuses_to_write_pyproject(detector_checkpoints: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"\[tool\.harness\]"):
        init(detector_checkpoints / "best.pt", tiny_dataset, tmp_path / "pyproject.toml", force=True)


@pytest.mark.parametrize(
    ("stem", "name"),
    [("best", "best"), ("my model (v2)", "my-model-v2"), ("_yolo11n.int8", "yolo11n.int8"), ("__", "model")],
)
def test_model_name_follows_the_config_rule(stem: str, name: str) -> None:
    assert model_name(Path(f"{stem}.pt")) == name
