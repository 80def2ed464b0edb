"""Build a distilled checkpoint from a DistillRecipe.

The student's checkpoint (trained, a user's, or pruned and not yet fine-tuned) is trained for
``spec.epochs`` epochs through Ultralytics' public ``train`` with the same arguments, seed and
trainer as its non-KD control, plus the teacher:

- "feature": Ultralytics' built-in feature distillation, its ``distill_model`` (the teacher's
  ``.pt``) and ``dis`` (the weight) training arguments;
- "response", "cwd", "attention", "relational", "multi" (every teacher of the recipe, per anchor
  the most confident) and "progressive" (response KD from a teacher assistant, itself a distilled
  checkpoint): the harness's own losses (:mod:`harness.distill`), installed into the
  trainer by an ``on_train_start`` callback.

Teacher and student are checked first (class count and names, feature levels, strides): a pair
that cannot be compared anchor by anchor fails before training with both files named. The
artifact holds ``model.pt`` (the student alone), Ultralytics' ``results.csv`` as
``train_results.csv`` and ``distill.json`` (seconds per epoch, KD loss per epoch).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from harness.builders import BuildContext, builder, materialize
from harness.builders.prune import keep_model_trainer, read_json_report
from harness.builders.train import MODEL_FILE, RESULTS_FILE, FitArgs, epoch_columns, epoch_seconds, fit
from harness.builders.weights import load_net, load_yolo, yolo_net
from harness.distill.compat import check_pair
from harness.errors import HarnessError
from harness.fsutil import atomic_write_text
from harness.recipes import DistillRecipe

REPORT_FILE = "distill.json"
BUILDER_VERSION = (
    "2"  # part of every DistillRecipe's hash: bump when the training procedure changes (2: channels-last)
)
KD_LOSS_COLUMNS = ("train/kd_loss", "train/dis_loss")  # ours, Ultralytics' feature KD


@builder(DistillRecipe)
def _distill(recipe: DistillRecipe, ctx: BuildContext, tmp: Path) -> str:
    data_yaml = materialize(recipe.data, ctx)
    student_path = materialize(recipe.student, ctx)
    teacher_path = materialize(recipe.teacher, ctx)
    student, teacher = load_yolo(student_path), load_net(teacher_path)
    student_net = yolo_net(student)
    check_pair(teacher, student_net, teacher_path, student_path)
    others = []
    for extra in recipe.extra_teachers or ():
        extra_path = materialize(extra, ctx)
        other = load_net(extra_path)
        check_pair(other, student_net, extra_path, student_path)
        others.append(other)
    spec = recipe.spec
    hyp = recipe.hyp
    if spec.method == "feature":
        hyp = (*hyp, ("distill_model", str(teacher_path)), ("dis", spec.weight))
    else:
        from harness.distill.trainer import install_kd

        install = functools.partial(
            install_kd,
            teacher=teacher,
            method=spec.method,
            weight=spec.weight,
            temperature=spec.temperature,
            extra_teachers=others,
        )
        student.add_callback("on_train_start", install)
    ctx.log(f"harness: distilling {spec.slug} for {spec.epochs} epochs")
    args = FitArgs(data_yaml, spec.epochs, recipe.batch, recipe.imgsz, recipe.seed, hyp)
    fit(student, args, ctx, tmp, trainer=keep_model_trainer(), label=f"distill {spec.slug}")
    _check_student(tmp / MODEL_FILE)
    atomic_write_text(tmp / REPORT_FILE, json.dumps(_report(recipe, tmp / RESULTS_FILE), indent=2))
    return MODEL_FILE


def _check_student(path: Path) -> None:
    """The saved checkpoint must be the student alone (Ultralytics strips its distillation wrapper)."""
    model = load_net(path)
    if hasattr(model, "student_model") or hasattr(model, "teacher_model"):
        raise HarnessError(f"distilled checkpoint {path} still holds the distillation wrapper")


def _report(recipe: DistillRecipe, results_csv: Path) -> dict[str, Any]:
    columns = epoch_columns(results_csv)
    kd = next((columns[c] for c in KD_LOSS_COLUMNS if c in columns), None)
    return {"spec": recipe.spec.to_dict(), "epoch_seconds": epoch_seconds(results_csv), "kd_loss": kd}


def read_report(artifact_dir: Path) -> dict[str, Any]:
    """``distill.json`` of a built DistillRecipe artifact."""
    return read_json_report(artifact_dir / REPORT_FILE, "distillation report")
