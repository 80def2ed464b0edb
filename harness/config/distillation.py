"""The ``[distill]`` config table: which students learn from which teachers, how, and their bars.

::

    [distill]
    students = [{prune = 0.3}]    # model = a [[models]] name (absent: every model); prune: a ratio
                                  # of matrix.prune (absent: unpruned); teachers = [...] replaces
                                  # the list below for this student
    teachers = ["reference"]      # "reference" (the student's own unpruned model), a [[models]] name,
                                  # or a path to a teacher .pt
    methods = ["response"]        # response (logit) KD, feature (Ultralytics distill_model), cwd
    epochs = 4                    # epochs with the teacher; the control trains the same epochs without
    backends = ["torch"]          # distilled variants join the matrix on these backends, FP32
    max_epoch_ratio = 2.0         # an epoch with the teacher takes at most this x a plain epoch
    min_gain = 0.0                # mAP50-95 over the control that every case must reach
    response = {weight = 1.0, temperature = 2.0}
    feature = {weight = 1.0}      # Ultralytics' ``dis`` (its own default, 6.0, lost 0.023 here)
    cwd = {weight = 3.0, temperature = 4.0}
    bars = [{teacher = "reference", method = "response", min_gain = 0.01, max_reference_drop = 0.01}]

Cases are the product students x teachers x methods, except a "reference" teacher for an unpruned
student (it would teach itself). A model's own ``teacher`` file (``[[models]] teacher``) is one
more teacher for that model's students. A bar applies to the cases its ``student``, ``teacher``,
``method`` and ``pruned`` keys match (absent keys match all; the first matching bar wins):
``min_gain`` over the control and ``max_reference_drop`` against the student's unpruned reference.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.config.reader import Where, check_keys, did_you_mean
from harness.errors import ConfigError
from harness.recipes import DISTILL_METHODS

DISTILL_KEYS = (
    "students", "teachers", "methods", "epochs", "backends", "max_epoch_ratio", "min_gain", "bars",
    *DISTILL_METHODS,
)  # fmt: skip
STUDENT_KEYS = ("model", "prune", "teachers")
BAR_SELECTORS = ("student", "teacher", "method", "pruned")
BAR_KEYS = (*BAR_SELECTORS, "min_gain", "max_reference_drop")
REFERENCE_TEACHER = "reference"
# Measured on the embedded default (pruned yolo11n from its reference, 4 epochs, control 0.6432):
# response 1.0 / T 2: 0.6569 (weight 3: 0.6475 at 6 epochs); feature 1.0: 0.6507 (Ultralytics'
# default dis 6.0: 0.6201); cwd 3.0 / T 4: 0.6504 (weight 1.0: 0.6459).
# attention (AT) and relational (RKD) take no temperature (the second figure is unused). Their weights
# match the response term's size, not tuned by training: on a batch of 8 embedded images the pruned
# yolo11n's detection loss was 3.34 per image, response KD (T 2) 6.07, AT 0.0081 (x 500 = 4.1) and
# RKD 1.20 (x 2 = 2.4).
_DEFAULT_LOSS = {"response": (1.0, 2.0), "feature": (1.0, 1.0), "cwd": (3.0, 4.0), "attention": (500.0, 1.0),
                 "relational": (2.0, 1.0), "multi": (1.0, 2.0), "progressive": (1.0, 2.0)}  # fmt: skip


@dataclass(frozen=True)
class StudentChoice:
    """A student: a model of ``[[models]]`` (None: every model), pruned at ``prune`` (0.0:
    unpruned), taught by its own ``teachers`` when given (else by ``distill.teachers``)."""

    model: str | None
    prune: float = 0.0
    teachers: tuple[str | Path, ...] | None = None


@dataclass(frozen=True)
class MethodLoss:
    """A method's KD loss weight and softening temperature."""

    weight: float
    temperature: float = 1.0


@dataclass(frozen=True)
class DistillBar:
    """Targets for the cases it selects (None selectors match everything, None targets are not checked)."""

    student: str | None = None
    teacher: str | None = None
    method: str | None = None
    pruned: bool | None = None
    min_gain: float | None = None
    max_reference_drop: float | None = None

    def matches(self, student: str, teacher: str, method: str, pruned: bool) -> bool:
        """Whether this bar applies to the case."""
        wanted = (self.student, self.teacher, self.method, self.pruned)
        return all(
            w is None or w == got for w, got in zip(wanted, (student, teacher, method, pruned), strict=True)
        )


