"""Attention transfer and relational KD on the detection head's input features (the neck's outputs).

Both compare the student's and the teacher's feature maps at every head level without any
projection, so a pruned student with fewer channels needs no extra trainable layer:

- **attention transfer** (AT, Zagoruyko & Komodakis, ICLR 2017): each level's spatial attention map
  is the mean over channels of the squared activations, flattened and L2-normalized per image; the
  loss is the mean squared difference of the student's and teacher's maps, summed over levels;
- **relational KD** (RKD, Park et al., CVPR 2019): each image's feature at a level is pooled (global
  average) into one vector; the student learns the teacher's *relations* between the batch's images:
  pairwise distances normalized by their mean (distance-wise, Huber loss) and the angles that every
  triplet forms (angle-wise, Huber loss on the cosines), weighted 1 and 2 as in the paper, summed
  over levels. A batch of one image has no relation: the loss is zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["attention_map", "attention_transfer", "relational_kd"]

DISTANCE_WEIGHT = 1.0
ANGLE_WEIGHT = 2.0


def attention_map(feature: torch.Tensor) -> torch.Tensor:
    """(batch, H*W): mean over channels of the squared activations, L2-normalized per image."""
    return F.normalize(feature.pow(2).mean(dim=1).flatten(1), dim=1)


def attention_transfer(student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor]) -> torch.Tensor:
    """Sum over levels of the mean squared difference of the two models' attention maps."""
    _check_levels(student, teacher, "attention transfer")
    losses = []
    for s, t in zip(student, teacher, strict=True):
        if s.shape[-2:] != t.shape[-2:]:
            raise ValueError(
                f"attention transfer needs equal spatial sizes, got {tuple(s.shape)} and {tuple(t.shape)}"
            )
        losses.append((attention_map(s) - attention_map(t.detach())).pow(2).mean())
    return torch.stack(losses).sum()


def _distances(x: torch.Tensor) -> torch.Tensor:
    """Pairwise Euclidean distances of the rows of ``x``, divided by their mean over distinct pairs."""
    d = torch.cdist(x, x)
    off = ~torch.eye(len(x), dtype=torch.bool, device=x.device)
    return d / d[off].mean().clamp_min(1e-12)


def _angles(x: torch.Tensor) -> torch.Tensor:
    """Cosines of the angle at every row j between rows i and k: (n, n, n)."""
    e = F.normalize(x.unsqueeze(0) - x.unsqueeze(1), p=2, dim=2)  # e[j, i] = unit(x_i - x_j)
    return torch.bmm(e, e.transpose(1, 2))


def relational_kd(student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor]) -> torch.Tensor:
    """Sum over levels of RKD's distance-wise plus angle-wise losses on globally pooled features."""
    _check_levels(student, teacher, "relational KD")
    if student[0].shape[0] < 2:
        return student[0].sum() * 0.0
    losses = []
    for s, t in zip(student, teacher, strict=True):
        ps, pt = s.mean(dim=(2, 3)), t.detach().mean(dim=(2, 3))
        distance = F.smooth_l1_loss(_distances(ps), _distances(pt))
        angle = F.smooth_l1_loss(_angles(ps), _angles(pt)) if len(ps) > 2 else ps.sum() * 0.0
        losses.append(DISTANCE_WEIGHT * distance + ANGLE_WEIGHT * angle)
    return torch.stack(losses).sum()


def _check_levels(student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor], what: str) -> None:
    if len(student) != len(teacher):
        raise ValueError(
            f"{what} needs as many teacher as student feature levels, got {len(teacher)} and {len(student)}"
        )
