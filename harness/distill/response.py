"""Response (logit) knowledge distillation on Ultralytics detection-head outputs.

The student learns the teacher's raw head outputs at every anchor:

- class scores: binary cross-entropy of the student's logits against the teacher's
  temperature-softened sigmoids, times T^2. Each class is an independent Bernoulli, so this is the
  KL divergence from teacher to student plus the teacher's entropy, a constant: BCE and KL give the
  same gradients;
- boxes, where the head has DFL distributions (``reg_max > 1``: YOLOv8, YOLO11): KL divergence
  between the teacher's and the student's temperature-softened distributions over the bins of
  each box side, times T^2; where it has none (``reg_max == 1``: YOLO26): L1 between the decoded
  box sides (left, top, right, bottom distances from the anchor, in grid units);
- every anchor weighted by the teacher's confidence there (its highest class probability), so
  the background the teacher is sure of does not drown the objects.

End-to-end heads (YOLO26) give both branches, one-to-many and one-to-one; each is distilled and
the two losses are averaged. With several teachers (multi-teacher KD), :func:`most_confident` picks,
per image and anchor, the scores and boxes of the teacher most confident there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F

Preds = Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class ResponseTerms:
    """The two parts of the response KD loss (each already weighted by teacher confidence)."""

    cls: torch.Tensor
    box: torch.Tensor

    @property
    def total(self) -> torch.Tensor:
        """cls + box."""
        return self.cls + self.box


def head_branches(preds: object) -> list[Preds]:
    """The prediction dicts of a head output: the training dict itself, the second item of an
    eval-mode ``(decoded, raw)`` tuple, or both branches of an end-to-end head."""
    raw = preds[1] if isinstance(preds, tuple) else preds
    if not isinstance(raw, Mapping):
        raise TypeError(f"expected a detection head's raw prediction dict, got {type(raw).__name__}")
    if "one2one" in raw:
        return [raw["one2many"], raw["one2one"]]
    return [raw]


def confidence(teacher_scores: torch.Tensor) -> torch.Tensor:
    """Per-anchor weight: the teacher's highest class probability, shape (batch, anchors)."""
    return teacher_scores.detach().sigmoid().amax(dim=1)


def class_kd(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """Per-anchor class KD, (batch, anchors): BCE against softened teacher sigmoids, summed over
    classes, times T^2. ``student``/``teacher``: logits of shape (batch, classes, anchors)."""
    soft = (teacher.detach() / temperature).sigmoid()
    bce = F.binary_cross_entropy_with_logits(student / temperature, soft, reduction="none")
    return bce.sum(dim=1) * temperature**2


def dfl_kd(student: torch.Tensor, teacher: torch.Tensor, reg_max: int, temperature: float) -> torch.Tensor:
    """Per-anchor box KD on DFL distributions, (batch, anchors): KL(teacher || student) over the
    ``reg_max`` bins of each side, averaged over the four sides, times T^2."""
    b, _, a = student.shape
    s = (student.view(b, 4, reg_max, a) / temperature).log_softmax(dim=2)
    t = (teacher.detach().view(b, 4, reg_max, a) / temperature).log_softmax(dim=2)
    kl = (t.exp() * (t - s)).sum(dim=2)
    return kl.mean(dim=1) * temperature**2


def box_l1(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Per-anchor L1 between decoded box sides (no DFL), averaged over the four sides."""
    return (student - teacher.detach()).abs().mean(dim=1)


def response_terms(student: Preds, teacher: Preds, reg_max: int, temperature: float) -> ResponseTerms:
    """Confidence-weighted class and box KD of one head branch (see the module docstring)."""
    s_scores, t_scores = student["scores"], teacher["scores"]
    if s_scores.shape != t_scores.shape:
        raise ValueError(
            "teacher and student head outputs differ: "
            f"scores {tuple(t_scores.shape)} vs {tuple(s_scores.shape)}"
        )
    weight = confidence(t_scores)
    norm = weight.sum().clamp(min=1e-6)
    cls = (class_kd(s_scores, t_scores, temperature) * weight).sum() / norm
    if reg_max > 1:
        box = dfl_kd(student["boxes"], teacher["boxes"], reg_max, temperature)
    else:
        box = box_l1(student["boxes"], teacher["boxes"])
    return ResponseTerms(cls=cls, box=(box * weight).sum() / norm)


def most_confident(teachers: list[object]) -> object:
    """One head output from several teachers' (same shapes): per image and anchor, the class scores
    and boxes of the teacher whose highest class probability there is the highest."""
    if len(teachers) == 1:
        return teachers[0]
    per_teacher = [head_branches(t) for t in teachers]
    merged = [_pick(list(branches)) for branches in zip(*per_teacher, strict=True)]
    return {"one2many": merged[0], "one2one": merged[1]} if len(merged) == 2 else merged[0]


def _pick(branches: list[Preds]) -> dict[str, torch.Tensor]:
    """The per-anchor most confident teacher's ``scores`` and ``boxes`` of one branch."""
    choice = torch.stack([confidence(b["scores"]) for b in branches]).argmax(dim=0)  # (batch, anchors)
    out = {}
    for key in ("scores", "boxes"):
        stacked = torch.stack([b[key].detach() for b in branches])  # (teachers, batch, channels, anchors)
        index = choice[None, :, None, :].expand(1, *stacked.shape[1:])
        out[key] = stacked.gather(0, index)[0]
    return out


def response_kd(student: object, teacher: object, reg_max: int, temperature: float) -> torch.Tensor:
    """Response KD between two head outputs, averaged over the branches they share."""
    pairs = list(zip(head_branches(student), head_branches(teacher), strict=True))
    total = sum(response_terms(s, t, reg_max, temperature).total for s, t in pairs)
    return cast(torch.Tensor, total) / len(pairs)  # sum() of tensors is a tensor (typed int | Tensor)
