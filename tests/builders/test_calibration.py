"""Calibration: which images (the plan), decoded and letterboxed as evaluation does, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from harness.builders.quantize.calibration import (
    CALIB_SEED,
    CalibrationPlan,
    calibration_images,
    calibration_plan,
    held_out_samples,
)
from harness.errors import DatasetError
from harness.imaging import letterbox, read_image


def _dataset(root: Path, n_calib: int, calib: bool = True, n_train: int = 2) -> Path:
    """A tiny YOLO dataset with ``n_calib`` coloured images of different sizes in ``calib``."""
    rng = np.random.default_rng(0)
    for split, count in (("train", n_train), ("val", 1), ("calib", n_calib)):
        folder = root / "images" / split
        folder.mkdir(parents=True)
        for i in range(count):
            img = rng.integers(0, 256, (40 + 3 * i, 56, 3), dtype=np.uint8)
            cv2.imwrite(str(folder / f"{i:03d}.png"), img)
    lines = ["names: [a]", "train: images/train", "val: images/val"]
    if calib:
        lines.append("calib: images/calib")
    yaml_path = root / "data.yaml"
    yaml_path.write_text("\n".join(lines) + "\n")
    return yaml_path


def test_first_n_images_letterboxed_in_order(tmp_path: Path) -> None:
    data = _dataset(tmp_path, n_calib=5)
    images = calibration_images(data, imgsz=32, n=3)
    assert images.shape == (3, 3, 32, 32) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    first = read_image(tmp_path / "images" / "calib" / "000.png")
    np.testing.assert_array_equal(images[0], letterbox(first, 32)[0])


def test_without_a_calib_key_the_train_split_calibrates(tmp_path: Path) -> None:
    data = _dataset(tmp_path, n_calib=0, calib=False)
    assert calibration_images(data, imgsz=16, n=2).shape == (2, 3, 16, 16)


def test_too_few_images_name_folder_count_and_request(tmp_path: Path) -> None:
    data = _dataset(tmp_path, n_calib=4)
    folder = tmp_path / "images" / "calib"
    with pytest.raises(DatasetError, match=rf"{folder}.* has 4 images, but 10 were requested"):
        calibration_images(data, imgsz=32, n=10)


def test_unreadable_image_is_a_dataset_error(tmp_path: Path) -> None:
    data = _dataset(tmp_path, n_calib=3)
    bad = tmp_path / "images" / "calib" / "002.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=rf"cannot read image {bad}"):
        calibration_images(data, imgsz=32, n=3)


def test_images_past_n_are_not_read(tmp_path: Path) -> None:
    data = _dataset(tmp_path, n_calib=3)
    (tmp_path / "images" / "calib" / "002.png").write_bytes(b"broken, but never used")
    assert calibration_images(data, imgsz=32, n=2).shape[0] == 2


def _expected(files: tuple[Path, ...], imgsz: int) -> np.ndarray:
    """What evaluation feeds a model for these files."""
    return np.stack([letterbox(read_image(path), imgsz)[0] for path in files])


def test_grayscale_rgba_and_16_bit_decode_as_evaluation_does(tmp_path: Path) -> None:
    data = _dataset(tmp_path, n_calib=0, calib=False, n_train=0)
    folder = tmp_path / "images" / "train"
    gradient = np.arange(40 * 56).reshape(40, 56)
    odd: dict[str, np.ndarray] = {
        "gray.png": (gradient % 256).astype(np.uint8),
        "rgba.png": np.dstack([(gradient * k % 256).astype(np.uint8) for k in (1, 3, 5, 7)]),
        "deep.png": np.dstack([(gradient * k * 97 % 65536).astype(np.uint16) for k in (1, 2, 3)]),
    }
    for name, img in odd.items():
        assert cv2.imwrite(str(folder / name), img)
    stored = {name: cv2.imread(str(folder / name), cv2.IMREAD_UNCHANGED) for name in odd}
    assert [(img.shape, img.dtype) for img in stored.values() if img is not None] == [
        ((40, 56), np.uint8),
        ((40, 56, 4), np.uint8),
        ((40, 56, 3), np.uint16),
    ]
    plan = calibration_plan(data, n=3)
    assert sorted(path.name for path in plan.files) == sorted(odd)
    images = calibration_images(data, imgsz=32, n=3)
    assert images.shape == (3, 3, 32, 32) and images.dtype == np.float32
    np.testing.assert_array_equal(images, _expected(plan.files, 32))
    assert all(image.std() > 0 for image in images)  # real content, not a blank fallback


def test_without_calib_split_a_seeded_sample_of_train(tmp_path: Path) -> None:
    data = _dataset(tmp_path, n_calib=0, calib=False, n_train=20)
    train = sorted((tmp_path / "images" / "train").iterdir())
    plan = calibration_plan(data, n=5)
    assert plan == calibration_plan(data, n=5)  # same files every time
    assert (plan.source, plan.count, plan.seed, CALIB_SEED) == ("train", 20, 0, 0)
    assert plan.split == str(tmp_path / "images" / "train")
    assert len(plan.files) == len(set(plan.files)) == 5
    assert set(plan.files) <= set(train)
    assert list(plan.files) == sorted(plan.files)
    assert list(plan.files) != train[:5]
    chosen = np.sort(np.random.default_rng(CALIB_SEED).choice(20, size=5, replace=False))
    assert list(plan.files) == [train[i] for i in chosen]
    np.testing.assert_array_equal(calibration_images(data, imgsz=32, n=5), _expected(plan.files, 32))


def test_calib_split_gives_its_first_n(tmp_path: Path) -> None:
    data = _dataset(tmp_path, n_calib=6, n_train=20)
    calib = sorted((tmp_path / "images" / "calib").iterdir())
    plan = calibration_plan(data, n=4)
    assert plan == CalibrationPlan(
        source="calib", split=str(tmp_path / "images" / "calib"), count=6, seed=None, files=tuple(calib[:4])
    )
    np.testing.assert_array_equal(calibration_images(data, imgsz=24, n=4), _expected(plan.files, 24))


def test_plan_to_dict_is_json(tmp_path: Path) -> None:
    data = _dataset(tmp_path, n_calib=0, calib=False, n_train=4)
    plan = calibration_plan(data, n=2)
    record = json.loads(json.dumps(plan.to_dict()))
    assert record == {
        "source": "train",
        "split": str(tmp_path / "images" / "train"),
        "count": 4,
        "seed": CALIB_SEED,
        "n": 2,
        "files": [str(path) for path in plan.files],
    }


def test_too_few_train_images_name_the_train_split(tmp_path: Path) -> None:
    data = _dataset(tmp_path, n_calib=0, calib=False, n_train=3)
    folder = tmp_path / "images" / "train"
    with pytest.raises(
        DatasetError, match=rf"^train split {folder} of {data} has 3 images, but 4 were requested"
    ):
        calibration_plan(data, n=4)


def test_plan_does_not_decode_images(tmp_path: Path) -> None:
    data = _dataset(tmp_path, n_calib=3)
    (tmp_path / "images" / "calib" / "000.png").write_bytes(b"broken")
    assert calibration_plan(data, n=3).count == 3


def test_n_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n=0"):
        calibration_plan(_dataset(tmp_path, n_calib=3), n=0)


def test_held_out_images_follow_the_calibration_images_in_the_calib_split(tmp_path: Path) -> None:
    data = _dataset(tmp_path, n_calib=6)
    calib = sorted((tmp_path / "images" / "calib").iterdir())
    assert [s.image for s in held_out_samples(data, skip=4, n=5)] == calib[4:]
    assert held_out_samples(data, skip=4, n=5)[0].label == tmp_path / "labels" / "calib" / "004.txt"


def test_held_out_train_images_never_calibrate(tmp_path: Path) -> None:
    data = _dataset(tmp_path, n_calib=0, calib=False, n_train=20)
    calibrating = set(calibration_plan(data, n=5).files)
    held = [s.image for s in held_out_samples(data, skip=5, n=8)]
    assert len(held) == len(set(held)) == 8 and not set(held) & calibrating
    assert held == [s.image for s in held_out_samples(data, skip=5, n=8)]  # the same every time


def test_a_calib_split_used_up_by_calibration_hands_over_to_train(tmp_path: Path) -> None:
    data = _dataset(tmp_path, n_calib=4, n_train=6)
    held = held_out_samples(data, skip=4, n=3)
    assert len(held) == 3 and all(s.image.parent == tmp_path / "images" / "train" for s in held)


def test_no_held_out_image_left_is_a_dataset_error(tmp_path: Path) -> None:
    data = _dataset(tmp_path, n_calib=0, calib=False, n_train=4)
    with pytest.raises(DatasetError, match="train split .* has 4 images, all of them calibration images"):
        held_out_samples(data, skip=4, n=10)
