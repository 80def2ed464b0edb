"""The one pre- and post-processing path used to measure the accuracy of every backend.

:func:`harness.imaging.letterbox` and ``unletterbox`` mirror Ultralytics' ``LetterBox`` (centred,
scale-up allowed, pad 114, bilinear) and ``scale_boxes``; ``postprocess`` mirrors the NMS of
Ultralytics' detection validator (multi-label, class-aware) without its time limit, so results do
not depend on speed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from harness.datasets.yolo import Sample, read_labels
from harness.errors import DatasetError, HarnessError
from harness.imaging import LetterboxInfo, letterbox, read_image, unletterbox_boxes
from harness.measure.map import COCO_MAX_DET, Detections, GroundTruth, MapResult, mean_average_precision

if TYPE_CHECKING:
    import torch

__all__ = ["detect", "evaluate", "postprocess", "score", "unletterbox"]

MAX_NMS = 30_000  # candidate boxes fed to NMS per image, as Ultralytics

Predict = Callable[[np.ndarray], np.ndarray]


def _threshold(pred: np.ndarray, conf: float, max_det: int) -> Detections:
    """End-to-end rows [x1, y1, x2, y2, score, cls]: keep score > conf, the first max_det."""
    pred = pred[pred[:, 4] > conf][:max_det]
    return Detections(pred[:, :4], pred[:, 4], pred[:, 5].astype(np.int64))


def _xywh2xyxy(xywh: torch.Tensor) -> torch.Tensor:
    import torch

    xy, half = xywh[:, :2], xywh[:, 2:] / 2
    return torch.cat([xy - half, xy + half], dim=1)


def _nms(pred: np.ndarray, conf: float, iou: float, max_det: int) -> Detections:
    import torch
    import torchvision  # torch and torchvision load on first use: an exported graph's process skips them

    """(4 + nc, N) centre-xywh + class scores: every class score > conf is a candidate, class-aware NMS."""
    x = torch.from_numpy(np.ascontiguousarray(pred.T, dtype=np.float32))
    anchor, cls = torch.nonzero(x[:, 4:] > conf, as_tuple=True)
    scores = x[anchor, 4 + cls]
    if len(scores) > MAX_NMS:
        top = scores.argsort(descending=True)[:MAX_NMS]
        anchor, cls, scores = anchor[top], cls[top], scores[top]
    boxes = _xywh2xyxy(x[anchor, :4])
    keep = torchvision.ops.batched_nms(boxes, scores, cls, iou)[:max_det]
    return Detections(boxes[keep].numpy(), scores[keep].numpy(), cls[keep].numpy())


def postprocess(
    raw: np.ndarray,
    conf: float = 0.001,
    iou: float = 0.7,
    max_det: int = 300,
    *,
    end2end: bool | None = None,
) -> list[Detections]:
    """Turn raw model output into per-image detections in letterbox pixel coordinates.

    Accepts (B, 4 + nc, N) centre-xywh + class scores (YOLOv8/11; class-aware NMS at ``iou``)
    and (B, K, 6) rows [x1, y1, x2, y2, score, cls] (end-to-end, e.g. YOLO26; threshold only).
    ``end2end=None`` infers the format as Ultralytics does: last dimension 6 means end-to-end.
    """
    raw = np.asarray(raw)
    if raw.ndim != 3:
        raise ValueError(f"raw output must be (B, 4+nc, N) or (B, K, 6), got shape {raw.shape}")
    if end2end is None:
        end2end = raw.shape[-1] == 6
    if end2end:
        return [_threshold(p, conf, max_det) for p in raw]
    if raw.shape[1] < 5:
        raise ValueError(f"raw output (B, 4+nc, N) needs at least one class channel, got shape {raw.shape}")
    return [_nms(p, conf, iou, max_det) for p in raw]


def _ground_truth(label: Path, nc: int, orig_hw: tuple[int, ...]) -> GroundTruth:
    """Labels (normalised centre-xywh) as xyxy boxes in original image pixels."""
    labels = read_labels(label, nc).astype(np.float64)
    h, w = orig_hw[:2]
    xc, yc, bw, bh = labels[:, 1] * w, labels[:, 2] * h, labels[:, 3] * w, labels[:, 4] * h
    boxes = np.stack([xc - bw / 2, yc - bh / 2, xc + bw / 2, yc + bh / 2], axis=1)
    return GroundTruth(boxes, labels[:, 0].astype(np.int64))


def _check_raw(raw: np.ndarray, batch: int, nc: int) -> None:
    """The model output must fit the batch and, for the NMS format, the dataset's class count."""
    if raw.ndim != 3 or raw.shape[0] != batch:
        raise HarnessError(
            f"predict returned shape {raw.shape} for a batch of {batch}; "
            f"expected ({batch}, 4+nc, N) or ({batch}, K, 6)"
        )
    if raw.shape[-1] != 6 and raw.shape[1] != 4 + nc:
        raise HarnessError(
            f"predict returned {raw.shape[1] - 4} class channels (shape {raw.shape}) "
            f"but the dataset has {nc} classes"
        )


