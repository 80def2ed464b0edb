"""Per-run state and measurements, callable without pytest (the plugin is a thin layer on top)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.backends.base import LoadRequest, Runner
from harness.backends.registry import get_backend
from harness.baselines import Baseline, BaselineStore
from harness.builders import BuildContext, materialize
from harness.cache import ArtifactCache
from harness.config import HarnessConfig
from harness.confirm import CONFIRM_ROUNDS
from harness.datasets.yolo import DataSpec, Sample, list_split, load_data_yaml
from harness.detcache import (
    DetectionsRecipe,
    artifact_identity,
    cached_detections,
    runtime_versions,
    split_stamp,
)
from harness.environment import Fingerprint, current
from harness.errors import BackendUnavailable, ConfigError
from harness.imaging import letterbox, read_image
from harness.matrix import build_variants, data_recipe
from harness.measure.accuracy import detect, score
from harness.measure.latency import interleave_both_orders
from harness.measure.map import Detections, GroundTruth, MapResult
from harness.measure.mapboot import MatchTable
from harness.measure.speed import Metrics, interleaved_metrics, speedup_metrics
from harness.measure.stats import Interval
from harness.probes import network_size
from harness.recipes import Variant


@dataclass
class Bench:
    """Everything one run shares: config, cache, loaded runners, measured accuracy, baselines."""

    config: HarnessConfig
    fingerprint: Fingerprint
    ctx: BuildContext
    variants: list[Variant]
    baselines: BaselineStore
    _runners: dict[tuple[str, str, int], Runner | BackendUnavailable] = field(default_factory=dict)
    _accuracy: dict[tuple[str, str], MapResult] = field(default_factory=dict)
    _detections: dict[tuple[str, str], tuple[list[Detections], list[GroundTruth]]] = field(
        default_factory=dict
    )
    _matches: dict[tuple[str, str], MatchTable] = field(default_factory=dict)
    _sizes: dict[tuple[str, int], dict[str, float | None]] = field(default_factory=dict)
    _data: DataSpec | None = None

    @classmethod
    def from_config(cls, config: HarnessConfig, log: Callable[[str], None] | None = None) -> Bench:
        """Expand the matrix (cheap: nothing is built until a test asks for it)."""
        ctx = BuildContext(ArtifactCache(config.cache_dir), config.device, config.threads)
        if log is not None:
            ctx = dataclasses.replace(ctx, log=log)
        source = config.shown_source
        try:
            variants = build_variants(config)
        except ConfigError as err:
            raise ConfigError(f"{err} (in {source})") from None
        config.budgets.check_variants([v.slug for v in variants], source)
        return cls(
            config=config,
            fingerprint=current(config.threads),
            ctx=ctx,
            variants=variants,
            baselines=BaselineStore(config.baselines_dir),
        )

    @property
    def data(self) -> DataSpec:
        """The dataset, generated (synthetic) or validated (user's) on first use."""
        if self._data is None:
            self._data = load_data_yaml(materialize(data_recipe(self.config), self.ctx))
        return self._data

    def val_samples(self) -> list[Sample]:
        """Validation images (an empty split is a DatasetError naming the folder)."""
        return list_split(self.data, "val")

    def runner(self, variant: Variant, batch: int = 1) -> Runner:
        """The loaded runner for ``variant`` at ``batch`` (built and loaded once per run)."""
        key = (variant.slug, variant.source.key(), batch)  # one slug may name two sources (a KD control)
        if key not in self._runners:
            try:
                backend = get_backend(variant.backend)
                self._runners[key] = backend.load(LoadRequest(variant, batch, self.ctx))
            except BackendUnavailable as exc:
                self._runners[key] = exc
        found = self._runners[key]
        if isinstance(found, BackendUnavailable):
            raise found
        return found

    def runner_at(self, variant: Variant, path: Path, sha256: str) -> Runner:
        """A runner on an existing artifact (a baseline's), run as ``variant``'s backend and
        precision would run it; opened once per run."""
        key = (f"artifact:{sha256}:{path}", variant.backend, 1)
        if key not in self._runners:
            self._runners[key] = get_backend(variant.backend).open(
                path, sha256, LoadRequest(variant, 1, self.ctx)
            )
        found = self._runners[key]
        assert not isinstance(found, BackendUnavailable)
        return found

    def fresh_runner(self, variant: Variant, artifact: tuple[Path, str] | None = None) -> Runner:
        """A batch-1 runner loaded anew, not the run's cached one (:mod:`harness.confirm`): of
        ``variant``, or of the built ``artifact`` (path, sha256) run as ``variant`` would be."""
        backend, request = get_backend(variant.backend), LoadRequest(variant, 1, self.ctx)
        return backend.load(request) if artifact is None else backend.open(*artifact, request)

    def speedup(
        self, candidate: Runner, reference: Runner, x: np.ndarray, rounds_factor: int = 1
    ) -> tuple[Metrics, Interval | None]:
        """``candidate``'s interleaved speedup over ``reference`` on ``x`` with the config's rounds
        (times ``rounds_factor``), warm-up and latency confidence (:func:`speedup_metrics`)."""
        lat = self.config.latency
        rounds = rounds_factor * lat.interleaved_rounds
        return speedup_metrics(
            candidate, reference, x, rounds, lat.warmup, self.config.verdicts.latency_confidence
        )

    def fresh_speedup(
        self,
        variant: Variant,
        against: Variant,
        x: np.ndarray,
        rounds_factor: int = 1,
        artifact: tuple[Path, str] | None = None,
    ) -> tuple[Metrics, Interval | None]:
        """The second measurement of a FAIL (:mod:`harness.confirm`): ``variant``'s speedup over
        ``against`` (run on the built ``artifact`` when given), timed with
        :data:`~harness.confirm.CONFIRM_ROUNDS` x ``rounds_factor`` x the rounds on two fresh pairs
        loaded in opposite orders (:func:`~harness.measure.latency.interleave_both_orders`)."""
        lat = self.config.latency
        result = interleave_both_orders(
            lambda: functools.partial(self.fresh_runner(variant), x),
            lambda: functools.partial(self.fresh_runner(against, artifact), x),
            CONFIRM_ROUNDS * rounds_factor * lat.interleaved_rounds,
            lat.warmup,
        )
        return interleaved_metrics(result, self.config.verdicts.latency_confidence)

    def runner_or_note(self, variant: Variant, notes: list[str]) -> Runner | None:
        """The variant's batch-1 runner, or None with a note in ``notes`` when its backend cannot
        run here (a study records what it could not measure instead of failing)."""
        try:
            return self.runner(variant)
        except BackendUnavailable as exc:
            notes.append(f"{variant.slug}: {exc}")
            return None

    def detections(self, variant: Variant) -> tuple[list[Detections], list[GroundTruth]]:
        """Per-image detections of ``variant`` on the val split and the ground truth, once per run."""
        key = (variant.slug, variant.source.key())
        if key not in self._detections:
            self._detections[key] = self.runner_detections(self.runner(variant), variant)
        return self._detections[key]

    def runner_detections(
        self, runner: Runner, variant: Variant, mode: str = ""
    ) -> tuple[list[Detections], list[GroundTruth]]:
        """Val detections of ``runner``, which runs its artifact as ``variant``'s backend, precision
        and imgsz (``mode`` names anything else that changes its output, e.g. ``"tta"``), and the
        ground truth: from the detections cache (:mod:`harness.detcache`) when stored."""
        samples = self.val_samples()
        recipe = DetectionsRecipe(
            artifact_identity(self.ctx.cache, runner.artifact, runner.artifact_sha256),
            variant.backend, variant.precision, self.ctx.device,
            data_recipe(self.config).key(), split_stamp(samples), variant.imgsz, runtime_versions(), mode,
        )  # fmt: skip
        compute = lambda: detect(runner, samples, self.data.names, variant.imgsz)
        return cached_detections(self.ctx.cache, recipe, compute)

    def accuracy(self, variant: Variant) -> MapResult:
        """mAP of ``variant`` on the val split through the shared pre/post-processing path."""
        key = (variant.slug, variant.source.key())
        if key not in self._accuracy:
            self._accuracy[key] = score(*self.detections(variant), "the val split")
        return self._accuracy[key]

    def matches(self, variant: Variant) -> MatchTable:
        """The variant's val detections matched per image, for paired bootstrap intervals."""
        key = (variant.slug, variant.source.key())
        if key not in self._matches:
            self._matches[key] = MatchTable.build(*self.detections(variant))
        return self._matches[key]

    def score_runner(self, runner: Runner, variant: Variant, mode: str = "") -> tuple[MapResult, MatchTable]:
        """mAP and per-image matches of a runner outside the matrix (a TTA model, a mixed-precision
        step) on the val split, through the same path as :meth:`accuracy`, with its detections
        cached like the matrix's (see :meth:`runner_detections`)."""
        dets, gts = self.runner_detections(runner, variant, mode)
        return score(dets, gts, "the val split"), MatchTable.build(dets, gts)

    def network_size(self, variant: Variant) -> dict[str, float | None]:
        """params and GFLOPs of the variant's network, computed once per checkpoint and imgsz."""
        key = (variant.source.key(), variant.imgsz)
        if key not in self._sizes:
            self._sizes[key] = network_size(variant.source, variant.imgsz, self.ctx)
        return self._sizes[key]

    def input_batch(self, variant: Variant, batch: int) -> np.ndarray:
        """A real, preprocessed batch of val images for timing."""
        samples = self.val_samples()
        images = [read_image(samples[i % len(samples)].image) for i in range(batch)]
        return np.stack([letterbox(img, variant.imgsz)[0] for img in images])

    @property
    def models(self) -> list[str]:
        """The matrix's model names, in matrix order."""
        return list(dict.fromkeys(v.model for v in self.variants))

    def reference(self, model: str) -> Variant:
        """The FP32 PyTorch reference of ``model`` (StopIteration for a model not in the matrix)."""
        return next(v for v in self.variants if v.model == model).reference()

    def baseline(self, model: str) -> tuple[Baseline | None, bool]:
        """The stored baseline for ``model`` and whether its fingerprint is this machine's."""
        found = self.baselines.load_any(model, prefer=self.fingerprint.id)
        if found is None:
            return None, False
        return found
