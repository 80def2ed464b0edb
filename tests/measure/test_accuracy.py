"""Tests for harness.measure.accuracy: unletterbox round trip, both raw output formats, evaluate end to end."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from synthetic_detections import letterbox_forward as _forward

from harness.datasets.yolo import Sample
from harness.errors import DatasetError, HarnessError
from harness.imaging import LetterboxInfo, letterbox
from harness.measure.accuracy import evaluate, postprocess, unletterbox
from harness.measure.map import Detections

NAMES = ("circle", "square", "triangle")

shape_st = st.tuples(st.integers(1, 700), st.integers(1, 700))
imgsz_st = st.sampled_from([32, 64, 96, 160, 320, 640])


# ---------------------------------------------------------------- unletterbox


@given(shape_st, imgsz_st, st.lists(st.tuples(*[st.floats(0, 1)] * 4), min_size=1, max_size=5))
def test_unletterbox_inverts_letterbox(hw: tuple[int, int], imgsz: int, rel: list) -> None:
    _, info = letterbox(np.zeros((*hw, 3), dtype=np.uint8), imgsz)
    r = np.array(rel)
    h, w = hw
    boxes = np.stack(
        [
            np.minimum(r[:, 0], r[:, 2]) * w,
            np.minimum(r[:, 1], r[:, 3]) * h,
            np.maximum(r[:, 0], r[:, 2]) * w,
            np.maximum(r[:, 1], r[:, 3]) * h,
        ],
        axis=1,
    )
    dets = Detections(_forward(boxes, info, hw), np.ones(len(boxes)), np.zeros(len(boxes)))
    back = unletterbox(dets, info, (h, w, 3))
    np.testing.assert_allclose(back.boxes, boxes, rtol=1e-9, atol=1e-9 * max(hw))
    np.testing.assert_array_equal(back.scores, dets.scores)


def test_unletterbox_clips_to_image() -> None:
    info = LetterboxInfo(scale=0.5, pad_x=0, pad_y=10)
    dets = Detections([[-5.0, 0.0, 60.0, 40.0]], [0.9], [2])
    back = unletterbox(dets, info, (60, 100))  # resized to 50 x 30, padded 10 on top
    np.testing.assert_allclose(back.boxes, [[0.0, 0.0, 100.0, 60.0]])
    np.testing.assert_array_equal(back.scores, [0.9])
    np.testing.assert_array_equal(back.classes, [2])


# ---------------------------------------------------------------- postprocess


def _raw_nms(rows: list[tuple[float, float, float, float, list[float]]]) -> np.ndarray:
    """(1, 4 + nc, N) from (xc, yc, w, h, class scores) rows."""
    return np.array([[*box, *scores] for *box, scores in rows], dtype=np.float32).T[None]


def test_postprocess_nms_is_class_aware() -> None:
    raw = _raw_nms(
        [
            (50, 50, 20, 20, [0.9, 0.0, 0.0]),
            (51, 50, 20, 20, [0.8, 0.0, 0.0]),  # IoU ~0.9 with the first, same class: suppressed
            (51, 50, 20, 20, [0.0, 0.7, 0.0]),  # same place, other class: kept
            (150, 50, 20, 20, [0.6, 0.0, 0.0]),  # elsewhere: kept
            (90, 90, 10, 10, [0.0005, 0.0, 0.0]),  # below conf
        ]
    )
    (dets,) = postprocess(raw)
    np.testing.assert_allclose(dets.scores, [0.9, 0.7, 0.6], rtol=1e-6)
    np.testing.assert_array_equal(dets.classes, [0, 1, 0])
    np.testing.assert_allclose(dets.boxes[0], [40, 40, 60, 60])


def test_postprocess_nms_multi_label_and_limits() -> None:
    raw = _raw_nms([(50, 50, 20, 20, [0.9, 0.5, 0.3]), (150, 50, 20, 20, [0.2, 0.0, 0.0])])
    (dets,) = postprocess(raw)
    np.testing.assert_array_equal(dets.classes, [0, 1, 2, 0])  # one box, several classes
    (top,) = postprocess(raw, conf=0.25, max_det=2)
    np.testing.assert_allclose(top.scores, [0.9, 0.5], rtol=1e-6)


def test_postprocess_nms_matches_ultralytics() -> None:
    from ultralytics.utils.nms import non_max_suppression

    rng = np.random.default_rng(0)
    n, nc = 2000, 4
    xy, wh = rng.uniform(0, 320, (2, 2, n)), rng.uniform(4, 80, (2, 2, n))
    scores = rng.beta(0.3, 3, (2, nc, n))
    raw = np.concatenate([xy, wh, scores], axis=1).astype(np.float32)
    ours = postprocess(raw)
    ref = non_max_suppression(torch.from_numpy(raw), 0.001, 0.7, multi_label=True, max_det=300)
    for d, r in zip(ours, ref):
        expected = r.numpy()[np.lexsort((r[:, 5].numpy(), -r[:, 4].numpy()))]
        got = np.column_stack([d.boxes, d.scores, d.classes])[np.lexsort((d.classes, -d.scores))]
        assert len(d) == 300
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-4)


def test_postprocess_end_to_end() -> None:
    rows = [[10, 10, 30, 30, 0.9, 2], [0, 0, 5, 5, 0.0001, 1], [40, 40, 60, 70, 0.5, 0], [1, 1, 2, 2, 0.4, 1]]
    raw = np.array([rows, rows[::-1]], dtype=np.float32)
    first, second = postprocess(raw)
    np.testing.assert_allclose(first.scores, [0.9, 0.5, 0.4], rtol=1e-6)
    np.testing.assert_array_equal(first.classes, [2, 0, 1])
    np.testing.assert_allclose(first.boxes[1], [40, 40, 60, 70])
    assert len(second) == 3 and second.classes.dtype == np.int64
    (capped,) = postprocess(raw[:1], max_det=2)
    assert len(capped) == 2


def test_postprocess_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="got shape"):
        postprocess(np.zeros((7, 100), dtype=np.float32))
    with pytest.raises(ValueError, match="at least one class channel"):
        postprocess(np.zeros((1, 4, 100), dtype=np.float32))


# ---------------------------------------------------------------- evaluate


def _dataset(root: Path) -> tuple[list[Sample], dict[Path, np.ndarray]]:
    """Three non-square PNGs with labels (the third unlabelled); returns samples and xyxy ground truth."""
    sizes = [(120, 200), (90, 60), (64, 64)]
    labels = [
        [[0, 0.5, 0.5, 0.4, 0.3], [2, 0.2, 0.3, 0.1, 0.2]],
        [[1, 0.5, 0.6, 0.5, 0.5]],
        [],
    ]
    (root / "images").mkdir()
    (root / "labels").mkdir()
    samples, truth = [], {}
    for i, ((h, w), rows) in enumerate(zip(sizes, labels)):
        image, label = root / "images" / f"{i}.png", root / "labels" / f"{i}.txt"
        cv2.imwrite(str(image), np.full((h, w, 3), 40 * i, dtype=np.uint8))
        if rows:
            label.write_text("".join(" ".join(str(v) for v in row) + "\n" for row in rows))
        r = np.array(rows, dtype=np.float64).reshape(-1, 5)
        xyxy = np.column_stack(
            [
                (r[:, 1] - r[:, 3] / 2) * w,
                (r[:, 2] - r[:, 4] / 2) * h,
                (r[:, 1] + r[:, 3] / 2) * w,
                (r[:, 2] + r[:, 4] / 2) * h,
            ]
        )
        truth[image] = np.column_stack([xyxy, r[:, 0]])
        samples.append(Sample(image=image, label=label))
    return samples, truth


class _Oracle:
    """A fake model that outputs the ground truth (in letterbox pixels) of the samples it is fed, in order."""

    def __init__(
        self, samples: list[Sample], truth: dict[Path, np.ndarray], imgsz: int, end2end: bool
    ) -> None:
        self.queue = [(truth[s.image], cv2.imread(str(s.image)).shape[:2]) for s in samples]
        self.imgsz, self.end2end, self.batches = imgsz, end2end, []

    def _rows(self, gt: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
        _, info = letterbox(np.zeros((*hw, 3), dtype=np.uint8), self.imgsz)
        return np.column_stack([_forward(gt[:, :4], info, hw), np.full(len(gt), 0.9), gt[:, 4]])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.batches.append((x.shape, x.dtype))
        slots = 4  # detections per image in the fake output
        out = np.zeros((len(x), slots, 6), dtype=np.float32)
        for i in range(len(x)):
            if self.queue:
                rows = self._rows(*self.queue.pop(0))
                out[i, : len(rows)] = rows
        if self.end2end:
            return out
        xyxy, score, cls = out[..., :4], out[..., 4], out[..., 5].astype(int)
        raw = np.zeros((len(x), 4 + len(NAMES), slots), dtype=np.float32)
        raw[:, 0:2] = ((xyxy[..., :2] + xyxy[..., 2:]) / 2).transpose(0, 2, 1)
        raw[:, 2:4] = (xyxy[..., 2:] - xyxy[..., :2]).transpose(0, 2, 1)
        for b, j in zip(*np.nonzero(score)):
            raw[b, 4 + cls[b, j], j] = score[b, j]
        return raw


@pytest.mark.parametrize("end2end", [True, False])
@pytest.mark.parametrize("batch", [1, 2])
def test_evaluate_perfect_oracle(tmp_path: Path, end2end: bool, batch: int) -> None:
    samples, truth = _dataset(tmp_path)
    oracle = _Oracle(samples, truth, imgsz=96, end2end=end2end)
    result = evaluate(oracle, samples, NAMES, imgsz=96, batch=batch)
    assert result.map50 == pytest.approx(1.0) and result.map50_95 == pytest.approx(1.0)
    assert result.n_images == 3 and result.n_gt == 3 and set(result.per_class) == {0, 1, 2}
    assert oracle.batches == [((batch, 3, 96, 96), np.float32)] * (3 if batch == 1 else 2)


def test_evaluate_wrong_outputs(tmp_path: Path) -> None:
    samples, _ = _dataset(tmp_path)
    with pytest.raises(HarnessError, match="2 class channels .* dataset has 3 classes"):
        evaluate(lambda x: np.zeros((len(x), 6, 100), dtype=np.float32), samples, NAMES, imgsz=64)
    with pytest.raises(HarnessError, match="for a batch of 2"):
        evaluate(lambda x: np.zeros((1, 7, 100), dtype=np.float32), samples, NAMES, imgsz=64, batch=2)


def test_evaluate_bad_dataset(tmp_path: Path) -> None:
    samples, _ = _dataset(tmp_path)
    nothing = lambda x: np.zeros((len(x), 300, 6), dtype=np.float32)
    with pytest.raises(DatasetError, match="no labelled objects in 1 samples"):
        evaluate(nothing, samples[2:], NAMES, imgsz=64)
    broken = tmp_path / "images" / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="cannot read image .*broken.png"):
        evaluate(nothing, [Sample(broken, tmp_path / "labels" / "broken.txt")], NAMES, imgsz=64)
    assert evaluate(nothing, samples, NAMES, imgsz=64).map50_95 == 0.0
