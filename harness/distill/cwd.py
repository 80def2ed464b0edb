"""Channel-wise knowledge distillation (CWD, Shu et al., ICCV 2021) on the detection head's inputs.

Each channel of a feature map becomes a distribution over its spatial positions (softmax with
temperature T); the student's channels learn the teacher's by KL divergence, times T^2, averaged
over channels and summed over the head's feature levels. A 1x1 convolution per level maps the
student's channels onto the teacher's (a pruned student has fewer); it is trained with the student
and dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def channel_kl(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) of per-channel spatial distributions, mean over batch x channels, times T^2.
    Both tensors are (batch, channels, height, width) with equal shapes."""
    if student.shape != teacher.shape:
        raise ValueError(
            f"CWD needs equal feature shapes, got {tuple(student.shape)} and {tuple(teacher.shape)}"
        )
    n, c = student.shape[:2]
    s = (student.reshape(n, c, -1) / temperature).log_softmax(dim=-1)
    t = (teacher.detach().reshape(n, c, -1) / temperature).log_softmax(dim=-1)
    return (t.exp() * (t - s)).sum(dim=-1).mean() * temperature**2


class ChannelWiseKD(nn.Module):
    """CWD over feature levels, with a trainable 1x1 projection from student to teacher channels."""

    def __init__(self, student_channels: Sequence[int], teacher_channels: Sequence[int], temperature: float):
        super().__init__()
        if len(student_channels) != len(teacher_channels):
            raise ValueError(
                f"CWD needs as many teacher as student feature levels, got {len(teacher_channels)} "
                f"and {len(student_channels)}"
            )
        self.temperature = temperature
        self.projectors = nn.ModuleList(
            nn.Conv2d(s, t, kernel_size=1, bias=False)
            for s, t in zip(student_channels, teacher_channels, strict=True)
        )

    def forward(self, student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor]) -> torch.Tensor:
        """Sum over levels of :func:`channel_kl` between projected student and teacher features."""
        losses = [
            channel_kl(proj(s), t, self.temperature)
            for proj, s, t in zip(self.projectors, student, teacher, strict=True)
        ]
        return torch.stack(losses).sum()
