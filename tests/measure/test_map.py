"""Tests for harness.measure.map: IoU and mAP properties; agreement with pycocotools and faster-coco-eval."""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.measure.map import (
    Detections,
    GroundTruth,
    MapResult,
    box_iou,
    mean_average_precision,
)

NC = 6  # class NC - 1 never appears in the generated ground truth
WIDTH, HEIGHT = 640, 480
TOLERANCE = 1e-6  # the harness contract is 0.002; the implementation is exact up to round-off


# ---------------------------------------------------------------- strategies


@st.composite
def boxes_st(draw: st.DrawFn, min_size: int = 0, max_n: int = 8, grid: int = 64) -> np.ndarray:
    """(n, 4) xyxy integer-valued boxes on a small grid (many exact ties in IoU)."""
    n = draw(st.integers(0, max_n))
    rows = []
    for _ in range(n):
        x1, y1 = draw(st.integers(0, grid)), draw(st.integers(0, grid))
        w, h = draw(st.integers(min_size, grid)), draw(st.integers(min_size, grid))
        rows.append([x1, y1, x1 + w, y1 + h])
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


@st.composite
def image_st(draw: st.DrawFn, n_classes: int = 3) -> tuple[Detections, GroundTruth]:
    """One image: ground truth (positive area) and detections with coarse (often tied) scores."""
    gt_boxes = draw(boxes_st(min_size=1, max_n=5, grid=24))
    gt_classes = np.array([draw(st.integers(0, n_classes - 1)) for _ in gt_boxes], dtype=np.int64)
    det_boxes = draw(boxes_st(min_size=1, max_n=7, grid=24))
    scores = np.array([draw(st.integers(1, 10)) / 10 for _ in det_boxes])
    det_classes = np.array([draw(st.integers(0, n_classes - 1)) for _ in det_boxes], dtype=np.int64)
    return Detections(det_boxes, scores, det_classes), GroundTruth(gt_boxes, gt_classes)


dataset_st = st.lists(image_st(), min_size=1, max_size=6)


def _perfect(gts: Sequence[GroundTruth], rng: np.random.Generator) -> list[Detections]:
    return [Detections(g.boxes, rng.uniform(0.01, 1.0, len(g)), g.classes) for g in gts]


def _has_gt(gts: Sequence[GroundTruth]) -> bool:
    return sum(len(g) for g in gts) > 0


def _assert_same(a: MapResult, b: MapResult) -> None:
    np.testing.assert_equal(asdict(a), asdict(b))  # NaN (no ground truth) equals NaN


# ---------------------------------------------------------------- box_iou


@given(boxes_st(), boxes_st())
def test_iou_symmetric_and_bounded(a: np.ndarray, b: np.ndarray) -> None:
    ious = box_iou(a, b)
    assert ious.shape == (len(a), len(b))
    np.testing.assert_allclose(ious, box_iou(b, a).T, rtol=0, atol=1e-12)
    assert np.all((ious >= 0) & (ious <= 1))


@given(boxes_st(min_size=1))
def test_iou_self_is_one(a: np.ndarray) -> None:
    np.testing.assert_allclose(np.diag(box_iou(a, a)), 1.0)


@given(boxes_st(), boxes_st())
def test_iou_matches_scalar_formula(a: np.ndarray, b: np.ndarray) -> None:
    def scalar(p: np.ndarray, q: np.ndarray) -> float:
        iw = min(p[2], q[2]) - max(p[0], q[0])
        ih = min(p[3], q[3]) - max(p[1], q[1])
        if iw <= 0 or ih <= 0:
            return 0.0
        inter = iw * ih
        return inter / ((p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter)

    expected = np.array([[scalar(p, q) for q in b] for p in a]).reshape(len(a), len(b))
    np.testing.assert_allclose(box_iou(a, b), expected, rtol=1e-12, atol=0)


@given(boxes_st(), boxes_st(), st.integers(-100, 100), st.integers(-100, 100))
def test_iou_translation_and_scale_invariant(a: np.ndarray, b: np.ndarray, dx: int, dy: int) -> None:
    shift = np.array([dx, dy, dx, dy], dtype=np.float64)
    np.testing.assert_allclose(box_iou(a + shift, b + shift), box_iou(a, b), atol=1e-12)
    np.testing.assert_array_equal(box_iou(a * 4, b * 4), box_iou(a, b))  # power of two: exact


def test_iou_known_values() -> None:
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 15, 10], [10, 10, 20, 20], [2, 2, 4, 4], [0, 0, 0, 10]])
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 0.0, 4 / 100, 0.0]])


