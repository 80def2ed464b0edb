"""The QAT study: quantization-aware training against the best post-training INT8, per backend.

For one model on one QDQ backend (``[studies.qat]``, :mod:`harness.config.qat`), four variants of
the same unpruned checkpoint, measured on the run's val split and machine:

- **FP32**: the model on the backend;
- **PTQ INT8**: the matrix's best (highest mAP50-95) post-training INT8 of the model there;
- **QAT INT8**: the checkpoint fine-tuned ``epochs`` epochs with fake quantization
  (:mod:`harness.builders.qat`), exported to a QDQ ONNX graph that the backend runs as it is;
- **control**: the same checkpoint fine-tuned the same epochs, seed and arguments in FP32.

mAP50-95 drops against FP32 carry intervals: PTQ over val images (paired bootstrap), QAT and the
control over training seeds and val images (:mod:`harness.replicates`). Latency of each is timed
interleaved against FP32 in this run, and QAT interleaved against PTQ: a QAT graph slower than
the PTQ graph of the same backend is flagged (Q/DQ placement can leave convolutions in float).
The bar: QAT's drop is at most ``1 - recover`` of PTQ's loss, unless PTQ lost nothing the val
split resolves (its drop interval reaches zero), which is then the reason the bar is skipped.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import partial

from harness.backends.base import Runner
from harness.bench import Bench
from harness.builders import build
from harness.builders.qat import QAT_QUANT, missing_modelopt, qat_recipe, qdq_ops
from harness.checks import check_interval_bound
from harness.config.qat import QatSpec
from harness.config.trainargs import with_overrides
from harness.errors import BackendUnavailable, ConfigError
from harness.matrix import finetune_recipe
from harness.measure.latency import interleave
from harness.measure.mapboot import MatchTable, paired_map_drop
from harness.measure.seeds import replicate_difference, seed_count, span_fields
from harness.measure.size import file_bytes
from harness.measure.stats import Interval
from harness.planning import onnx_recipe
from harness.recipes import TrainRecipe, Variant, base_source, source_data
from harness.replicates import replicate
from harness.results import QAT
from harness.studies.base import Bar, NotMeasurable, Study

__all__ = ["QatCase", "QatRow", "QatStudy", "cases", "measure_case", "qat_spec"]

ROLES = ("fp32", "ptq", "qat", "control")
_MIB = 1024 * 1024
Figure = float | None


@dataclass(frozen=True)
class QatCase:
    """One model on one QDQ backend."""

    model: str
    backend: str
    epochs: int
    fp32: Variant
    ptq: tuple[Variant, ...]  # the matrix's unpruned INT8 variants of the model on the backend
    qat: Variant  # precision int8, source: the QAT fine-tune (run from its exported QDQ graph)
    control: Variant  # FP32 fine-tune, same epochs

    @property
    def slug(self) -> str:
        """Test id, e.g. ``yolo11n-qat2-onnxruntime``."""
        return f"{self.model}-qat{self.epochs}-{self.backend}"


@dataclass
class QatRow:
    """Everything measured for one case (None: not measured)."""

    case: QatCase
    maps: dict[str, Figure] = field(default_factory=dict)  # role -> mAP50-95 (run seed)
    drops: dict[str, Interval | None] = field(default_factory=dict)  # role -> drop below FP32
    latency_ms: dict[str, Figure] = field(default_factory=dict)
    speedups: dict[str, Interval | None] = field(default_factory=dict)  # role -> vs FP32, interleaved
    size_mb: dict[str, Figure] = field(default_factory=dict)
    ptq: str | None = None  # slug of the best PTQ variant
    qat_vs_ptq: Interval | None = None  # speedup of QAT over PTQ, interleaved
    qat_vs_control: Interval | None = None  # mAP50-95 QAT - control, over training seeds
    qdq_nodes: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ptq_loss(self) -> Figure:
        """FP32 - best PTQ mAP50-95."""
        drop = self.drops.get("ptq")
        return drop.estimate if drop is not None else None

    @property
    def recovered(self) -> Figure:
        """Share of PTQ's loss that QAT takes back (None when PTQ lost nothing measurable: its drop
        interval reaches zero, and a share of a loss indistinguishable from zero means nothing)."""
        ptq, qat = self.drops.get("ptq"), self.drops.get("qat")
        if ptq is None or qat is None or ptq.low <= 0:
            return None
        return (ptq.estimate - qat.estimate) / ptq.estimate

    @property
    def slower_than_ptq(self) -> bool:
        """Whether QAT's graph is slower than PTQ's on the same backend (whole interval below 1)."""
        return self.qat_vs_ptq is not None and self.qat_vs_ptq.high < 1.0

    def to_dicts(self) -> list[dict[str, object]]:
        """One JSON row per role: the ``qat`` table's rows."""
        return [self._role_row(role) for role in ROLES]

    def _role_row(self, role: str) -> dict[str, object]:
        drop, speed = self.drops.get(role), self.speedups.get(role)
        flag = "QAT slower than PTQ" if role == "qat" and self.slower_than_ptq else ""
        return {
            "case": self.case.slug, "model": self.case.model, "backend": self.case.backend,
            "role": role, "variant": _label(self, role), "epochs": self.case.epochs,
            "map50_95": self.maps.get(role),
            **span_fields("drop", "drop", drop), "drop_seeds": seed_count(drop) if drop else None,
            "latency_median_ms": self.latency_ms.get(role),
            **span_fields("speedup_vs_fp32", "speedup", speed),
            "size_mb": self.size_mb.get(role),
            "recovered": self.recovered if role == "qat" else None,
            "qat_vs_ptq": self.qat_vs_ptq.estimate if role == "qat" and self.qat_vs_ptq else None,
            **span_fields("qat_minus_control", "qat_minus_control", self.qat_vs_control if role == "qat" else None),
            "qdq_nodes": self.qdq_nodes if role == "qat" else None,
            "flag": flag, "notes": "; ".join(self.notes) if role == "qat" else "",
        }  # fmt: skip


