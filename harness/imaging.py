"""Image decoding and the Ultralytics-style letterbox shared by every backend, calibration included.

Kept free of torch so that a process serving an exported graph never imports it, and free of the
rest of the harness (errors aside) so that builders and measurements can both depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from harness.errors import DatasetError

__all__ = ["PAD_VALUE", "LetterboxInfo", "letterbox", "read_image", "unletterbox_boxes"]

PAD_VALUE = 114


@dataclass(frozen=True)
class LetterboxInfo:
    """How an image was fitted into the square input: resize ratio and left/top padding in pixels."""

    scale: float
    pad_x: int
    pad_y: int


def _resized_wh(orig_hw: tuple[int, int], scale: float) -> tuple[int, int]:
    """Size (w, h) of the resized image before padding, rounded per side as Ultralytics."""
    h, w = orig_hw
    return max(round(w * scale), 1), max(round(h * scale), 1)


def letterbox(img_bgr: np.ndarray, imgsz: int) -> tuple[np.ndarray, LetterboxInfo]:
    """Fit a BGR uint8 (h, w, 3) image into ``imgsz`` x ``imgsz``, keeping its aspect ratio.

    Returns the (3, imgsz, imgsz) float32 RGB array in [0, 1] and the transform to undo.
    """
    if img_bgr.ndim != 3 or img_bgr.shape[2] != 3:
        raise ValueError(f"letterbox expects a (h, w, 3) BGR image, got shape {img_bgr.shape}")
    h, w = img_bgr.shape[:2]
    scale = min(imgsz / h, imgsz / w)
    new_w, new_h = _resized_wh((h, w), scale)
    img = img_bgr
    if (new_w, new_h) != (w, h):
        img = cv2.resize(img_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    dw, dh = (imgsz - new_w) / 2, (imgsz - new_h) / 2
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    chw = np.ascontiguousarray(img[..., ::-1].transpose(2, 0, 1)).astype(np.float32) / 255.0
    return chw, LetterboxInfo(scale=scale, pad_x=left, pad_y=top)


def unletterbox_boxes(boxes: np.ndarray, info: LetterboxInfo, orig_shape: tuple[int, ...]) -> np.ndarray:
    """Map (n, 4) xyxy boxes from letterbox pixels back to the original (h, w) image, clipped to it."""
    h, w = orig_shape[:2]
    new_w, new_h = _resized_wh((h, w), info.scale)
    out = boxes.copy()
    out[:, [0, 2]] = ((out[:, [0, 2]] - info.pad_x) / (new_w / w)).clip(0, w)
    out[:, [1, 3]] = ((out[:, [1, 3]] - info.pad_y) / (new_h / h)).clip(0, h)
    return out


def read_image(path: Path) -> np.ndarray:
    """A BGR uint8 image as the evaluation path reads it; DatasetError naming the file if unreadable."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise DatasetError(f"cannot read image {path} (missing or not an image)")
    return img