# ---------------------------------------------------------------- mAP properties


@given(st.lists(boxes_st(min_size=1, max_n=6), min_size=1, max_size=5), st.randoms(use_true_random=False))
def test_perfect_predictions_score_one(boxes: list[np.ndarray], random: Any) -> None:
    gts = [GroundTruth(b, np.arange(len(b)) % 3) for b in boxes]
    rng = np.random.default_rng(random.randint(0, 2**32 - 1))
    result = mean_average_precision(_perfect(gts, rng), gts)
    if _has_gt(gts):
        # pycocotools' precision is tp / (tp + fp + eps), so "1" is 1 - 2e-16
        assert result.map50 == pytest.approx(1.0, abs=1e-12)
        assert result.map50_95 == pytest.approx(1.0, abs=1e-12)
        assert all(ap == pytest.approx(1.0, abs=1e-12) for ap in result.per_class.values())
    else:
        assert math.isnan(result.map50) and result.n_gt == 0


@given(dataset_st)
def test_empty_predictions_score_zero(data: list[tuple[Detections, GroundTruth]]) -> None:
    gts = [g for _, g in data]
    result = mean_average_precision([Detections.empty() for _ in gts], gts)
    if _has_gt(gts):
        assert result.map50 == 0.0 and result.map50_95 == 0.0
    assert result.n_images == len(gts) and result.n_gt == sum(len(g) for g in gts)


@given(dataset_st)
def test_bounded_and_per_class_mean(data: list[tuple[Detections, GroundTruth]]) -> None:
    dets, gts = zip(*data)
    result = mean_average_precision(dets, gts)
    if _has_gt(gts):
        assert 0.0 <= result.map50_95 <= 1.0 and 0.0 <= result.map50 <= 1.0
        assert set(result.per_class) == {int(c) for g in gts for c in g.classes}
        assert result.map50_95 == pytest.approx(np.mean(list(result.per_class.values())), abs=1e-12)


@given(dataset_st, st.randoms(use_true_random=False))
def test_invariant_to_detection_order_when_scores_distinct(
    data: list[tuple[Detections, GroundTruth]], random: Any
) -> None:
    dets, gts = zip(*data)
    rng = np.random.default_rng(random.randint(0, 2**32 - 1))
    unique = [Detections(d.boxes, rng.permutation(len(d)) + rng.uniform(0, 0.5), d.classes) for d in dets]
    shuffled = []
    for d in unique:
        p = rng.permutation(len(d))
        shuffled.append(Detections(d.boxes[p], d.scores[p], d.classes[p]))
    _assert_same(mean_average_precision(unique, gts), mean_average_precision(shuffled, gts))


@given(dataset_st, st.floats(0.0, 2.0), st.integers(0, 2))
def test_extra_false_positive_never_helps(
    data: list[tuple[Detections, GroundTruth]], score: float, cls: int
) -> None:
    """A detection overlapping no ground truth lowers or keeps AP; with the lowest score it keeps it."""
    dets, gts = zip(*data)
    before = mean_average_precision(dets, gts)
    fp = np.array([[1000.0, 1000.0, 1010.0, 1010.0]])
    d0 = dets[0]
    worse = [Detections(np.vstack([d0.boxes, fp]), np.append(d0.scores, score), np.append(d0.classes, cls))]
    after = mean_average_precision(worse + list(dets[1:]), gts)
    if not _has_gt(gts):
        return
    assert after.map50 <= before.map50 + 1e-12 and after.map50_95 <= before.map50_95 + 1e-12
    if score == 0.0:  # all generated scores are >= 0.1, so this one ranks last
        _assert_same(after, before)


@given(dataset_st)
def test_class_without_ground_truth_is_ignored(data: list[tuple[Detections, GroundTruth]]) -> None:
    dets, gts = zip(*data)
    extra = [
        Detections(
            np.vstack([d.boxes, g.boxes]),
            np.append(d.scores, np.ones(len(g))),
            np.append(d.classes, [9] * len(g)),
        )
        for d, g in zip(dets, gts)
    ]
    _assert_same(mean_average_precision(extra, gts), mean_average_precision(dets, gts))