def _label(row: QatRow, role: str) -> str:
    epochs = row.case.epochs
    return {
        "fp32": "FP32",
        "ptq": f"PTQ INT8 ({row.ptq})" if row.ptq else "PTQ INT8 (none in the matrix)",
        "qat": f"QAT INT8, {epochs} epochs",
        "control": f"FP32 fine-tuned {epochs} epochs",
    }[role]


def qat_spec(bench: Bench) -> QatSpec | None:
    """The run's ``[studies.qat]`` settings, or None when the config has no such table."""
    return bench.config.studies.read(QAT, QatSpec.from_table)


def cases(bench: Bench) -> list[QatCase]:
    """One case per chosen model and per chosen backend in the matrix."""
    spec = qat_spec(bench)
    if spec is None:
        return []
    models = bench.models
    for name in spec.models or ():
        if name not in models:
            where = bench.config.studies.where(QAT)
            raise ConfigError(f"{where.key('models')} in {where.source}: no model {name!r} in the matrix "
                              f"(models: {', '.join(models)})")  # fmt: skip
    chosen = [m for m in models if spec.models is None or m in spec.models]
    backends = [b for b in spec.backends if b in bench.config.matrix.backend]
    return [_case(bench, spec, model, backend) for model in chosen for backend in backends]


def _case(bench: Bench, spec: QatSpec, model: str, backend: str) -> QatCase:
    fp32 = bench.reference(model).unpruned(backend=backend)
    start = base_source(fp32.source)
    data = source_data(start)
    if data is None:
        control_source: TrainRecipe | None = None
    else:
        trained = finetune_recipe(start, spec.epochs, data, bench.config.model(model), bench.config)
        control_source = dataclasses.replace(trained, hyp=with_overrides(trained.hyp, {"lr0": spec.lr0}))
    ptq = tuple(
        v for v in bench.variants
        if v.model == model and v.backend == backend and v.quant is not None and v.prune is None and not v.distill
    )  # fmt: skip
    control = dataclasses.replace(fp32, source=control_source) if control_source else fp32
    qat_source = qat_recipe(control_source) if control_source else start
    qat = dataclasses.replace(fp32, source=qat_source, precision="int8", quant=QAT_QUANT)
    return QatCase(model, backend, spec.epochs, fp32, ptq, qat, control)