def unletterbox(dets: Detections, info: LetterboxInfo, orig_shape: tuple[int, ...]) -> Detections:
    """Map detections from letterbox pixels back to the original (h, w) image, clipped to it."""
    return Detections(unletterbox_boxes(dets.boxes, info, orig_shape), dets.scores, dets.classes)


def _batches(samples: Sequence[Sample], batch: int) -> Iterator[Sequence[Sample]]:
    for start in range(0, len(samples), batch):
        yield samples[start : start + batch]


def _predict_batch(
    predict: Predict, images: list[np.ndarray], imgsz: int, batch: int, nc: int
) -> list[Detections]:
    """Letterbox, run ``predict`` on a full batch (the last one padded by repetition), map back."""
    inputs, infos = zip(*(letterbox(img, imgsz) for img in images))
    padded = list(inputs) + [inputs[-1]] * (batch - len(inputs))
    raw = np.asarray(predict(np.stack(padded)))
    _check_raw(raw, batch, nc)
    dets = postprocess(raw)[: len(images)]
    return [unletterbox(d, info, img.shape) for d, info, img in zip(dets, infos, images)]


def detect(
    predict: Predict,
    samples: Sequence[Sample],
    names: Sequence[str],
    imgsz: int,
    batch: int = 1,
) -> tuple[list[Detections], list[GroundTruth]]:
    """Per-image detections of ``predict`` (float32 NCHW batch -> raw output) and ground truth.

    Every batch has exactly ``batch`` images; the last one is padded by repeating its final image
    and the padded outputs are dropped. Predictions use ``postprocess`` defaults (conf 0.001, IoU 0.7,
    300 per image).
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if not samples:
        raise DatasetError("no samples to evaluate")
    dets: list[Detections] = []
    gts: list[GroundTruth] = []
    for chunk in _batches(samples, batch):
        images = [read_image(s.image) for s in chunk]
        dets += _predict_batch(predict, images, imgsz, batch, len(names))
        gts += [_ground_truth(s.label, len(names), img.shape) for s, img in zip(chunk, images)]
    return dets, gts


def score(dets: Sequence[Detections], gts: Sequence[GroundTruth], where: str = "the samples") -> MapResult:
    """COCO mAP (100 detections per image and class); a set without labelled objects raises."""
    result = mean_average_precision(dets, gts, max_det=COCO_MAX_DET)
    if result.n_gt == 0:
        raise DatasetError(f"no labelled objects in {len(gts)} samples ({where})")
    return result


def evaluate(
    predict: Predict,
    samples: Sequence[Sample],
    names: Sequence[str],
    imgsz: int,
    batch: int = 1,
) -> MapResult:
    """COCO mAP of a model given as ``predict`` on ``samples`` (see :func:`detect`)."""
    dets, gts = detect(predict, samples, names, imgsz, batch)
    return score(dets, gts, f"labels under {samples[0].label.parent}")
