"""Calibration images: the dataset's ``calib`` split through the one shared preprocessing path."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from harness.datasets.yolo import list_split, load_data_yaml
from harness.errors import DatasetError
from harness.measure.accuracy import letterbox


def calibration_images(data_yaml: Path, imgsz: int, n: int) -> np.ndarray:
    """The first ``n`` images of the calibration split, letterboxed to ``imgsz``.

    Returns:
        float32 array (n, 3, imgsz, imgsz), RGB in [0, 1], exactly what every runner is fed.

    Raises:
        DatasetError: the split has fewer than ``n`` images (naming its folder, its count and
            ``n``), or an image cannot be read or is not an 8-bit 3-channel colour image.
    """
    spec = load_data_yaml(data_yaml)
    samples = list_split(spec, "calib")
    if len(samples) < n:
        raise DatasetError(
            f"calibration split {spec.splits['calib']} of {spec.yaml_path} has {len(samples)} images, "
            f"but {n} were requested (quant.calib_size); add images or lower calib_size"
        )
    return np.stack([letterbox(_read_colour(sample.image), imgsz)[0] for sample in samples[:n]])


def _read_colour(path: Path) -> np.ndarray:
    """Decode ``path`` as it is stored and insist on an 8-bit (h, w, 3) BGR image."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DatasetError(f"calibration image {path} cannot be read (missing, truncated or not an image)")
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3 or min(img.shape[:2]) < 1:
        raise DatasetError(
            f"calibration image {path} has shape {img.shape} and dtype {img.dtype}; "
            "expected an 8-bit colour image of shape (h, w, 3)"
        )
    return img
