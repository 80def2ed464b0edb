"""Model selection: every model of the run on the same data and recipe, timed side by side.

For each FP32 backend (a case), every model's FP32 reference on that backend is scored (mAP50-95
on the val split, shared with the matrix's accuracy tests), sized (parameters, GFLOPs) and timed
at batch 1 in one round-robin (:func:`harness.measure.latency.round_robin`) twice over: the
network alone, and the network followed by the harness's postprocessing (class-aware NMS for the
YOLOv8 / YOLO11 heads, a score threshold only for YOLO26's end-to-end head, at ``conf``), so that
a head that needs no NMS is credited for it. A model with a one-to-one (NMS-free) head beside its
one-to-many one (YOLO26) runs the one-to-many head with NMS by default in Ultralytics 8.4; on
PyTorch, ONNX Runtime and OpenVINO its one-to-one head (Ultralytics' ``nms=False`` export, or
``end2end = True`` before fusing) is timed too, network alone and with its score threshold, and
scored on the val split. Rows feed the model-size selection and the version comparison tables;
nothing is judged (no bar: the tables are for choosing).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from harness.backends.base import LoadRequest, Runner
from harness.bench import Bench
from harness.builders import build
from harness.config.model_selection import ModelSelectionSpec
from harness.errors import BackendUnavailable
from harness.heads import detect_head
from harness.measure.accuracy import postprocess
from harness.measure.latency import screen_ms
from harness.planning import onnx_recipe
from harness.recipes import Variant
from harness.results import MODEL_SELECTION
from harness.studies.base import Bar, NotMeasurable, Study

__all__ = [
    "E2E_BACKENDS", "ModelSelectionCase", "ModelSelectionStudy", "cases", "end_to_end_runner",
    "has_one_to_one_head", "measure_case", "model_selection_spec",
]  # fmt: skip

E2E_BACKENDS = ("torch", "onnxruntime", "openvino")
"""Backends that time the one-to-one head (the ONNX export runs on ONNX Runtime and OpenVINO)."""


@dataclass(frozen=True)
class ModelSelectionCase:
    """Every model's FP32 reference on one backend."""

    backend: str
    variants: tuple[Variant, ...]

    @property
    def slug(self) -> str:
        """Test id, e.g. ``models-onnxruntime``."""
        return f"models-{self.backend}"


