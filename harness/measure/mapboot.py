"""Paired bootstrap of COCO mAP over validation images.

A bootstrap draw gives every image a multiplicity (how often it was drawn). mAP over a resampled
set equals mAP with each image's detections and ground truth counted that many times, so the
per-image matching (which does not depend on the draw) is done once; each draw only re-weights
the cumulative true/false-positive counts. With every weight 1 this is exactly
:func:`harness.measure.map.mean_average_precision` (tested).

Paired: a variant and its reference are evaluated on the *same* draws, so image difficulty,
which dominates mAP's variance, cancels in their difference.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from harness.measure.map import (
    COCO_MAX_DET,
    IOU_THRESHOLDS,
    RECALL_THRESHOLDS,
    Detections,
    GroundTruth,
    image_class_matches,
)
from harness.measure.stats import DEFAULT_CONFIDENCE, Interval, percentile_interval

__all__ = ["DEFAULT_MAP_RESAMPLES", "MatchTable", "paired_map_drop"]

DEFAULT_MAP_RESAMPLES = 1000


@dataclass(frozen=True, eq=False)
class _ClassMatches:
    """One class's detections over all images, sorted by score: TP flags (T, D) and image (D,)."""

    tp: np.ndarray
    image: np.ndarray
    gt_per_image: np.ndarray  # (I,)


@dataclass(frozen=True, eq=False)
class MatchTable:
    """Matched detections of one model on a fixed image list, ready to be re-weighted."""

    classes: tuple[_ClassMatches, ...]
    n_images: int
    class_ids: tuple[int, ...] = ()  # the class id of each entry of ``classes``
    _draws: dict[tuple[int, int], np.ndarray] = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls, dets: Sequence[Detections], gts: Sequence[GroundTruth], max_det: int = COCO_MAX_DET
    ) -> MatchTable:
        """Match every image's detections against its ground truth, per class, as pycocotools."""
        if len(dets) != len(gts):
            raise ValueError(f"got detections for {len(dets)} images but ground truth for {len(gts)}")
        present = sorted({int(c) for gt in gts for c in gt.classes})
        return cls(tuple(_class(dets, gts, c, max_det) for c in present), len(gts), tuple(present))

    def only(self, class_ids: Collection[int]) -> MatchTable:
        """The table restricted to ``class_ids`` (its mAP is theirs alone: e.g. the rare classes)."""
        keep = [i for i, c in enumerate(self.class_ids) if c in class_ids]
        return MatchTable(
            tuple(self.classes[i] for i in keep), self.n_images, tuple(self.class_ids[i] for i in keep)
        )

    def map50_95(self, weights: np.ndarray) -> np.ndarray:
        """(B,) mAP50-95 for (B, I) image weights; classes with no weighted ground truth are left out."""
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim != 2 or weights.shape[1] != self.n_images:
            raise ValueError(f"weights must have shape (B, {self.n_images}), got {weights.shape}")
        per_class = np.stack([_weighted_ap(c, weights) for c in self.classes], axis=1)  # (B, K)
        return np.nanmean(per_class, axis=1)

    def bootstrap(self, resamples: int, seed: int = 0) -> np.ndarray:
        """(resamples,) mAP50-95 under :func:`bootstrap_weights` ``(n_images, resamples, seed)``,
        computed once per table: every check against the same reference reuses its draws."""
        key = (resamples, seed)
        if key not in self._draws:
            self._draws[key] = self.map50_95(bootstrap_weights(self.n_images, resamples, seed))
        return self._draws[key]


