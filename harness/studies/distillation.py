"""The distillation study: each KD student against its fair control and its teacher, in one run.

For one distilled student (a "case": student x teacher x method), :func:`measure_case` builds (or
finds cached) the KD student, its control (the same starting checkpoint trained the same epochs,
seed, batch and data, without the teacher) and the teacher, then measures on the run's
validation split and machine:

- mAP50-95 of the teacher, the student's unpruned reference, the student before training, the
  control and the KD student; the gain is KD - control;
- with ``[verdicts] tuned_reference``, the reference trained as long (every stage the student
  trained after it, replayed on it with the same arguments and seeds: :mod:`harness.tuned`) and the
  KD student's drop below it, so that a student whose training outlasted an unconverged reference
  is not credited with recovering it;
- parameters of teacher and student;
- FP32 batch-1 latency of teacher, control and KD student on the first ``distill.backends``
  backend, each timed interleaved against the teacher in this run;
- seconds per training epoch with the teacher (``distill.json``) and without (the control's
  ``results.csv``).

Nothing is estimated: what could not be measured is None with a note. Rows go to
``results.json`` ``studies.distillation``; the report renders the distillation table from them.
"""

from __future__ import annotations

import dataclasses
import functools
import statistics
from dataclasses import dataclass, field

from harness.bench import Bench
from harness.builders import build
from harness.builders.distill import read_report
from harness.builders.train import RESULTS_FILE, epoch_seconds
from harness.checks import check_bound, check_interval_bound
from harness.config.distillation import REFERENCE_TEACHER, DistillBar
from harness.errors import HarnessError
from harness.matrix import control_recipe
from harness.measure.latency import interleave
from harness.measure.seeds import SEED_UNIT, interval_fields
from harness.measure.stats import Interval
from harness.recipes import DistillRecipe, DistillSpec, PruneRecipe, Variant, prune_recipe_of
from harness.replicates import training_difference
from harness.results import DISTILLATION
from harness.studies.base import Bar, Study
from harness.tuned import tuned_control, tuned_skip

__all__ = ["DistillCase", "DistillRow", "DistillationStudy", "cases", "measure_case"]

Figure = float | None
ROLES = ("teacher", "control", "kd")


@dataclass(frozen=True)
class DistillCase:
    """One distilled student; every variant is FP32 on ``backend``."""

    variant: Variant  # the KD student
    control: Variant  # the same student trained without the teacher
    teacher: Variant
    start: Variant  # the student before training (pruned, not fine-tuned; or the reference)
    tuned: Variant | None = None  # its reference trained as long (harness.tuned.tuned_control)

    @property
    def recipe(self) -> DistillRecipe:
        """The KD student's recipe."""
        assert isinstance(self.variant.source, DistillRecipe)
        return self.variant.source

    @property
    def spec(self) -> DistillSpec:
        """Method, teacher label, weight, temperature, epochs."""
        return self.recipe.spec

    @property
    def pruned(self) -> bool:
        """Whether the student is pruned."""
        return self.variant.prune is not None

    @property
    def slug(self) -> str:
        """Test id, e.g. ``yolo11n-p30-l1-kd-response-reference``."""
        student = self.variant.prune.slug if self.variant.prune else "p00"
        return f"{self.variant.model}-{student}-{self.spec.slug}"


