"""Synthetic ground truth and detections for tests of mAP and its verdicts (no model needed)."""

from __future__ import annotations

import numpy as np

from harness.imaging import LetterboxInfo
from harness.measure.map import Detections, GroundTruth


def scene(rng: np.random.Generator, n_images: int = 60, nc: int = 3) -> list[GroundTruth]:
    """Random labelled boxes: 1-5 objects per image, ``nc`` classes."""
    gts = []
    for _ in range(n_images):
        m = int(rng.integers(1, 6))
        xy = rng.uniform(0, 200, size=(m, 2))
        wh = rng.uniform(10, 60, size=(m, 2))
        gts.append(GroundTruth(np.hstack([xy, xy + wh]), rng.integers(0, nc, size=m)))
    return gts


def detect(gts: list[GroundTruth], rng: np.random.Generator, jitter: float) -> list[Detections]:
    """Detections of a decent model: every object found with box noise, plus some false positives."""
    dets = []
    for gt in gts:
        size = gt.boxes[:, 2:] - gt.boxes[:, :2]
        noise = rng.normal(0, jitter, size=gt.boxes.shape) * np.hstack([size, size])
        fp_xy = rng.uniform(0, 200, size=(2, 2))
        boxes = np.vstack([gt.boxes + noise, np.hstack([fp_xy, fp_xy + 30])])
        scores = np.concatenate([rng.uniform(0.3, 1.0, len(gt.boxes)), rng.uniform(0.0, 0.6, 2)])
        classes = np.concatenate([gt.classes, rng.integers(0, 3, 2)])
        dets.append(Detections(boxes, scores, classes))
    return dets


def letterbox_forward(boxes: np.ndarray, info: LetterboxInfo, orig_hw: tuple[int, int]) -> np.ndarray:
    """Original pixels -> letterbox pixels, using the resized size Ultralytics rounds to."""
    h, w = orig_hw
    gx, gy = max(round(w * info.scale), 1) / w, max(round(h * info.scale), 1) / h
    return boxes * [gx, gy, gx, gy] + [info.pad_x, info.pad_y, info.pad_x, info.pad_y]
