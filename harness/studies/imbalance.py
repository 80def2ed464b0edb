"""The class-imbalance study: each treatment of a long tail against an untreated control.

For one model (``[studies.class_imbalance]``, :mod:`harness.config.imbalance`) on the long-tail
version of the embedded dataset (or the user's own data as it is), every method trains the same
model the same epochs, seed, batch and image size as an untreated control:

- ``loss_weights``: Ultralytics' loss gains (``box``, ``cls``, ``dfl``) changed;
- ``focal``: focal loss on the class branch;
- ``median_frequency``: median-frequency class weights on the class loss;
- ``balanced_sampler``: images resampled by the repeat factor of their rarest class
  (:mod:`harness.builders.balance`).

Both are scored on the val split (PyTorch, FP32): mAP50-95 overall, over the rare classes and over
the frequent ones, each as the method's gain over the control with an interval over training
seeds and val images (:mod:`harness.replicates`); per-class AP50-95 of the run seed and the train
objects per class go in the per-class table. The bar: the rare-class gain's interval against
``min_rare_gain``.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.bench import Bench
from harness.builders import materialize
from harness.builders.train import REFERENCE_HYP, train_versions
from harness.checks import check_interval_bound
from harness.config import ModelSpec
from harness.config.imbalance import LONG_TAIL, ImbalanceSpec
from harness.config.trainargs import with_overrides
from harness.datasets.synthetic import SHAPES
from harness.datasets.yolo import list_split, load_data_yaml, read_labels
from harness.errors import ConfigError
from harness.matrix import data_recipe, finetune_hyp
from harness.measure.mapboot import MatchTable
from harness.measure.seeds import interval_fields, replicate_difference
from harness.measure.stats import Interval
from harness.recipes import ClassBalance, DataRecipe, SyntheticDataRecipe, TrainRecipe, Variant
from harness.replicates import replicate
from harness.results import CLASS_IMBALANCE
from harness.studies.base import Bar, Study

__all__ = ["ImbalanceCase", "ImbalanceRow", "ImbalanceStudy", "cases", "imbalance_spec", "measure_case"]

GROUPS = ("all", "rare", "frequent")


@dataclass(frozen=True)
class ImbalanceCase:
    """One method for one model, with its untreated control."""

    model: str
    method: str
    treated: Variant
    control: Variant
    names: tuple[str, ...]
    rare: tuple[int, ...]  # class ids of the rare group

    @property
    def slug(self) -> str:
        """Test id, e.g. ``yolo11n-imbalance-focal``."""
        return f"{self.model}-imbalance-{self.method.replace('_', '-')}"

    @property
    def frequent(self) -> tuple[int, ...]:
        """Class ids outside the rare group."""
        return tuple(i for i in range(len(self.names)) if i not in self.rare)


@dataclass
class ImbalanceRow:
    """Everything measured for one case (None: not measured)."""

    case: ImbalanceCase
    setting: str
    maps: dict[str, dict[str, float | None]] = field(default_factory=dict)  # role -> group -> mAP
    gains: dict[str, Interval | None] = field(default_factory=dict)  # group -> treated - control
    per_class: dict[str, dict[str, float | None]] = field(default_factory=dict)  # role -> class -> AP
    train_objects: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """A flat JSON row for ``studies.class_imbalance``."""
        case = self.case
        out: dict[str, object] = {
            "case": case.slug, "model": case.model, "method": case.method, "setting": self.setting,
            "rare_classes": [case.names[i] for i in case.rare],
            "frequent_classes": [case.names[i] for i in case.frequent],
        }  # fmt: skip
        for role in ("control", "treated"):
            for group in GROUPS:
                out[f"map50_95_{group}_{role}"] = self.maps.get(role, {}).get(group)
        for group in GROUPS:
            gain = self.gains.get(group)
            out[f"{group}_gain"] = gain.estimate if gain is not None else None
            out |= interval_fields(f"{group}_gain", gain)
        out["per_class_ap_control"] = self.per_class.get("control", {})
        out["per_class_ap_treated"] = self.per_class.get("treated", {})
        out["train_objects"] = self.train_objects
        return out


def imbalance_spec(bench: Bench) -> ImbalanceSpec | None:
    """The run's ``[studies.class_imbalance]`` settings, or None when the config has no such table."""
    return bench.config.studies.read(CLASS_IMBALANCE, ImbalanceSpec.from_table)


def cases(bench: Bench) -> list[ImbalanceCase]:
    """One case per chosen model and method (cheap: the dataset is not generated)."""
    spec = imbalance_spec(bench)
    if spec is None:
        return []
    where = bench.config.studies.where(CLASS_IMBALANCE)
    data, names = _long_tail(bench, spec)
    rare = _rare(spec, names, data, bench)
    for name in spec.models or ():
        if name not in bench.models:
            raise ConfigError(f"{where.key('models')} in {where.source}: no model {name!r} in the matrix "
                              f"(models: {', '.join(bench.models)})")  # fmt: skip
    chosen = [m for m in bench.models if spec.models is None or m in spec.models]
    return [_case(bench, spec, data, names, rare, m, method) for m in chosen for method in spec.methods]