@dataclass
class DistillRow:
    """Everything measured for one case (None: not measured)."""

    case: str
    model: str
    student: str
    spec: DistillSpec
    bar: DistillBar
    backend: str
    params: dict[str, Figure] = field(default_factory=dict)  # teacher / student
    latency_ms: dict[str, Figure] = field(default_factory=dict)  # teacher / control / kd
    maps: dict[str, Figure] = field(default_factory=dict)  # teacher / reference / start / control / kd
    epoch_s: dict[str, Figure] = field(default_factory=dict)  # control / kd (mean per epoch)
    notes: list[str] = field(default_factory=list)
    gain_ci: Interval | None = None  # KD - control over training seeds and val images
    reference_drop_ci: Interval | None = None  # reference - KD over training seeds and val images
    tuned_drop_ci: Interval | None = None  # reference trained as long - KD, over seeds and val images

    @property
    def gain(self) -> Figure:
        """KD mAP50-95 - control mAP50-95."""
        kd, control = self.maps.get("kd"), self.maps.get("control")
        return kd - control if kd is not None and control is not None else None

    @property
    def reference_drop(self) -> Figure:
        """Unpruned reference mAP50-95 - KD mAP50-95."""
        kd, ref = self.maps.get("kd"), self.maps.get("reference")
        return ref - kd if kd is not None and ref is not None else None

    @property
    def tuned_drop(self) -> Figure:
        """mAP50-95 of the reference trained as long - KD mAP50-95 (None: not measured)."""
        kd, tuned = self.maps.get("kd"), self.maps.get("tuned_reference")
        return tuned - kd if kd is not None and tuned is not None else None

    @property
    def epoch_ratio(self) -> Figure:
        """Seconds per epoch with the teacher / without."""
        kd, control = self.epoch_s.get("kd"), self.epoch_s.get("control")
        return kd / control if kd and control else None

    def to_dict(self) -> dict[str, object]:
        """A flat JSON row for ``studies.distillation``."""
        return {
            "case": self.case,
            "model": self.model,
            "student": self.student,
            **{f"kd_{k}": v for k, v in self.spec.to_dict().items()},
            "backend": self.backend,
            **{f"params_{k}": v for k, v in self.params.items()},
            **{f"{k}_ms": v for k, v in self.latency_ms.items()},
            **{f"map50_95_{k}": v for k, v in self.maps.items()},
            **{f"epoch_s_{k}": v for k, v in self.epoch_s.items()},
            "gain": self.gain,
            "reference_drop": self.reference_drop,
            "tuned_drop": self.tuned_drop,
            **interval_fields("gain", self.gain_ci),
            **interval_fields("reference_drop", self.reference_drop_ci),
            **interval_fields("tuned_drop", self.tuned_drop_ci),
            "min_gain": self.bar.min_gain,
            "max_reference_drop": self.bar.max_reference_drop,
            "notes": "; ".join(self.notes),
        }


def cases(bench: Bench) -> list[DistillCase]:
    """One case per distilled student of the matrix (whatever backends it runs on)."""
    found: dict[str, DistillCase] = {}
    backend = _backend(bench)
    for variant in bench.variants:
        if variant.distill is not None and backend is not None:
            case = _case(bench, dataclasses.replace(variant, backend=backend), backend)
            found.setdefault(case.slug, case)
    return list(found.values())


def _backend(bench: Bench) -> str | None:
    """The backend the study times on: the first of ``distill.backends`` in the matrix."""
    return next((b for b in bench.config.distill.backends if b in bench.config.matrix.backend), None)


def _case(bench: Bench, variant: Variant, backend: str) -> DistillCase:
    recipe = variant.source
    assert isinstance(recipe, DistillRecipe)
    model = bench.config.model(variant.model)
    control = control_recipe(recipe.student, recipe.data, model, bench.config)
    control_prune = control.spec if isinstance(control, PruneRecipe) else None
    first = recipe.spec.teacher.split("+")[0]  # multi-teacher: the first teacher is timed and scored
    teacher_model = variant.model if first == REFERENCE_TEACHER else first
    return DistillCase(
        variant=variant,
        control=dataclasses.replace(variant, source=control, prune=control_prune, distill=None),
        teacher=_teacher(teacher_model, recipe, backend, variant.imgsz),
        start=dataclasses.replace(variant, source=recipe.student, distill=None),
        tuned=tuned_control(variant, bench.config),
    )


def _teacher(model: str, recipe: DistillRecipe, backend: str, imgsz: int) -> Variant:
    """The teacher as a variant (a progressive student's: its teacher assistant, pruned and distilled)."""
    teacher = recipe.teacher
    pruning = prune_recipe_of(teacher)
    distill = teacher.spec.slug if isinstance(teacher, DistillRecipe) else None
    return Variant(model, teacher, pruning.spec if pruning else None, "fp32", backend, distill, imgsz)


def measure_case(bench: Bench, case: DistillCase) -> DistillRow:
    """Build and measure one case (see the module docstring)."""
    kd = bench.config.distill
    student = case.variant.prune.slug if case.variant.prune else "p00"
    bar = kd.bar_for(case.variant.model, case.spec.teacher, case.spec.method, case.pruned)
    row = DistillRow(case.slug, case.variant.model, student, case.spec, bar, case.variant.backend)
    _accuracy(bench, case, row)
    _intervals(bench, case, row)
    _sizes(bench, case, row)
    _speed(bench, case, row)
    _epochs(bench, case, row)
    return row


