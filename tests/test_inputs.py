"""Input files and calibration sets recorded for a user's weights and data.yaml (no model runs)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from harness.bench import Bench
from harness.config import load_config
from harness.errors import WeightsError
from harness.inputs import calibration_rows, input_rows
from harness.recipes import WeightsRecipe, source_data


def _repo(tmp_path: Path, checkpoints: Path, data: Path, extra: str = "") -> Path:
    shutil.copy(checkpoints / "best.pt", tmp_path / "best.pt")
    (tmp_path / "harness.toml").write_text(
        f'data = "{data}"\nimgsz = 64\n[[models]]\nname = "det"\nweights = "best.pt"\n{extra}'
        '[matrix]\nprecision = ["fp32", "int8"]\nbackend = ["torch", "onnxruntime"]\n'
        "[[matrix.quant]]\ncalib_size = 3\n"
    )
    return tmp_path


def test_a_weights_model_is_paired_with_the_configured_data(
    tmp_path: Path, detector_checkpoints: Path, tiny_dataset: Path
) -> None:
    session = Bench.from_config(load_config(_repo(tmp_path, detector_checkpoints, tiny_dataset)))
    source = session.variants[0].source
    assert isinstance(source, WeightsRecipe) and source_data(source) is not None


def test_every_input_file_is_recorded_with_its_sha256(
    tmp_path: Path, detector_checkpoints: Path, tiny_dataset: Path
) -> None:
    session = Bench.from_config(load_config(_repo(tmp_path, detector_checkpoints, tiny_dataset)))
    rows = {row["role"]: row for row in input_rows(session)}
    assert set(rows) == {"config", "data.yaml", "dataset", "weights"}
    weights = (tmp_path / "best.pt").read_bytes()
    assert (
        rows["weights"]["sha256"] == hashlib.sha256(weights).hexdigest() and rows["weights"]["name"] == "det"
    )
    assert rows["data.yaml"]["sha256"] == hashlib.sha256(tiny_dataset.read_bytes()).hexdigest()


def test_calibration_source_is_a_seeded_train_sample_without_a_calib_split(
    tmp_path: Path, detector_checkpoints: Path, tiny_dataset: Path
) -> None:
    session = Bench.from_config(load_config(_repo(tmp_path, detector_checkpoints, tiny_dataset)))
    int8 = [v.slug for v in session.variants if v.precision == "int8"]
    (row,) = calibration_rows(session, int8)
    assert row["source"] == "train" and row["n"] == 3 and row["count"] == 4 and row["seed"] == 0
    assert calibration_rows(session, []) == []  # only variants the run measured


def test_a_pinned_weights_file_that_changed_stops_before_loading(
    tmp_path: Path, detector_checkpoints: Path, tiny_dataset: Path
) -> None:
    repo = _repo(tmp_path, detector_checkpoints, tiny_dataset, f'weights_sha256 = "{"0" * 64}"\n')
    with pytest.raises(
        WeightsError, match=r"best\.pt has sha256 [0-9a-f]{64}, but weights_sha256 pins 0{64}"
    ):
        Bench.from_config(load_config(repo))
    digest = hashlib.sha256((repo / "best.pt").read_bytes()).hexdigest()
    _repo(tmp_path, detector_checkpoints, tiny_dataset, f'weights_sha256 = "{digest}"\n')
    assert Bench.from_config(load_config(repo)).variants