@dataclass(frozen=True)
class DistillConfig:
    """The ``[distill]`` table (see the module docstring); no students: no distillation."""

    students: tuple[StudentChoice, ...] = ()
    teachers: tuple[str | Path, ...] = (REFERENCE_TEACHER,)  # Path: a teacher .pt file
    methods: tuple[str, ...] = ("response",)
    epochs: int = 4
    backends: tuple[str, ...] = ("torch",)
    max_epoch_ratio: float = 2.0
    min_gain: float = 0.0
    losses: Mapping[str, MethodLoss] = field(
        default_factory=lambda: {m: MethodLoss(*wt) for m, wt in _DEFAULT_LOSS.items()},
        hash=False,  # a dict; equality still compares it
    )
    bars: tuple[DistillBar, ...] = ()

    def bar_for(self, student: str, teacher: str, method: str, pruned: bool) -> DistillBar:
        """The first matching bar, or a bar holding only the table's ``min_gain``."""
        for bar in self.bars:
            if bar.matches(student, teacher, method, pruned):
                return bar
        return DistillBar(min_gain=self.min_gain)

    @classmethod
    def from_mapping(
        cls, table: Mapping[str, object], where: Where, models: Collection[str], backends: Collection[str]
    ) -> DistillConfig:
        """Parse ``[distill]``; student and teacher model names are checked against ``models``."""
        check_keys(table, DISTILL_KEYS, where)
        fields: dict[str, object] = {}
        if "students" in table:
            items = where.sequence(table["students"], "students")
            fields["students"] = tuple(_student(where, i, v, models) for i, v in enumerate(items))
        if "teachers" in table:
            items = where.sequence(table["teachers"], "teachers")
            fields["teachers"] = tuple(
                _teacher(where, f"teachers[{i}]", v, models) for i, v in enumerate(items)
            )
        for key, choices in (("methods", DISTILL_METHODS), ("backends", backends)):
            if key in table:
                items = where.sequence(table[key], key)
                fields[key] = tuple(where.choice(v, f"{key}[{i}]", choices) for i, v in enumerate(items))
        for key in ("students", "teachers", "methods", "backends"):
            if key in fields:
                _no_repeats(where, key, fields[key])  # type: ignore[arg-type]
        if "epochs" in table:
            fields["epochs"] = where.integer(table["epochs"], "epochs", 1)
        for key in ("max_epoch_ratio", "min_gain"):
            if key in table:
                fields[key] = where.number(table[key], key, 0.0 if key == "max_epoch_ratio" else -1.0)
        fields["losses"] = {m: _loss(where, table, m) for m in DISTILL_METHODS}
        if "bars" in table:
            items = where.sequence(table["bars"], "bars")
            fields["bars"] = tuple(_bar(where, i, v) for i, v in enumerate(items))
        return cls(**fields)  # type: ignore[arg-type]


def _student(parent: Where, index: int, value: object, models: Collection[str]) -> StudentChoice:
    table = parent.table(value, f"students[{index}]")
    where = parent.child("students").item(index)
    check_keys(table, STUDENT_KEYS, where)
    model = where.choice(table["model"], "model", models) if "model" in table else None
    prune = where.number(table["prune"], "prune", 0.0, 1.0) if "prune" in table else 0.0
    if prune >= 1.0:
        raise where.error("prune", "a ratio in [0, 1)", table["prune"])
    teachers = None
    if "teachers" in table:
        items = where.sequence(table["teachers"], "teachers")
        teachers = tuple(_teacher(where, f"teachers[{i}]", v, models) for i, v in enumerate(items))
    return StudentChoice(model, prune, teachers)


def _no_repeats(where: Where, key: str, values: tuple[object, ...]) -> None:
    """A ConfigError naming ``distill.<key>[i]`` when entry i repeats an earlier one."""
    for i, value in enumerate(values):
        if value in values[:i]:
            name, first = where.key(f"{key}[{i}]"), values.index(value)
            raise ConfigError(f"{name} in {where.source} repeats {key}[{first}] ({value!r})")


def is_teacher_path(text: str) -> bool:
    """Whether a ``teachers`` entry names a file (ends in ``.pt`` or holds a path separator)."""
    return text.endswith(".pt") or "/" in text or "\\" in text


def _teacher(where: Where, name: str, value: object, models: Collection[str]) -> str | Path:
    """A teacher entry: "reference", a model name, or an existing ``.pt`` (made absolute on loading)."""
    if isinstance(value, Path):
        if not value.is_file():
            raise where.error(name, "an existing teacher .pt file", f"{value} (file not found)")
        return value
    text = where.string(value, name)
    if is_teacher_path(text):
        return _teacher(where, name, Path(text).absolute(), models)
    if text != REFERENCE_TEACHER and text not in models:
        choices = [REFERENCE_TEACHER, *models]
        raise where.error(
            name,
            f"'reference', a model name ({', '.join(models)}) or a path to a .pt file"
            + did_you_mean(text, choices),
            text,
        )
    return text


def _loss(parent: Where, table: Mapping[str, object], method: str) -> MethodLoss:
    weight, temperature = _DEFAULT_LOSS[method]
    if method not in table:
        return MethodLoss(weight, temperature)
    sub = parent.table(table[method], method)
    where = parent.child(method)
    check_keys(sub, ("weight", "temperature") if method != "feature" else ("weight",), where)
    if "weight" in sub:
        weight = where.number(sub["weight"], "weight", 0.0)
    if "temperature" in sub:
        temperature = where.number(sub["temperature"], "temperature", 0.0)
    if weight <= 0.0 or temperature <= 0.0:
        bad = "weight" if weight <= 0.0 else "temperature"
        raise where.error(bad, "a number > 0", sub[bad])
    return MethodLoss(weight, temperature)


def _bar(parent: Where, index: int, value: object) -> DistillBar:
    table = parent.table(value, f"bars[{index}]")
    where = parent.child("bars").item(index)
    check_keys(table, BAR_KEYS, where)
    fields: dict[str, object] = {}
    for key in ("student", "teacher"):
        if key in table:
            fields[key] = where.string(table[key], key)
    if "method" in table:
        fields["method"] = where.choice(table["method"], "method", DISTILL_METHODS)
    if "pruned" in table:
        if not isinstance(table["pruned"], bool):
            raise where.error("pruned", "true or false", table["pruned"])
        fields["pruned"] = table["pruned"]
    for key in ("min_gain", "max_reference_drop"):
        if key in table:
            fields[key] = where.number(table[key], key, -1.0 if key == "min_gain" else 0.0)
    return DistillBar(**fields)  # type: ignore[arg-type]