@dataclass
class ModelSelectionRow:
    """Per model: figures, or the reason it could not run on the backend."""

    case: ModelSelectionCase
    rows: list[dict[str, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def model_selection_spec(bench: Bench) -> ModelSelectionSpec | None:
    """The run's ``[studies.model_selection]`` settings, or None when the config has no such table."""
    return bench.config.studies.read(MODEL_SELECTION, ModelSelectionSpec.from_table)


def cases(bench: Bench) -> list[ModelSelectionCase]:
    """One case per FP32 backend when the run has at least two models."""
    spec = model_selection_spec(bench)
    if spec is None or len(bench.models) < 2:
        return []
    matrix = [
        v.backend for v in bench.variants if v.precision == "fp32" and v.prune is None and not v.distill
    ]
    backends = spec.backends or tuple(dict.fromkeys(matrix))
    return [
        ModelSelectionCase(b, tuple(bench.reference(m).unpruned(backend=b) for m in bench.models))
        for b in backends
    ]


def measure_case(bench: Bench, case: ModelSelectionCase) -> ModelSelectionRow:
    """Score, size and time every model on the case's backend (see the module docstring)."""
    spec = model_selection_spec(bench) or ModelSelectionSpec()
    result = ModelSelectionRow(case)
    runners = {}
    for variant in case.variants:
        try:
            runners[variant.model] = bench.runner(variant)
        except BackendUnavailable as exc:
            result.notes.append(f"{variant.model}: {exc}")
    if len(runners) < 2:
        raise NotMeasurable(f"{case.slug}: fewer than two models run here ({'; '.join(result.notes)})")
    x = bench.input_batch(case.variants[0], 1)
    calls: dict[str, Callable[[], object]] = {}
    for model, runner in runners.items():
        calls[model] = partial(runner, x)
        calls[f"{model}+post"] = partial(_with_postprocess, runner, x, spec.conf)
    heads = {v.model: r for v in case.variants if v.model in runners and (r := end_to_end_runner(bench, v))}
    for model, runner in heads.items():
        calls[f"{model}:e2e"] = partial(runner, x)
        calls[f"{model}:e2e+post"] = partial(_with_postprocess, runner, x, spec.conf)
    timed = screen_ms(calls, spec.rounds, bench.config.latency.warmup)
    for variant in case.variants:
        if variant.model in runners:
            row = _row(bench, variant, runners[variant.model](x), timed)
            if variant.model in heads:
                row |= _e2e_fields(bench, variant, heads[variant.model], timed)
            result.rows.append(row)
    return result


def has_one_to_one_head(bench: Bench, variant: Variant) -> bool:
    """Whether the checkpoint carries a one-to-one (NMS-free) head beside the one-to-many one."""
    from harness.builders import materialize
    from harness.builders.weights import load_net

    head = detect_head(load_net(materialize(variant.source, bench.ctx)))
    return getattr(head, "one2one_cv2", None) is not None and getattr(head, "cv2", None) is not None


def end_to_end_runner(bench: Bench, variant: Variant) -> Runner | None:
    """The variant's network with its one-to-one head on PyTorch, ONNX Runtime or OpenVINO (None:
    no such head, or another backend)."""
    if variant.backend not in E2E_BACKENDS or not has_one_to_one_head(bench, variant):
        return None
    request = LoadRequest(variant, 1, bench.ctx)
    if variant.backend == "torch":
        from harness.backends.torch_backend import TorchBackend
        from harness.builders import materialize

        return TorchBackend().open(materialize(variant.source, bench.ctx), "", request, prepare=_one_to_one)
    export = onnx_recipe(variant, 1)
    artifact = build(dataclasses.replace(export, end2end=True), bench.ctx)
    return bench.runner_at(variant, artifact.path, artifact.sha256)


def _one_to_one(net: Any) -> None:
    """Select the one-to-one head: fusing then drops the one-to-many branch."""
    net.end2end = True


def _e2e_fields(bench: Bench, variant: Variant, runner: Runner, timed: dict[str, float]) -> dict[str, object]:
    alone, both = timed[f"{variant.model}:e2e"], timed[f"{variant.model}:e2e+post"]
    result, _ = bench.score_runner(runner, variant, mode="end2end")
    return {"e2e_latency_median_ms": alone, "e2e_latency_with_post_ms": both, "e2e_map50_95": result.map50_95}


def _with_postprocess(runner: Callable[[np.ndarray], np.ndarray], x: np.ndarray, conf: float) -> object:
    return postprocess(runner(x), conf=conf)


def _row(bench: Bench, variant: Variant, raw: np.ndarray, timed: dict[str, float]) -> dict[str, object]:
    """One model's figures; ``timed``: the screen's medians in ms."""
    size = bench.network_size(variant)
    alone, both = timed[variant.model], timed[f"{variant.model}+post"]
    return {
        "case": f"models-{variant.backend}", "backend": variant.backend, "model": variant.model,
        "params": size.get("params"), "gflops": size.get("gflops"),
        "map50_95": bench.accuracy(variant).map50_95, "end2end": np.asarray(raw).shape[-1] == 6,
        "latency_median_ms": alone, "latency_with_post_ms": both, "postprocess_ms": both - alone,
    }  # fmt: skip


class ModelSelectionStudy(Study[ModelSelectionCase, ModelSelectionRow]):
    """Every model side by side per backend: the size-selection and version tables' rows."""

    name = MODEL_SELECTION
    empty = "needs [studies.model_selection] and at least two models in the matrix"

    def cases(self, bench: Bench) -> list[ModelSelectionCase]:
        """One case per FP32 backend (:func:`cases`)."""
        return cases(bench)

    def measure(self, bench: Bench, case: ModelSelectionCase) -> ModelSelectionRow:
        """Score, size and time every model (:func:`measure_case`)."""
        return measure_case(bench, case)

    def rows(self, bench: Bench, row: ModelSelectionRow) -> list[dict[str, object]]:
        """One row per model that runs on the backend."""
        return row.rows

    def bars(self, bench: Bench, case: ModelSelectionCase, row: ModelSelectionRow) -> list[Bar]:
        """None judged: the tables are for choosing a model (the bar is recorded as skipped)."""
        return [Bar.skipped("recorded", f"{case.slug}: {len(row.rows)} models measured; tables only, no bar")]

    def summary(self, case: ModelSelectionCase, row: ModelSelectionRow) -> str:
        """Each model's latency with postprocessing on one line."""
        parts = ", ".join(f"{r['model']} {r['latency_with_post_ms']:.2f} ms" for r in row.rows)
        return f"harness: model selection on {case.backend}: {parts} (network + postprocessing, batch 1)"
