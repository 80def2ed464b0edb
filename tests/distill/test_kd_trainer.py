"""KD inside Ultralytics' training loop: the wrapping criterion, head channels, installing it on a trainer."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn
from ultralytics.nn.modules import Conv
from ultralytics.nn.tasks import DetectionModel

from harness.distill.cwd import ChannelWiseKD
from harness.distill.response import head_branches, response_kd
from harness.distill.trainer import KDCriterion, fused_teacher, head_channels, install_kd, projector_stepper

IMGSZ = 64
CPU = torch.device("cpu")

Make = Callable[..., DetectionModel]


def _batch() -> dict[str, torch.Tensor]:
    """Two 64x64 images with three labelled boxes (normalized xywh)."""
    return {
        "img": torch.rand(2, 3, IMGSZ, IMGSZ, generator=torch.Generator().manual_seed(0)),
        "batch_idx": torch.tensor([0.0, 0.0, 1.0]),
        "cls": torch.tensor([[0.0], [2.0], [1.0]]),
        "bboxes": torch.tensor([[0.3, 0.3, 0.2, 0.2], [0.6, 0.6, 0.4, 0.3], [0.5, 0.5, 0.5, 0.5]]),
    }


def _bn_buffers(model: nn.Module) -> list[torch.Tensor]:
    """Every batch norm's running statistics and batch counter, copied."""
    return [b.clone() for m in model.modules() if isinstance(m, nn.BatchNorm2d) for b in m.buffers()]


def _randomize_batchnorm(model: nn.Module) -> None:
    """Distinct batch-norm statistics, so that folding them into the convolutions is not a no-op."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for bn in model.modules():
            if isinstance(bn, nn.BatchNorm2d):
                n = bn.num_features
                bn.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
                bn.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                bn.weight.copy_(torch.rand(n, generator=g) + 0.5)
                bn.bias.copy_(torch.rand(n, generator=g) * 0.6 - 0.3)


def _trainer(model: nn.Module, lr0: float = 0.02) -> SimpleNamespace:
    """The parts of an Ultralytics trainer that install_kd uses, recording added callbacks."""
    callbacks: list[tuple[str, Callable[[Any], None]]] = []
    return SimpleNamespace(
        model=model,
        device=CPU,
        args=SimpleNamespace(imgsz=IMGSZ, lr0=lr0),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.01),
        callbacks=callbacks,
        add_callback=lambda event, fn: callbacks.append((event, fn)),
    )


def _unfused_convs(model: nn.Module) -> int:
    """Ultralytics ``Conv`` blocks that still carry a batch norm."""
    return sum(1 for m in model.modules() if type(m) is Conv and hasattr(m, "bn"))


class _Wrapped(nn.Module):
    """Stands in for DistributedDataParallel: the real model is ``.module``."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module


class _CountingCriterion:
    """A base criterion with Ultralytics' per-epoch ``update`` hook, counting its calls."""

    def __init__(self) -> None:
        self.updates = 0

    def update(self) -> None:
        self.updates += 1


# head_channels


@pytest.mark.parametrize("training", [True, False])
def test_head_channels_of_yolo11n(make_detector: Make, training: bool) -> None:
    """Three levels of 64/128/256 channels; mode, BN statistics and hooks are left as they were."""
    model = make_detector()
    model.train(training)
    before = _bn_buffers(model)
    assert head_channels(model, IMGSZ) == [64, 128, 256]
    assert all(m.training == training for m in model.modules())
    assert all(torch.equal(a, b) for a, b in zip(before, _bn_buffers(model), strict=True))
    assert len(model.model[-1]._forward_pre_hooks) == 0


@pytest.mark.parametrize("cfg", ["yolo11s.yaml", "yolo26n.yaml", "yolov8n-p2.yaml"])
def test_head_channels_match_the_head_features(make_detector: Make, cfg: str) -> None:
    """The channels of the ``feats`` the head returns in training mode, one per level."""
    model = make_detector(cfg).train()
    with torch.no_grad():
        preds = model(torch.zeros(1, 3, IMGSZ, IMGSZ))
    raw = preds.get("one2many", preds)
    assert head_channels(model, IMGSZ) == [int(f.shape[1]) for f in raw["feats"]]