def test_half_recall_and_ranking() -> None:
    gt = GroundTruth([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0])
    hit_first = Detections([[0, 0, 10, 10], [50, 50, 60, 60]], [0.9, 0.8], [0, 0])
    miss_first = Detections([[0, 0, 10, 10], [50, 50, 60, 60]], [0.8, 0.9], [0, 0])
    # recall 0.5 at precision 1 -> 51 of 101 recall points
    assert mean_average_precision([hit_first], [gt]).map50 == pytest.approx(51 / 101)
    assert mean_average_precision([miss_first], [gt]).map50 == pytest.approx(51 / 101 * 0.5)


def test_max_det_applies_per_image_and_class() -> None:
    gt = GroundTruth([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 1])
    dets = Detections([[50, 50, 60, 60], [0, 0, 10, 10], [20, 20, 30, 30]], [0.9, 0.5, 0.4], [0, 0, 1])
    assert mean_average_precision([dets], [gt], max_det=1).per_class == pytest.approx({0: 0.0, 1: 1.0})
    assert mean_average_precision([dets], [gt], max_det=2).per_class[0] == pytest.approx(0.5)


def test_iou_tie_goes_to_later_ground_truth() -> None:
    """pycocotools gives a detection the *last* of equally good ground truths, even if that costs a match."""
    gt = GroundTruth([[0, 0, 10, 10], [2, 0, 12, 10]], [0, 0])
    # d1 has IoU 9/11 with both; d2 overlaps only the second (IoU 2/3; 3/7 with the first)
    dets = Detections([[1, 0, 11, 10], [4, 0, 14, 10]], [0.9, 0.8], [0, 0])
    ours = mean_average_precision([dets], [gt])
    assert ours.map50 == pytest.approx(51 / 101)  # greedy: d1 takes the second, d2 is a false positive
    _assert_agrees(ours, _reference("pycocotools", [dets], [gt], None))


def test_rejects_mismatched_inputs() -> None:
    with pytest.raises(ValueError, match="2 images but ground truth for 1"):
        mean_average_precision([Detections.empty()] * 2, [GroundTruth(np.zeros((0, 4)), [])])
    with pytest.raises(ValueError, match=r"boxes must have shape \(n, 4\)"):
        Detections(np.zeros((2, 5)), np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="lengths differ"):
        GroundTruth(np.zeros((2, 4)), [0])


# ---------------------------------------------------------------- cross-check with the reference tools


def _synthetic(seed: int, n_images: int = 300, score_levels: int | None = None) -> tuple[list, list]:
    """Realistic predictions: jittered ground truth, duplicates, wrong classes, low-score false positives."""
    rng = np.random.default_rng(seed)
    size = np.array([WIDTH, HEIGHT])
    dets, gts = [], []
    for _ in range(n_images):
        m = 0 if rng.random() < 0.1 else int(rng.integers(0, 12))
        wh = np.exp(rng.uniform(np.log(6), np.log(300), (m, 2)))
        xy = rng.uniform(0, 1, (m, 2)) * (size - wh)
        gt = GroundTruth(np.hstack([xy, xy + wh]), rng.integers(0, NC - 1, m))
        boxes, scores, classes = [], [], []
        for box, cls in zip(gt.boxes, gt.classes):
            for k in range(int(rng.choice([0, 1, 1, 1, 2]))):
                boxes.append(box + rng.normal(0, 0.08 + 0.1 * k, 4) * np.tile(box[2:] - box[:2], 2))
                scores.append(rng.beta(5, 2) * 0.7**k)
                classes.append(cls if rng.random() > 0.1 else rng.integers(0, NC))
        for _ in range(rng.poisson(4)):
            fp_wh = np.exp(rng.uniform(np.log(4), np.log(200), 2))
            fp_xy = rng.uniform(0, 1, 2) * (size - fp_wh)
            boxes.append(np.concatenate([fp_xy, fp_xy + fp_wh]))
            scores.append(rng.beta(1, 6))
            classes.append(rng.integers(0, NC))
        b = np.array(boxes).reshape(-1, 4).clip(0, np.tile(size, 2))
        b[:, 2:] = np.maximum(b[:, 2:], b[:, :2] + 0.5)
        s = np.array(scores, dtype=np.float32)
        if score_levels:
            s = np.round(s * score_levels) / score_levels  # many exact ties
        dets.append(Detections(b.astype(np.float32), s, np.array(classes, dtype=np.int64)))
        gts.append(gt)
    return dets, gts


