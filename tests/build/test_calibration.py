"""Calibration images: the calib split through the shared letterbox, with clear errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from harness.build.quantize.calibration import calibration_images
from harness.errors import DatasetError
from harness.measure.accuracy import letterbox


def _dataset(root: Path, n_calib: int, calib: bool = True) -> Path:
    """A tiny YOLO dataset with ``n_calib`` coloured images of different sizes in ``calib``."""
    rng = np.random.default_rng(0)
    for split, count in (("train", 2), ("val", 1), ("calib", n_calib)):
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
    first = cv2.imread(str(tmp_path / "images" / "calib" / "000.png"), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(images[0], letterbox(first, 32)[0])


def test_without_a_calib_key_the_train_split_calibrates(tmp_path: Path) -> None:
    data = _dataset(tmp_path, n_calib=0, calib=False)
    assert calibration_images(data, imgsz=16, n=2).shape == (2, 3, 16, 16)


def test_too_few_images_name_folder_count_and_request(tmp_path: Path) -> None:
    data = _dataset(tmp_path, n_calib=4)
    folder = tmp_path / "images" / "calib"
    with pytest.raises(DatasetError, match=rf"{folder}.* has 4 images, but 10 were requested"):
        calibration_images(data, imgsz=32, n=10)


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [((40, 56), np.uint8), ((40, 56, 4), np.uint8), ((40, 56, 3), np.uint16)],
    ids=["grayscale", "four-channel", "16-bit"],
)
def test_wrong_shape_or_depth_is_a_dataset_error(tmp_path: Path, shape: tuple[int, ...], dtype: type) -> None:
    data = _dataset(tmp_path, n_calib=3)
    bad = tmp_path / "images" / "calib" / "001.png"
    cv2.imwrite(str(bad), np.full(shape, 7, dtype=dtype))
    with pytest.raises(DatasetError, match=rf"{bad} has shape .*expected an 8-bit colour image"):
        calibration_images(data, imgsz=32, n=3)


def test_unreadable_image_is_a_dataset_error(tmp_path: Path) -> None:
    data = _dataset(tmp_path, n_calib=3)
    bad = tmp_path / "images" / "calib" / "002.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=rf"{bad} cannot be read"):
        calibration_images(data, imgsz=32, n=3)


def test_images_past_n_are_not_read(tmp_path: Path) -> None:
    data = _dataset(tmp_path, n_calib=3)
    (tmp_path / "images" / "calib" / "002.png").write_bytes(b"broken, but never used")
    assert calibration_images(data, imgsz=32, n=2).shape[0] == 2