def _long_tail(bench: Bench, spec: ImbalanceSpec) -> tuple[DataRecipe, tuple[str, ...]]:
    """The training data: the embedded dataset with its long tail, or the user's data as it is."""
    where = bench.config.studies.where(CLASS_IMBALANCE)
    data = data_recipe(bench.config)
    if not isinstance(data, SyntheticDataRecipe):
        if spec.frequencies is not None:
            raise ConfigError(
                f"{where.key('frequencies')} in {where.source}: shapes the embedded dataset only; this "
                "config trains on its own data, which the study uses as it is"
            )
        return data, bench.data.names
    frequencies = spec.frequencies or LONG_TAIL
    if len(frequencies) != len(SHAPES):
        raise ConfigError(
            f"{where.key('frequencies')} in {where.source}: expected {len(SHAPES)} frequencies, one per "
            f"class of the embedded dataset ({', '.join(SHAPES)}), got {len(frequencies)}"
        )
    return dataclasses.replace(data, class_frequencies=frequencies), SHAPES


def _rare(spec: ImbalanceSpec, names: tuple[str, ...], data: DataRecipe, bench: Bench) -> tuple[int, ...]:
    """Class ids of the rare group: the configured names, else the rarer half of the train classes."""
    if spec.rare is not None:
        where = bench.config.studies.where(CLASS_IMBALANCE)
        for name in spec.rare:
            if name not in names:
                raise ConfigError(
                    f"{where.key('rare')} in {where.source}: class {name!r} is not in the data "
                    f"(classes: {', '.join(names)})"
                )
        return tuple(sorted(names.index(n) for n in spec.rare))
    if isinstance(data, SyntheticDataRecipe) and data.class_frequencies is not None:
        order = sorted(range(len(names)), key=lambda i: data.class_frequencies[i])  # type: ignore[index]
    else:
        counts = _train_objects(bench, data, names)
        order = sorted(range(len(names)), key=lambda i: counts[names[i]])
    return tuple(sorted(order[: len(names) // 2]))


def _train_objects(bench: Bench, data: DataRecipe, names: tuple[str, ...]) -> dict[str, int]:
    """Objects per class in the training data's train split."""
    return dict(_count_objects(materialize(data, bench.ctx), names))


@functools.cache
def _count_objects(data_yaml: Path, names: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    """Objects per class of the train split of ``data_yaml``, read once per process (every
    method of a run learns from the same split)."""
    counts = [0] * len(names)
    for sample in list_split(load_data_yaml(data_yaml), "train"):
        for row in read_labels(sample.label, len(names)):
            counts[int(row[0])] += 1
    return tuple(zip(names, counts, strict=True))


def _case(
    bench: Bench, spec: ImbalanceSpec, data: DataRecipe, names: tuple[str, ...], rare: tuple[int, ...],
    model: str, method: str,
) -> ImbalanceCase:  # fmt: skip
    control = _control(bench, spec, data, bench.config.model(model))
    treated = _treated(spec, control, method)
    variant = lambda source: Variant(model, source, imgsz=spec.imgsz)
    return ImbalanceCase(model, method, variant(treated), variant(control), names, rare)


def _control(bench: Bench, spec: ImbalanceSpec, data: DataRecipe, model: ModelSpec) -> TrainRecipe:
    """The untreated training: from scratch for a YAML model, from the user's weights for a .pt."""
    start = bench.reference(model.name).source
    from_weights = model.weights is not None
    return TrainRecipe(
        cfg=model.cfg or (model.weights.name if model.weights else model.name),
        data=data,
        epochs=spec.epochs,
        batch=model.batch,
        imgsz=spec.imgsz,
        seed=bench.config.seed,
        versions=train_versions(),
        hyp=finetune_hyp(start, model) if from_weights else with_overrides(REFERENCE_HYP, model.train_args),
        init=start if from_weights else None,  # type: ignore[arg-type]
    )


def _treated(spec: ImbalanceSpec, control: TrainRecipe, method: str) -> TrainRecipe:
    """The control's training with ``method`` applied."""
    if method == "loss_weights":
        return dataclasses.replace(control, hyp=with_overrides(control.hyp, spec.loss_weights))
    if method == "focal":
        return dataclasses.replace(control, balance=ClassBalance("focal", spec.gamma, spec.alpha))
    if method == "median_frequency":  # Ultralytics applies class weights only when cls_pw > 0
        hyp = with_overrides(control.hyp, {"cls_pw": 1.0})
        return dataclasses.replace(control, hyp=hyp, balance=ClassBalance("median_frequency"))
    return dataclasses.replace(control, balance=ClassBalance(method))


def _setting(spec: ImbalanceSpec, method: str) -> str:
    """The method's parameters in words."""
    if method == "loss_weights":
        return ", ".join(f"{k} {v:g}" for k, v in spec.loss_weights.items())
    if method == "focal":
        return f"gamma {spec.gamma:g}, alpha {spec.alpha:g}"
    return {
        "median_frequency": "median(freq) / freq(c)",
        "balanced_sampler": "repeat factor of rarest class",
    }[method]


def measure_case(bench: Bench, case: ImbalanceCase) -> ImbalanceRow:
    """Train (cached) the method and its control at every training seed and score both."""
    spec = imbalance_spec(bench) or ImbalanceSpec()
    row = ImbalanceRow(case, _setting(spec, case.method))
    verdicts = bench.config.verdicts
    pairs: list[tuple[MatchTable, MatchTable]] = []
    for offset in range(verdicts.training_seeds):
        treated, control = replicate(case.treated, offset), replicate(case.control, offset)
        pairs.append((bench.matches(treated), bench.matches(control)))
    for role, variant in (("treated", case.treated), ("control", case.control)):
        table = bench.matches(variant)
        row.maps[role] = {group: _group_map(table, _ids(case, group)) for group in GROUPS}
        per_class = bench.accuracy(variant).per_class
        row.per_class[role] = {name: per_class.get(i) for i, name in enumerate(case.names)}
    for group in GROUPS:
        ids = _ids(case, group)
        restricted = [(t.only(ids), c.only(ids)) for t, c in pairs]
        row.gains[group] = replicate_difference(
            restricted, verdicts.accuracy_confidence, verdicts.accuracy_resamples
        )
    assert isinstance(case.control.source, TrainRecipe)
    row.train_objects = _train_objects(bench, case.control.source.data, case.names)
    return row


def _ids(case: ImbalanceCase, group: str) -> tuple[int, ...]:
    return {"all": tuple(range(len(case.names))), "rare": case.rare, "frequent": case.frequent}[group]


def _group_map(table: MatchTable, ids: tuple[int, ...]) -> float | None:
    """mAP50-95 over the classes ``ids`` (None when none of them has val objects)."""
    restricted = table.only(ids)
    if not restricted.classes:
        return None
    return float(restricted.map50_95(np.ones((1, table.n_images)))[0])


def _rare_bar(bench: Bench, case: ImbalanceCase, row: ImbalanceRow, minimum: float | None) -> Bar:
    """Rare-class mAP50-95 of the method at least the control's + ``minimum``, over training seeds
    (skipped, with the gain, when the config sets no ``min_rare_gain``)."""
    if minimum is None:
        gain = row.gains.get("rare")
        recorded = "-" if gain is None else gain.describe(4)
        return Bar.skipped(
            "rare_gain", f"{case.slug}: rare-class gain {recorded} recorded; no min_rare_gain set"
        )
    rare = ", ".join(case.names[i] for i in case.rare)
    treated, control = row.maps.get("treated", {}).get("rare"), row.maps.get("control", {}).get("rare")
    shown = lambda v: "-" if v is None else f"{v:.4f}"
    context = f"rare classes {rare}; run seed: {case.method} {shown(treated)} vs control {shown(control)}"
    check = check_interval_bound(
        "rare_ap_gain", case.slug, f"rare-class AP50-95 gain of {case.method} over the control",
        row.gains.get("rare"), minimum, at_most=False, context=context,
        inconclusive_fails=bench.config.verdicts.inconclusive_fails,
    )  # fmt: skip
    return Bar("rare_gain", (check,))


class ImbalanceStudy(Study[ImbalanceCase, ImbalanceRow]):
    """Class imbalance as a study: a case per model and method; the rare-class gain bar."""

    name = CLASS_IMBALANCE
    table = None
    empty = "no class-imbalance cases: no [studies.class_imbalance] table in the config"

    def cases(self, bench: Bench) -> list[ImbalanceCase]:
        """One case per chosen model and method (:func:`cases`)."""
        return cases(bench)

    def measure(self, bench: Bench, case: ImbalanceCase) -> ImbalanceRow:
        """Train method and control (cached) and score them (:func:`measure_case`)."""
        return measure_case(bench, case)

    def rows(self, bench: Bench, row: ImbalanceRow) -> list[dict[str, object]]:
        """The case's row of ``studies.class_imbalance``."""
        return [row.to_dict()]

    def bars(self, bench: Bench, case: ImbalanceCase, row: ImbalanceRow) -> list[Bar]:
        """rare_gain (see the module docstring)."""
        spec = imbalance_spec(bench) or ImbalanceSpec()
        return [_rare_bar(bench, case, row, spec.min_rare_gain)]

    def summary(self, case: ImbalanceCase, row: ImbalanceRow) -> str:
        """Overall and rare-class gains over the control on one line."""
        parts = []
        for group in ("all", "rare"):
            gain = row.gains.get(group)
            parts.append(f"{group} {'-' if gain is None else gain.describe(4)}")
        return f"harness: class imbalance {case.slug}: gain over control: {'; '.join(parts)}"