def measure_case(bench: Bench, case: QatCase) -> QatRow:
    """Train (cached), export and measure the case (see the module docstring)."""
    reason = missing_modelopt()
    if reason is not None:
        raise NotMeasurable(reason)
    if source_data(case.fp32.source) is None:  # no control or QAT recipe was planned
        raise NotMeasurable(f"{case.slug}: QAT fine-tunes on the model's dataset, and the config names none")
    row = QatRow(case)
    try:
        fp32 = bench.matches(case.fp32)
    except BackendUnavailable as exc:
        raise NotMeasurable(f"{case.slug}: {exc}") from exc
    row.maps["fp32"] = bench.accuracy(case.fp32).map50_95
    _ptq(bench, case, row, fp32)
    qat_runners = _qat(bench, case, row, fp32)
    _speed(bench, case, row, qat_runners[0])
    return row


def _ptq(bench: Bench, case: QatCase, row: QatRow, fp32: MatchTable) -> None:
    """The best PTQ INT8 of the matrix on the backend, and its drop over val images."""
    scored = []
    for variant in case.ptq:
        try:
            scored.append((bench.accuracy(variant).map50_95, variant))
        except BackendUnavailable as exc:
            row.notes.append(f"{variant.slug}: {exc}")
    if not scored:
        row.notes.append(f"no PTQ INT8 of {case.model} on {case.backend} in this run")
        return
    best_map, best = max(scored, key=lambda item: item[0])
    row.ptq, row.maps["ptq"] = best.slug, best_map
    verdicts = bench.config.verdicts
    row.drops["ptq"] = paired_map_drop(
        bench.matches(best), fp32, verdicts.accuracy_confidence, verdicts.accuracy_resamples
    )


def _qat(bench: Bench, case: QatCase, row: QatRow, fp32: MatchTable) -> list[Runner]:
    """QAT and control at every training seed: their drops below FP32 and QAT - control."""
    verdicts = bench.config.verdicts
    qat_tables: list[MatchTable] = []
    control_tables: list[MatchTable] = []
    runners: list[Runner] = []
    for offset in range(verdicts.training_seeds):
        qat = replicate(case.qat, offset)
        graph = build(onnx_recipe(qat, 1), bench.ctx)
        ops = qdq_ops(graph.path)
        runner = bench.runner_at(qat, graph.path, graph.sha256)
        result, table = bench.score_runner(runner, qat)
        control = replicate(case.control, offset)
        qat_tables.append(table)
        control_tables.append(bench.matches(control))
        runners.append(runner)
        if offset == 0:
            row.maps["qat"], row.maps["control"] = result.map50_95, bench.accuracy(control).map50_95
            row.qdq_nodes = ops["QuantizeLinear"]
    confidence, resamples = verdicts.accuracy_confidence, verdicts.accuracy_resamples
    row.drops["qat"] = replicate_difference([(fp32, t) for t in qat_tables], confidence, resamples)
    row.drops["control"] = replicate_difference([(fp32, t) for t in control_tables], confidence, resamples)
    pairs = list(zip(qat_tables, control_tables, strict=True))
    row.qat_vs_control = replicate_difference(pairs, confidence, resamples)
    return runners