def _class(dets: Sequence[Detections], gts: Sequence[GroundTruth], cls: int, max_det: int) -> _ClassMatches:
    """Concatenate one class's per-image matches in image order, then stable-sort by score."""
    scores, tps, images = [], [], []
    for i, (det, gt) in enumerate(zip(dets, gts)):
        s, tp = image_class_matches(det, gt, cls, max_det)
        scores.append(s)
        tps.append(tp)
        images.append(np.full(len(s), i))
    order = np.argsort(-np.concatenate(scores), kind="mergesort")
    tp, image = np.concatenate(tps, axis=1)[:, order], np.concatenate(images)[order]
    hits = np.flatnonzero(tp.any(axis=0))
    keep = hits[-1] + 1 if len(hits) else 0  # false positives after the last hit change no AP
    gt_counts = np.array([int(np.sum(gt.classes == cls)) for gt in gts], dtype=np.float64)
    return _ClassMatches(tp[:, :keep], image[:keep], gt_counts)


def _weighted_ap(matches: _ClassMatches, weights: np.ndarray) -> np.ndarray:
    """(B,) AP50-95 of one class under (B, I) image weights (NaN where it has no ground truth).

    Only the true positives' positions are evaluated: a false positive keeps recall and lowers
    precision, so it never raises the precision envelope above the hit before it. The weighted
    count of everything seen so far is summed once per class; at each hit, FP = seen - TP (exact
    for integer multiplicities).
    """
    n_gt = weights @ matches.gt_per_image  # (B,)
    out = np.full(len(weights), np.nan)
    has_gt = n_gt > 0
    if not has_gt.any():
        return out
    w = weights[has_gt][:, matches.image]  # (B', D)
    seen = np.cumsum(w, axis=1)
    aps = np.zeros((len(w), len(IOU_THRESHOLDS)))
    for t in range(len(IOU_THRESHOLDS)):
        hits = np.flatnonzero(matches.tp[t])
        tp_sum = np.cumsum(w[:, hits], axis=1)
        aps[:, t] = _ap(tp_sum, seen[:, hits] - tp_sum, n_gt[has_gt])
    out[has_gt] = aps.mean(axis=1)
    return out


def _ap(tp_sum: np.ndarray, fp_sum: np.ndarray, n_gt: np.ndarray) -> np.ndarray:
    """(B,) COCO 101-point AP from (B, D) cumulative weighted TP/FP counts.

    Every row's recall is non-decreasing, so offsetting row b by 2b (recall is in [0, 1]) makes the
    flattened array sorted, and one ``searchsorted`` finds every row's recall points at once.
    """
    n_rows, n_det = tp_sum.shape
    if n_det == 0:
        return np.zeros(n_rows)
    recall = tp_sum / n_gt[:, None]
    precision = tp_sum / (tp_sum + fp_sum + np.spacing(1))
    envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    offset = 2.0 * np.arange(n_rows)[:, None]
    idx = np.searchsorted(
        (recall + offset).ravel(), (RECALL_THRESHOLDS[None, :] + offset).ravel(), side="left"
    )
    idx = idx.reshape(n_rows, -1) - n_det * np.arange(n_rows)[:, None]
    reached = idx < n_det
    values = np.take_along_axis(envelope, np.minimum(idx, n_det - 1), axis=1)
    return np.where(reached, values, 0.0).sum(axis=1) / len(RECALL_THRESHOLDS)


def bootstrap_weights(n_images: int, resamples: int, seed: int = 0) -> np.ndarray:
    """(resamples, n_images) multiplicities of images drawn with replacement."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_images, size=(resamples, n_images))
    return np.stack([np.bincount(row, minlength=n_images) for row in draws]).astype(np.float64)


def paired_map_drop(
    variant: MatchTable,
    reference: MatchTable,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_MAP_RESAMPLES,
    seed: int = 0,
) -> Interval:
    """Interval of mAP50-95(reference) - mAP50-95(variant) over the same resampled images."""
    if variant.n_images != reference.n_images:
        raise ValueError(f"variant has {variant.n_images} images, reference {reference.n_images}")
    ones = np.ones((1, variant.n_images))
    estimate = float(reference.map50_95(ones)[0] - variant.map50_95(ones)[0])
    draws = reference.bootstrap(resamples, seed) - variant.bootstrap(resamples, seed)
    return dataclasses.replace(percentile_interval(estimate, draws, confidence), n=variant.n_images)
