"""COCO box mAP in numpy, reproducing pycocotools' ``COCOeval`` (iouType 'bbox') step by step.

What is reproduced, so that results agree with pycocotools to floating-point round-off:

* IoU from ``x, y, w, h`` with the right edge taken as ``x + w`` and no ``+1`` (``maskApi.c bbIou``).
* Ten IoU thresholds ``linspace(.5, .95, 10)`` and 101 recall points ``linspace(0, 1, 101)``.
* Per image and class: detections sorted by score with a stable sort, the first ``max_det`` kept
  (pycocotools' ``maxDets`` applies per image *and* category), then greedy matching: each detection
  takes the unmatched ground truth with the highest IoU >= threshold, the later one on ties.
* Per class: the kept detections of all images, concatenated in image order, stable-sorted by score;
  precision made monotone (envelope) and read at each recall point (0 beyond the reached recall).
* Area range 'all', no crowd boxes; classes without ground truth are left out of the mean.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)
COCO_MAX_DET = 100


def _array(value: object, dtype: type, columns: int | None, what: str) -> np.ndarray:
    arr: np.ndarray = np.asarray(value, dtype=dtype)
    if arr.size == 0:
        return arr.reshape((0, columns) if columns else (0,))
    expected = 2 if columns else 1
    if arr.ndim != expected or (columns and arr.shape[1] != columns):
        shape = f"(n, {columns})" if columns else "(n,)"
        raise ValueError(f"{what} must have shape {shape}, got {arr.shape}")
    return arr


@dataclass(frozen=True, eq=False)
class Detections:
    """Detections of one image: ``boxes`` (n, 4) xyxy pixels, ``scores`` (n,), ``classes`` (n,) int."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "boxes", _array(self.boxes, np.float64, 4, "Detections.boxes"))
        object.__setattr__(self, "scores", _array(self.scores, np.float64, None, "Detections.scores"))
        object.__setattr__(self, "classes", _array(self.classes, np.int64, None, "Detections.classes"))
        if not len(self.boxes) == len(self.scores) == len(self.classes):
            raise ValueError(
                f"Detections lengths differ: boxes {len(self.boxes)}, scores {len(self.scores)}, "
                f"classes {len(self.classes)}"
            )

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls) -> Detections:
        """No detections."""
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64))


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """Labelled objects of one image: ``boxes`` (m, 4) xyxy pixels, ``classes`` (m,) int."""

    boxes: np.ndarray
    classes: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "boxes", _array(self.boxes, np.float64, 4, "GroundTruth.boxes"))
        object.__setattr__(self, "classes", _array(self.classes, np.int64, None, "GroundTruth.classes"))
        if len(self.boxes) != len(self.classes):
            raise ValueError(
                f"GroundTruth lengths differ: boxes {len(self.boxes)}, classes {len(self.classes)}"
            )

    def __len__(self) -> int:
        return len(self.boxes)


@dataclass(frozen=True)
class MapResult:
    """COCO box mAP over a dataset.

    ``map50`` and ``map50_95`` are NaN when there is no ground truth at all. ``per_class`` holds
    AP50-95 for every class that has ground truth.
    """

    map50: float
    map50_95: float
    per_class: dict[int, float]
    n_images: int
    n_gt: int


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (len(a), len(b)) of xyxy boxes, computed as pycocotools does (via x, y, w, h).

    Boxes without overlap, and degenerate boxes, give 0.
    """
    a = _array(a, np.float64, 4, "box_iou a")
    b = _array(b, np.float64, 4, "box_iou b")
    aw, ah = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    bw, bh = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    iw = np.minimum((a[:, 0] + aw)[:, None], b[:, 0] + bw) - np.maximum(a[:, 0, None], b[:, 0])
    ih = np.minimum((a[:, 1] + ah)[:, None], b[:, 1] + bh) - np.maximum(a[:, 1, None], b[:, 1])
    inter = iw * ih
    union = (aw * ah)[:, None] + bw * bh - inter
    overlap = (iw > 0) & (ih > 0)
    return np.divide(inter, union, out=np.zeros_like(inter), where=overlap)


def _greedy_match(ious: np.ndarray) -> np.ndarray:
    """(T, D) true-positive flags for score-sorted detections against (D, G) IoUs, per threshold."""
    n_det, n_gt = ious.shape
    tp = np.zeros((len(IOU_THRESHOLDS), n_det), dtype=bool)
    if n_det == 0 or n_gt == 0:
        return tp
    taken = np.zeros((len(IOU_THRESHOLDS), n_gt), dtype=bool)
    rows = np.arange(len(IOU_THRESHOLDS))
    for d in range(n_det):
        candidates = np.where(taken, -1.0, ious[d])
        best = n_gt - 1 - np.argmax(candidates[:, ::-1], axis=1)  # last maximum, as pycocotools
        hit = candidates[rows, best] >= IOU_THRESHOLDS
        tp[hit, d] = True
        taken[rows[hit], best[hit]] = True
    return tp


def image_class_matches(
    det: Detections, gt: GroundTruth, cls: int, max_det: int
) -> tuple[np.ndarray, np.ndarray]:
    """Scores (D,) and true-positive flags (T, D) of one image's top-``max_det`` detections of ``cls``."""
    mask = det.classes == cls
    scores = det.scores[mask]
    order = np.argsort(-scores, kind="mergesort")[:max_det]
    ious = box_iou(det.boxes[mask][order], gt.boxes[gt.classes == cls])
    return scores[order], _greedy_match(ious)


