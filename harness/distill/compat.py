"""Check that a teacher can teach a student before any training starts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import DistillError
from harness.heads import detect_head

if TYPE_CHECKING:  # torch is imported only by code that trains (the memory probe must not load it)
    from torch import nn


def head_levels(model: nn.Module) -> int:
    """Number of feature levels the detection head reads."""
    head = detect_head(model)
    return len(head.f) if isinstance(head.f, list | tuple) else 1


def check_pair(teacher: nn.Module, student: nn.Module, teacher_path: Path, student_path: Path) -> None:
    """Raise DistillError naming both files when the teacher and student differ in class count or
    names, feature levels, strides, or box regression (DFL bins); KD compares head outputs anchor
    by anchor, so all of these must match."""
    where = f"teacher {teacher_path} and student {student_path}"
    t_names, s_names = _names(teacher), _names(student)
    if len(t_names) != len(s_names):
        raise DistillError(f"{where} have different class counts: {len(t_names)} vs {len(s_names)}")
    if t_names != s_names:
        diff = [
            f"{i}: {t_names[i]!r} vs {s_names[i]!r}" for i in sorted(t_names) if t_names[i] != s_names.get(i)
        ]
        raise DistillError(f"{where} have different class names ({'; '.join(diff[:5])})")
    t_levels, s_levels = head_levels(teacher), head_levels(student)
    if t_levels != s_levels:
        raise DistillError(
            f"{where} have detection heads with different numbers of feature levels: {t_levels} vs {s_levels}"
        )
    t_head, s_head = detect_head(teacher), detect_head(student)
    if t_head.stride.tolist() != s_head.stride.tolist():
        raise DistillError(
            f"{where} have different head strides: {t_head.stride.tolist()} vs {s_head.stride.tolist()}"
        )
    if t_head.reg_max != s_head.reg_max:
        raise DistillError(
            f"{where} have different box regression (DFL bins {t_head.reg_max} vs {s_head.reg_max})"
        )
    if _end2end(t_head) != _end2end(s_head):
        raise DistillError(f"{where}: one head is end-to-end (one-to-one branch) and the other is not")


def _names(model: nn.Module) -> dict[int, str]:
    names = getattr(model, "names", None)
    if isinstance(names, Mapping):
        return {int(k): str(v) for k, v in names.items()}
    if isinstance(names, list | tuple):
        return dict(enumerate(map(str, names)))
    return {i: str(i) for i in range(int(detect_head(model).nc))}


def _end2end(head: nn.Module) -> bool:
    return getattr(head, "one2one_cv2", None) is not None