# KDCriterion


@pytest.mark.parametrize("cfg", ["yolo11n.yaml", "yolo26n.yaml"])
def test_response_criterion_adds_the_weighted_kd_term(make_detector: Make, cfg: str) -> None:
    """Base loss components + [weight x KD x batch size]; items gain ``kd_loss`` = weight x KD."""
    student, teacher = make_detector(cfg), make_detector(cfg, seed=1).eval()
    reg_max = int(student.model[-1].reg_max)
    crit = KDCriterion(
        student.init_criterion(), teacher, "response", weight=0.5, temperature=2.0, reg_max=reg_max
    )
    batch = _batch()
    student.train()
    preds = student(batch["img"])
    loss, items = crit(preds, batch)
    base_loss, base_items = student.init_criterion()(preds, batch)

    assert loss.shape == (base_loss.numel() + 1,)
    torch.testing.assert_close(loss[:-1], base_loss)
    assert set(items) == set(base_items) | {"kd_loss"}
    with torch.no_grad():
        kd = response_kd(preds, teacher(batch["img"]), reg_max, 2.0)
    assert float(kd) > 0
    torch.testing.assert_close(loss[-1].detach(), 0.5 * kd * batch["img"].shape[0])
    torch.testing.assert_close(items["kd_loss"], 0.5 * kd)
    assert not items["kd_loss"].requires_grad


def test_kd_gradient_reaches_the_student_not_the_teacher(make_detector: Make) -> None:
    """The teacher runs without autograd; the KD element's gradient reaches the student's head only."""
    student, teacher = make_detector(), make_detector(seed=1).eval()
    crit = KDCriterion(student.init_criterion(), teacher, "response", weight=1.0, temperature=1.0, reg_max=16)
    grad_enabled: list[bool] = []
    teacher.register_forward_hook(lambda *_: grad_enabled.append(torch.is_grad_enabled()))
    batch = _batch()
    preds = student.train()(batch["img"])
    loss, _ = crit(preds, batch)
    assert grad_enabled == [False]  # the teacher runs once, without building a graph
    loss[-1].backward()
    head_grads = [p.grad for p in student.model[-1].parameters()]
    assert any(g is not None and float(g.abs().sum()) > 0 for g in head_grads)
    assert all(p.grad is None for p in teacher.parameters())


def test_cwd_criterion_needs_attach_cwd_first(make_detector: Make) -> None:
    """Method "cwd" raises until its projections exist; then it adds the CWD of the head features."""
    student, teacher = make_detector("yolo11n.yaml"), make_detector("yolo11s.yaml", seed=1).eval()
    crit = KDCriterion(student.init_criterion(), teacher, "cwd", weight=2.0, temperature=1.0, reg_max=16)
    batch = _batch()
    preds = student.train()(batch["img"])
    with pytest.raises(RuntimeError, match="attach_cwd"):
        crit(preds, batch)

    cwd = crit.attach_cwd(head_channels(student, IMGSZ), head_channels(teacher, IMGSZ), CPU)
    assert isinstance(cwd, ChannelWiseKD) and crit.cwd is cwd
    assert [tuple(p.weight.shape) for p in cwd.projectors] == [
        (128, 64, 1, 1),
        (256, 128, 1, 1),
        (512, 256, 1, 1),
    ]
    loss, items = crit(preds, batch)
    with torch.no_grad():
        expected = cwd(preds["feats"], teacher(batch["img"])[1]["feats"])
    assert float(expected) > 0
    torch.testing.assert_close(items["kd_loss"], 2.0 * expected)
    torch.testing.assert_close(loss[-1].detach(), 2.0 * expected * 2)
    loss.sum().backward()
    assert all(p.weight.grad is not None and float(p.weight.grad.abs().sum()) > 0 for p in cwd.projectors)