def _precision_curve(scores: np.ndarray, tp: np.ndarray, n_gt: int) -> np.ndarray:
    """(T, R) interpolated precision at the COCO recall points for one class."""
    order = np.argsort(-scores, kind="mergesort")
    tp = tp[:, order]
    tp_sum = np.cumsum(tp, axis=1).astype(float)
    fp_sum = np.cumsum(~tp, axis=1).astype(float)
    recall = tp_sum / n_gt
    precision = tp_sum / (fp_sum + tp_sum + np.spacing(1))
    precision = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    curve = np.zeros((len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS)))
    for t in range(len(IOU_THRESHOLDS)):
        idx = np.searchsorted(recall[t], RECALL_THRESHOLDS, side="left")
        reached = idx < len(scores)
        curve[t, reached] = precision[t, idx[reached]]
    return curve


def _collect(
    dets: Sequence[Detections], gts: Sequence[GroundTruth], max_det: int
) -> tuple[dict[int, list[np.ndarray]], dict[int, list[np.ndarray]], dict[int, int]]:
    """Per class: score arrays and TP arrays in image order, and the ground-truth count."""
    n_gt: dict[int, int] = defaultdict(int)
    for gt in gts:
        for cls, count in zip(*np.unique(gt.classes, return_counts=True)):
            n_gt[int(cls)] += int(count)
    scores: dict[int, list[np.ndarray]] = defaultdict(list)
    tps: dict[int, list[np.ndarray]] = defaultdict(list)
    for det, gt in zip(dets, gts):
        for cls in np.unique(np.concatenate([det.classes, gt.classes])):
            if int(cls) in n_gt:
                s, tp = image_class_matches(det, gt, int(cls), max_det)
                scores[int(cls)].append(s)
                tps[int(cls)].append(tp)
    return scores, tps, dict(n_gt)


def mean_average_precision(
    dets: Sequence[Detections], gts: Sequence[GroundTruth], max_det: int = COCO_MAX_DET
) -> MapResult:
    """COCO mAP50 and mAP50-95 of ``dets`` against ``gts`` (same image order), as pycocotools.

    ``max_det`` is pycocotools' ``maxDets``: detections kept per image and class, by score.
    """
    if len(dets) != len(gts):
        raise ValueError(f"got detections for {len(dets)} images but ground truth for {len(gts)}")
    if max_det < 1:
        raise ValueError(f"max_det must be >= 1, got {max_det}")
    scores, tps, n_gt = _collect(dets, gts, max_det)
    classes = sorted(n_gt)
    total_gt = sum(n_gt.values())
    if not classes:
        return MapResult(float("nan"), float("nan"), {}, len(gts), 0)
    curves = np.stack(
        [
            _precision_curve(np.concatenate(scores[c]), np.concatenate(tps[c], axis=1), n_gt[c])
            for c in classes
        ],
        axis=-1,
    )  # (T, R, K) like pycocotools' precision[:, :, :, area 'all', maxDets]
    per_class = {c: float(np.mean(curves[:, :, k])) for k, c in enumerate(classes)}
    return MapResult(
        map50=float(np.mean(curves[0])),
        map50_95=float(np.mean(curves)),
        per_class=per_class,
        n_images=len(gts),
        n_gt=total_gt,
    )