def _coco_json(dets: Sequence[Detections], gts: Sequence[GroundTruth]) -> tuple[dict, list[dict]]:
    def xywh(b: np.ndarray) -> list[float]:
        return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]

    images = [{"id": i + 1, "width": WIDTH, "height": HEIGHT} for i in range(len(gts))]
    anns = []
    for i, g in enumerate(gts):
        for box, cls in zip(g.boxes, g.classes):
            bbox = xywh(box)
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i + 1,
                    "category_id": int(cls) + 1,
                    "bbox": bbox,
                    "area": bbox[2] * bbox[3],
                    "iscrowd": 0,
                }
            )
    categories = [{"id": c + 1, "name": f"c{c}"} for c in range(NC)]
    results = [
        {"image_id": i + 1, "category_id": int(c) + 1, "bbox": xywh(b), "score": float(s)}
        for i, d in enumerate(dets)
        for b, s, c in zip(d.boxes, d.scores, d.classes)
    ]
    return {"images": images, "annotations": anns, "categories": categories}, results


def _reference(tool: str, dets: Sequence, gts: Sequence, max_det: int | None) -> tuple[float, float, dict]:
    """(mAP50, mAP50-95, per-class AP50-95) from pycocotools or faster-coco-eval.

    max_det None keeps the default maxDets [1, 10, 100] and reads the summary stats.
    """
    if tool == "pycocotools":
        coco_mod = pytest.importorskip("pycocotools.coco")
        COCO, COCOeval = coco_mod.COCO, pytest.importorskip("pycocotools.cocoeval").COCOeval
    else:
        fce = pytest.importorskip("faster_coco_eval")
        COCO, COCOeval = fce.COCO, fce.COCOeval_faster
    dataset, results = _coco_json(dets, gts)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = dataset
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(results), "bbox")
        if max_det is not None:
            ev.params.maxDets = [max_det]
        ev.evaluate()
        ev.accumulate()
        if max_det is None:
            ev.summarize()
    p = ev.eval["precision"][:, :, :, 0, -1]  # (T, R, K) at area 'all', largest maxDets
    per_class = {c: float(np.mean(p[:, :, c])) for c in range(NC) if p[0, 0, c] > -1}
    if max_det is None:
        return float(ev.stats[1]), float(ev.stats[0]), per_class
    return float(np.mean(p[0][p[0] > -1])), float(np.mean(p[p > -1])), per_class


def _assert_agrees(ours: MapResult, ref: tuple[float, float, dict]) -> None:
    assert abs(ours.map50 - ref[0]) <= TOLERANCE, (ours.map50, ref[0])
    assert abs(ours.map50_95 - ref[1]) <= TOLERANCE, (ours.map50_95, ref[1])
    assert ours.per_class.keys() == ref[2].keys()
    for cls, ap in ref[2].items():
        assert abs(ours.per_class[cls] - ap) <= TOLERANCE, (cls, ours.per_class[cls], ap)


@pytest.mark.parametrize("tool", ["pycocotools", "faster-coco-eval"])
@pytest.mark.parametrize(
    ("seed", "score_levels", "max_det"),
    [(0, None, None), (1, None, None), (2, None, None), (3, 20, None), (4, None, 3), (5, 10, 2)],
)
def test_agrees_with_reference(tool: str, seed: int, score_levels: int | None, max_det: int | None) -> None:
    dets, gts = _synthetic(seed, score_levels=score_levels)
    ours = mean_average_precision(dets, gts, max_det=max_det or 100)
    assert 0.2 < ours.map50_95 < ours.map50 < 0.95  # realistic, not degenerate
    _assert_agrees(ours, _reference(tool, dets, gts, max_det))


@settings(max_examples=150, deadline=None)
@given(dataset_st, st.sampled_from([1, 2, 100]))
def test_agrees_with_pycocotools_on_ties(data: list[tuple[Detections, GroundTruth]], max_det: int) -> None:
    """Integer boxes and coarse scores: exact IoU and score ties exercise the tie-breaking rules."""
    dets, gts = zip(*data)
    if not _has_gt(gts) or not any(len(d) for d in dets):
        return  # pycocotools cannot load empty results and reports -1 without ground truth
    ours = mean_average_precision(dets, gts, max_det=max_det)
    _assert_agrees(ours, _reference("pycocotools", dets, gts, max_det))