def test_update_is_forwarded_to_the_base_criterion() -> None:
    """update() calls the base's update once per call; a base without one is fine."""
    base = _CountingCriterion()
    crit = KDCriterion(base, nn.Identity(), "response", weight=1.0, temperature=1.0, reg_max=16)
    crit.update()
    crit.update()
    assert base.updates == 2
    KDCriterion(object(), nn.Identity(), "response", 1.0, 1.0, 16).update()  # no update(): nothing to do


def test_update_drives_the_end_to_end_loss_schedule(make_detector: Make) -> None:
    """With YOLO26's real end-to-end loss, update() advances its one-to-many/one-to-one schedule."""
    student = make_detector("yolo26n.yaml")
    base = student.init_criterion()
    before = (base.updates, base.o2m)
    KDCriterion(base, nn.Identity(), "response", 1.0, 1.0, 1).update()
    assert base.updates == before[0] + 1 and base.o2m != before[1]


# fused_teacher, projector_stepper, install_kd


@pytest.mark.parametrize("cfg", ["yolo11n.yaml", "yolo26n.yaml"])
def test_fused_teacher_is_a_frozen_copy_with_the_same_outputs(make_detector: Make, cfg: str) -> None:
    """Batch norms folded, eval mode, no gradients, every head branch kept; the original is untouched."""
    teacher = make_detector(cfg, seed=1)
    _randomize_batchnorm(teacher)
    teacher.train()
    trainable = [p.requires_grad for p in teacher.parameters()]
    assert any(trainable)
    fused = fused_teacher(teacher)
    assert fused is not teacher and not fused.training
    assert not any(p.requires_grad for p in fused.parameters())
    assert _unfused_convs(fused) == 0 and _unfused_convs(teacher) > 0
    assert teacher.training and [p.requires_grad for p in teacher.parameters()] == trainable

    x = torch.rand(1, 3, IMGSZ, IMGSZ, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected, got = head_branches(teacher.eval()(x)), head_branches(fused(x))
    assert len(got) == len(expected) == (2 if cfg == "yolo26n.yaml" else 1)
    for e, g in zip(expected, got, strict=True):
        for key in ("scores", "boxes"):
            torch.testing.assert_close(g[key], e[key], rtol=1e-4, atol=1e-4)
        for fe, fg in zip(e["feats"], g["feats"], strict=True):
            torch.testing.assert_close(fg, fe, rtol=1e-4, atol=1e-4)


def test_projector_stepper_steps_adamw_and_clears_the_gradients() -> None:
    """One step moves each weight by about ``lr`` (AdamW's first step), then drops the gradients."""
    torch.manual_seed(0)
    cwd = ChannelWiseKD([8], [16], temperature=1.0)
    step = projector_stepper(cwd, lr=0.01)
    weight = cwd.projectors[0].weight
    before = weight.detach().clone()
    student, teacher = [torch.randn(2, 8, 4, 4)], [torch.randn(2, 16, 4, 4)]
    cwd(student, teacher).backward()
    step(None)
    change = (weight.detach() - before).abs()
    assert 0.009 < float(change.max()) < 0.0102
    assert weight.grad is None
    after = weight.detach().clone()
    step(None)  # no new gradient: nothing moves
    assert torch.equal(weight.detach(), after)


@pytest.mark.parametrize("wrapped", [False, True])
def test_install_response_kd(make_detector: Make, wrapped: bool) -> None:
    """The (unwrapped) model gets a KDCriterion around a fused, frozen teacher copy; nothing else is added."""
    student, teacher = make_detector(), make_detector(seed=1).train()
    trainer = _trainer(_Wrapped(student) if wrapped else student)
    crit = install_kd(trainer, teacher, "response", 0.5, 2.0)
    assert student.criterion is crit
    assert (crit.method, crit.weight, crit.temperature, crit.reg_max, crit.cwd) == (
        "response",
        0.5,
        2.0,
        16,
        None,
    )
    assert type(crit.base).__name__ == "v8DetectionLoss"
    assert crit.teacher is not teacher and _unfused_convs(crit.teacher) == 0
    assert not crit.teacher.training and not any(p.requires_grad for p in crit.teacher.parameters())
    assert trainer.callbacks == [] and len(trainer.optimizer.param_groups) == 1

    loss, items = student.loss(_batch())  # Ultralytics' own entry point now goes through KD
    assert "kd_loss" in items and loss.numel() == 4


def test_install_cwd_trains_the_projections_apart_from_the_student(make_detector: Make) -> None:
    """CWD: student-to-teacher projections, stepped by their own on_train_batch_end callback at lr0."""
    student, teacher = make_detector("yolo11n.yaml"), make_detector("yolo11s.yaml", seed=1)
    student.train()
    trainer = _trainer(student, lr0=0.02)
    crit = install_kd(trainer, teacher, "cwd", 1.0, 1.0)
    assert crit.cwd is not None and student.training  # head_channels left the student in training mode
    projectors = crit.cwd.projectors
    assert [tuple(p.weight.shape) for p in projectors] == [
        (128, 64, 1, 1),
        (256, 128, 1, 1),
        (512, 256, 1, 1),
    ]
    assert len(trainer.optimizer.param_groups) == 1  # not in the student's optimizer or schedule
    assert [event for event, _ in trainer.callbacks] == ["on_train_batch_end"]

    loss, items = student.loss(_batch())
    assert float(items["kd_loss"]) > 0 and loss.numel() == 4
    loss.sum().backward()
    before = [p.weight.detach().clone() for p in projectors]
    student_before = [p.detach().clone() for p in student.parameters()]
    trainer.callbacks[0][1](trainer)
    for proj, old in zip(projectors, before, strict=True):
        assert proj.weight.grad is None
        assert 0.018 < float((proj.weight.detach() - old).abs().max()) < 0.0205  # AdamW's first step at lr0
    assert all(torch.equal(p, q) for p, q in zip(student.parameters(), student_before, strict=True))


@pytest.mark.parametrize("method", ["attention", "relational"])
def test_feature_relation_methods_read_the_head_features(make_detector: Make, method: str) -> None:
    """AT and RKD need no projection: a yolo11n student learns from a yolo11s teacher's features."""
    from harness.distill.trainer import FEATURE_RELATIONS

    student, teacher = make_detector("yolo11n.yaml"), make_detector("yolo11s.yaml", seed=1).eval()
    crit = KDCriterion(student.init_criterion(), teacher, method, weight=2.0, temperature=1.0, reg_max=16)
    batch = _batch()  # RKD needs three images for a relation that is not trivially equal
    batch["img"] = torch.cat([batch["img"], batch["img"].flip(-1)[:1]])
    preds = student.train()(batch["img"])
    loss, items = crit(preds, batch)
    with torch.no_grad():
        t_preds = teacher(batch["img"])
    expected = FEATURE_RELATIONS[method](head_branches(preds)[0]["feats"], head_branches(t_preds)[0]["feats"])
    assert float(expected) > 0
    torch.testing.assert_close(items["kd_loss"], 2.0 * expected.detach())
    loss[-1].backward()
    assert any(p.grad is not None for p in student.parameters())


def test_multi_teacher_distils_the_most_confident_teacher_per_anchor(make_detector: Make) -> None:
    from harness.distill.response import most_confident

    student = make_detector("yolo11n.yaml")
    teachers = [make_detector("yolo11n.yaml", seed=1).eval(), make_detector("yolo11s.yaml", seed=2).eval()]
    with torch.no_grad():  # the second teacher surer on the first level's anchors: it wins there
        teachers[1].model[-1].cv3[0][-1].bias += 3.0
    crit = KDCriterion(
        student.init_criterion(), teachers[0], "multi", 1.0, 2.0, 16, extra_teachers=teachers[1:]
    )
    batch = _batch()
    preds = student.train()(batch["img"])
    _, items = crit(preds, batch)
    with torch.no_grad():
        merged = most_confident([t(batch["img"]) for t in teachers])
        expected = response_kd(preds, merged, 16, 2.0)
        alone = response_kd(preds, teachers[0](batch["img"]), 16, 2.0)
    torch.testing.assert_close(items["kd_loss"], expected)
    assert not torch.isclose(expected, alone)  # the second teacher changed the targets