def _accuracy(bench: Bench, case: DistillCase, row: DistillRow) -> None:
    """mAP50-95 of the teacher, the reference, the start, the control and the KD student (on torch)."""
    on_torch = {
        "teacher": case.teacher,
        "reference": case.variant.reference(),
        "start": case.start,
        "control": case.control,
        "kd": case.variant,
    }
    for role, variant in on_torch.items():
        row.maps[role] = bench.accuracy(dataclasses.replace(variant, backend="torch")).map50_95
    tuned = case.tuned
    row.maps["tuned_reference"] = None if tuned is None else bench.accuracy(tuned).map50_95


def _intervals(bench: Bench, case: DistillCase, row: DistillRow) -> None:
    """The gain over the control and the drops below the reference and the reference trained as
    long, over training seeds (KD student, control and that reference each trained at
    ``verdicts.training_seeds`` seeds; the reference is their input)."""
    kd, control = (dataclasses.replace(v, backend="torch") for v in (case.variant, case.control))
    row.gain_ci = training_difference(bench, kd, control)
    row.reference_drop_ci = training_difference(bench, case.variant.reference(), kd)
    row.tuned_drop_ci = None if case.tuned is None else training_difference(bench, case.tuned, kd)


def _sizes(bench: Bench, case: DistillCase, row: DistillRow) -> None:
    row.params["teacher"] = bench.network_size(case.teacher).get("params")
    row.params["student"] = bench.network_size(case.variant).get("params")


def _speed(bench: Bench, case: DistillCase, row: DistillRow) -> None:
    """Control and KD student each timed interleaved against the teacher (FP32, batch 1)."""
    lat = bench.config.latency
    teacher = bench.runner_or_note(case.teacher, row.notes)
    if teacher is None:
        return
    x = bench.input_batch(case.variant, 1)
    for role, variant in (("control", case.control), ("kd", case.variant)):
        runner = bench.runner_or_note(variant, row.notes)
        if runner is None:
            continue
        timed = interleave(
            functools.partial(runner, x), lambda: teacher(x), lat.interleaved_rounds, lat.warmup
        )
        row.latency_ms[role] = timed.candidate_median_s * 1e3
        row.latency_ms.setdefault("teacher", timed.reference_median_s * 1e3)


def _epochs(bench: Bench, case: DistillCase, row: DistillRow) -> None:
    """Mean seconds per epoch with the teacher and without (the control's own training)."""
    row.epoch_s["kd"] = statistics.fmean(
        read_report(build(case.recipe, bench.ctx).directory)["epoch_seconds"]
    )
    control = build(case.control.source, bench.ctx).directory / RESULTS_FILE
    try:
        row.epoch_s["control"] = statistics.fmean(epoch_seconds(control))
    except HarnessError as exc:
        row.epoch_s["control"] = None
        row.notes.append(f"control epoch time not measured: {exc}")


class DistillationStudy(Study[DistillCase, DistillRow]):
    """Distillation as a study: a case per distilled student; gain, reference and cost bars."""

    name = DISTILLATION
    table = "distill"
    fixture = "distill_case"
    empty = "no distillation cases: no [distill] students, or none of its backends in the matrix"

    def cases(self, bench: Bench) -> list[DistillCase]:
        """One case per distilled student of the matrix."""
        return cases(bench)

    def measure(self, bench: Bench, case: DistillCase) -> DistillRow:
        """Train KD student and control, measure both and the teacher (:func:`measure_case`)."""
        return measure_case(bench, case)

    def rows(self, bench: Bench, row: DistillRow) -> list[dict[str, object]]:
        """The case's row of ``studies.distillation``."""
        return [row.to_dict()]

    def bars(self, bench: Bench, case: DistillCase, row: DistillRow) -> list[Bar]:
        """gain, reference, tuned and epoch_cost (see ``suites/test_distill.py``)."""
        fails = bench.config.verdicts.inconclusive_fails
        return [_gain_bar(case, row, fails), _reference_bar(case, row, fails),
                _tuned_bar(bench, case, row, fails), _cost_bar(bench, case, row)]  # fmt: skip

    def summary(self, case: DistillCase, row: DistillRow) -> str:
        """Teacher, control and KD mAP50-95 and the gain on one line."""
        maps = " / ".join(
            f"{role} {'-' if row.maps.get(role) is None else format(row.maps[role], '.4f')}"
            for role in ("teacher", "control", "kd")
        )
        gain = "-" if row.gain is None else f"{row.gain:+.4f}"
        seeds = ""
        if row.gain_ci is not None and row.gain_ci.unit == SEED_UNIT:
            seeds = f"; over {row.gain_ci.n} training seeds {row.gain_ci.describe(4)}"
        return f"harness: distillation {row.case}: mAP50-95 {maps} (gain {gain}{seeds})"