def _speed(bench: Bench, case: QatCase, row: QatRow, qat_runner: Runner) -> None:
    """Each variant interleaved against FP32, and QAT against PTQ; sizes on disk."""
    lat = bench.config.latency
    confidence = bench.config.verdicts.latency_confidence
    fp32 = bench.runner(case.fp32)
    x = bench.input_batch(case.fp32, 1)
    found: dict[str, Runner] = {"fp32": fp32, "qat": qat_runner, "control": bench.runner(case.control)}
    if row.ptq is not None:
        found["ptq"] = bench.runner(next(v for v in case.ptq if v.slug == row.ptq))
    for role, runner in found.items():
        row.size_mb[role] = file_bytes(runner.artifact) / _MIB
        if role == "fp32":
            continue
        timed = interleave(partial(runner, x), partial(fp32, x), lat.interleaved_rounds, lat.warmup)
        row.latency_ms[role] = timed.candidate_median_s * 1e3
        row.latency_ms["fp32"] = timed.reference_median_s * 1e3
        row.speedups[role] = timed.interval(confidence)
    if "ptq" in found:
        timed = interleave(
            partial(qat_runner, x), partial(found["ptq"], x), lat.interleaved_rounds, lat.warmup
        )
        row.qat_vs_ptq = versus = timed.interval(confidence)
        if versus is not None and row.slower_than_ptq:
            row.notes.append(f"QAT graph slower than PTQ on {case.backend}: {versus.describe(2, 'x')}")


def _recovery_bar(bench: Bench, case: QatCase, row: QatRow, recover: float) -> Bar:
    """QAT's drop below FP32 at most (1 - recover) x PTQ's loss, judged over training seeds."""
    ptq = row.drops.get("ptq")
    if ptq is None:
        return Bar.skipped(
            "recovery", f"{case.slug}: no PTQ INT8 measured to compare with ({'; '.join(row.notes)})"
        )
    if ptq.low <= 0:
        return Bar.skipped(
            "recovery",
            f"{case.slug}: the best PTQ INT8 ({row.ptq}) lost {ptq.describe(4)} mAP50-95 against FP32 "
            f"over {ptq.n} val images: not distinguishable from zero; no measured loss for QAT to recover",
        )
    limit = (1.0 - recover) * ptq.estimate
    qat = row.maps.get("qat")
    context = (
        f"recover {recover:.0%} of PTQ's loss {ptq.estimate:.4f} ({row.ptq}); run seed: QAT "
        f"{'-' if qat is None else format(qat, '.4f')}, FP32 {row.maps['fp32']:.4f}"
    )
    check = check_interval_bound(
        "qat_drop", case.slug, "QAT INT8 mAP50-95 drop below FP32", row.drops.get("qat"), limit,
        at_most=True, context=context, inconclusive_fails=bench.config.verdicts.inconclusive_fails,
    )  # fmt: skip
    return Bar("recovery", (check,))


class QatStudy(Study[QatCase, QatRow]):
    """QAT as a study: a case per model x QDQ backend; the recovery bar."""

    name = QAT
    table = None
    empty = "no QAT cases: no [studies.qat] table, or none of its backends in the matrix"

    def cases(self, bench: Bench) -> list[QatCase]:
        """One case per chosen model and backend (:func:`cases`)."""
        return cases(bench)

    def measure(self, bench: Bench, case: QatCase) -> QatRow:
        """Train QAT and control (cached), export, evaluate and time (:func:`measure_case`)."""
        return measure_case(bench, case)

    def rows(self, bench: Bench, row: QatRow) -> list[dict[str, object]]:
        """Four rows per case: FP32, PTQ, QAT, control."""
        return row.to_dicts()

    def bars(self, bench: Bench, case: QatCase, row: QatRow) -> list[Bar]:
        """recovery (see the module docstring)."""
        spec = qat_spec(bench)
        return [_recovery_bar(bench, case, row, spec.recover if spec else QatSpec().recover)]

    def summary(self, case: QatCase, row: QatRow) -> str:
        """mAP50-95 of the four variants, and the QAT-vs-PTQ speed flag."""
        maps = " / ".join(
            f"{role} {'-' if row.maps.get(role) is None else format(row.maps[role], '.4f')}" for role in ROLES
        )
        flag = "; QAT slower than PTQ" if row.slower_than_ptq else ""
        return f"harness: qat {case.slug}: mAP50-95 {maps}{flag}"
