"""Apply response, channel-wise, attention or relational KD inside Ultralytics' own training loop,
through public hooks.

An ``on_train_start`` callback (Ultralytics' callback API) replaces the student's loss criterion
with :class:`KDCriterion`: the stock detection loss plus the KD term, reported as ``kd_loss``.
The criterion holds the frozen teacher (so it stays out of the student's checkpoint and EMA);
CWD's projection layers have their own optimizer, stepped by an ``on_train_batch_end`` callback. Feature KD
("feature") needs none of this: it is Ultralytics' ``distill_model`` / ``dis`` training arguments.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
from torch import nn

from harness.distill.cwd import ChannelWiseKD
from harness.distill.relations import attention_transfer, relational_kd
from harness.distill.response import head_branches, most_confident, response_kd
from harness.heads import detect_head

FEATURE_RELATIONS = {"attention": attention_transfer, "relational": relational_kd}
"""Feature-level KD losses that need no projection (a pruned student's fewer channels are fine)."""


class KDCriterion:
    """The student's detection loss plus ``weight`` x the KD loss of ``method`` ("response", "cwd",
    "attention", "relational", "multi": response KD against, per anchor, the most confident of
    ``teacher`` and ``extra_teachers``, or "progressive": response KD from a teacher assistant)."""

    def __init__(
        self,
        base: Any,
        teacher: nn.Module,
        method: str,
        weight: float,
        temperature: float,
        reg_max: int,
        extra_teachers: Sequence[nn.Module] = (),
    ):
        self.base = base
        self.teacher = teacher
        self.extra_teachers = list(extra_teachers)  # multi-teacher KD: the others
        self.method = method
        self.weight = weight
        self.temperature = temperature
        self.reg_max = reg_max
        self.cwd: ChannelWiseKD | None = None

    def __call__(
        self, preds: Any, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(detection loss components + [KD loss], their detached items + ``kd_loss``); every term is
        scaled by the batch size like Ultralytics' own."""
        loss, items = self.base(preds, batch)
        with torch.no_grad():
            teacher_preds = self.teacher(batch["img"])
            if self.method == "multi":
                others = [t(batch["img"]) for t in self.extra_teachers]
                teacher_preds = most_confident([teacher_preds, *others])
        kd = self.weight * self.kd(preds, teacher_preds)
        items = {**items, "kd_loss": kd.detach()}
        return torch.cat([loss, (kd * batch["img"].shape[0]).reshape(1)]), items

    def kd(self, student: Any, teacher: Any) -> torch.Tensor:
        """The unweighted KD loss between the two models' head outputs."""
        if self.method in ("response", "multi", "progressive"):
            return response_kd(student, teacher, self.reg_max, self.temperature)
        if self.method in FEATURE_RELATIONS:
            s_feats = cast(Sequence[torch.Tensor], head_branches(student)[0]["feats"])
            t_feats = cast(Sequence[torch.Tensor], head_branches(teacher)[0]["feats"])
            return FEATURE_RELATIONS[self.method](s_feats, t_feats)
        if self.cwd is None:
            raise RuntimeError("CWD projections were not set up (call attach_cwd first)")
        s_maps = head_branches(student)[0]["feats"]
        t_maps = head_branches(teacher)[0]["feats"]
        return self.cwd(s_maps, t_maps)

    def attach_cwd(
        self, student_channels: list[int], teacher_channels: list[int], device: torch.device
    ) -> ChannelWiseKD:
        """Create the CWD projections (student -> teacher channels) on ``device``; returns them."""
        self.cwd = ChannelWiseKD(student_channels, teacher_channels, self.temperature).to(device)
        return self.cwd

    def update(self) -> None:
        """Forward Ultralytics' per-epoch criterion update (end-to-end heads' loss schedule)."""
        if hasattr(self.base, "update"):
            self.base.update()


def head_channels(model: nn.Module, imgsz: int) -> list[int]:
    """Channels of each feature map the detection head reads (one forward pass at ``imgsz``)."""
    head = detect_head(model)
    seen: list[int] = []

    def grab(_module: nn.Module, inputs: tuple[Any, ...]) -> None:
        seen.extend(int(x.shape[1]) for x in inputs[0])

    handle = head.register_forward_pre_hook(grab)
    try:
        param = next(model.parameters())
        with torch.no_grad():
            was_training = model.training
            model.eval()
            model(torch.zeros(1, 3, imgsz, imgsz, device=param.device, dtype=param.dtype))
            model.train(was_training)
    finally:
        handle.remove()
    return seen


def fused_teacher(teacher: nn.Module) -> nn.Module:
    """A frozen, eval-mode copy of ``teacher`` with every batch norm folded into its convolution
    (Ultralytics' ``fuse_conv_and_bn``): the same outputs, a cheaper forward pass each step. The
    head's branches are left alone (``DetectionModel.fuse`` would drop the one-to-many branch of an
    end-to-end head, which KD reads)."""
    from ultralytics.nn.modules import Conv
    from ultralytics.utils.torch_utils import fuse_conv_and_bn

    fused = copy.deepcopy(teacher).float().eval().requires_grad_(False)
    for module in fused.modules():
        if type(module) is Conv and hasattr(module, "bn"):
            module.conv = fuse_conv_and_bn(module.conv, module.bn)
            delattr(module, "bn")
            module.forward = module.forward_fuse  # type: ignore[method-assign]  # as Conv.fuse does
    return fused


def projector_stepper(cwd: ChannelWiseKD, lr: float) -> Callable[[Any], None]:
    """An ``on_train_batch_end`` callback that steps CWD's projections with their own AdamW.

    The projections are not the student's: they stay out of its optimizer, learning-rate schedule
    and checkpoint, and are trained from the gradients the KD loss leaves on them each batch.
    """
    optimizer = torch.optim.AdamW(cwd.parameters(), lr=lr)

    def step(_trainer: Any) -> None:
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def install_kd(
    trainer: Any,
    teacher: nn.Module,
    method: str,
    weight: float,
    temperature: float,
    extra_teachers: Sequence[nn.Module] = (),
) -> KDCriterion:
    """Give ``trainer``'s model a :class:`KDCriterion` (an ``on_train_start`` callback's job)."""
    model = trainer.model.module if hasattr(trainer.model, "module") else trainer.model
    teacher = fused_teacher(teacher).to(trainer.device)
    others = [fused_teacher(t).to(trainer.device) for t in extra_teachers]
    criterion = KDCriterion(
        model.init_criterion(), teacher, method, weight, temperature, int(detect_head(model).reg_max), others
    )
    if method == "cwd":
        imgsz = int(trainer.args.imgsz)
        cwd = criterion.attach_cwd(head_channels(model, imgsz), head_channels(teacher, imgsz), trainer.device)
        trainer.add_callback("on_train_batch_end", projector_stepper(cwd, float(trainer.args.lr0)))
    model.criterion = criterion
    return criterion