def _map(row: DistillRow, role: str) -> str:
    value = row.maps.get(role)
    return "-" if value is None else f"{value:.4f}"


def _seeds(interval: Interval | None) -> str:
    """``over 2 training seeds`` or ``one training seed, seed spread not measured``."""
    if interval is not None and interval.unit == SEED_UNIT:
        return f"mean over {interval.n} training seeds"
    return "one training seed: seed spread not measured"


def _gain_bar(case: DistillCase, row: DistillRow, fails: bool) -> Bar:
    """KD mAP50-95 >= control mAP50-95 + min_gain, on the interval over training seeds."""
    wanted = row.bar.min_gain if row.bar.min_gain is not None else 0.0
    context = (
        f"{_seeds(row.gain_ci)}; run seed: KD {_map(row, 'kd')} vs control {_map(row, 'control')}, "
        f"teacher {_map(row, 'teacher')}, {row.spec.epochs} epochs each"
    )
    what = "KD mAP50-95 gain over the control"
    check = check_interval_bound(
        "kd_gain",
        case.slug,
        what,
        row.gain_ci,
        wanted,
        at_most=False,
        context=context,
        inconclusive_fails=fails,
    )
    return Bar("gain", (check,))


def _reference_bar(case: DistillCase, row: DistillRow, fails: bool) -> Bar:
    """KD mAP50-95 >= unpruned reference - max_reference_drop (when the case's bar sets one), on the
    interval over training seeds."""
    limit, drop = row.bar.max_reference_drop, row.reference_drop_ci
    if limit is None:
        shown = "-" if drop is None else f"{drop.estimate:+.4f}"
        return Bar.skipped(
            "reference", f"{case.slug}: reference drop {shown} recorded; no bar sets max_reference_drop"
        )
    context = f"{_seeds(drop)}; run seed: KD {_map(row, 'kd')}, reference {_map(row, 'reference')}"
    what = "KD mAP50-95 drop below the unpruned reference"
    check = check_interval_bound(
        "kd_reference_drop",
        case.slug,
        what,
        drop,
        limit,
        at_most=True,
        context=context,
        inconclusive_fails=fails,
    )
    return Bar("reference", (check,))


def _tuned_bar(bench: Bench, case: DistillCase, row: DistillRow, fails: bool) -> Bar:
    """KD mAP50-95 >= the reference trained as long - max_reference_drop (with ``[verdicts]
    tuned_reference`` and a bar that sets one), on the interval over training seeds."""
    limit, drop = row.bar.max_reference_drop, row.tuned_drop_ci
    skip = tuned_skip(case.slug, bench.config, drop, limit, "max_reference_drop")
    if skip is not None:
        return Bar.skipped("tuned", skip)
    assert drop is not None and limit is not None  # tuned_skip said so
    context = (
        f"{_seeds(drop)}; run seed: KD {_map(row, 'kd')}, "
        f"reference trained as long {_map(row, 'tuned_reference')}"
    )
    what = "KD mAP50-95 drop below the reference trained as long"
    check = check_interval_bound(
        "kd_tuned_drop", case.slug, what, drop, limit, at_most=True, context=context, inconclusive_fails=fails
    )
    return Bar("tuned", (check,))


def _cost_bar(bench: Bench, case: DistillCase, row: DistillRow) -> Bar:
    """Seconds per epoch with the teacher <= max_epoch_ratio x seconds per plain epoch."""
    ratio = row.epoch_ratio
    if ratio is None:
        why = "; ".join(row.notes) or "no results.csv"
        return Bar.skipped("epoch_cost", f"{case.slug}: epoch time not measured: {why}")
    context = f"{row.epoch_s['kd']:.1f} s per KD epoch vs {row.epoch_s['control']:.1f} s plain"
    check = check_bound("kd_epoch_ratio", case.slug, "KD epoch time ratio", ratio,
                        bench.config.distill.max_epoch_ratio, at_most=True, context=context, digits=2)  # fmt: skip
    return Bar("epoch_cost", (check,))
