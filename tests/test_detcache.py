"""Val detections in the artifact cache: computed once, read back exactly, keyed by what fixes them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from harness.backends.torch_backend import TorchRunner
from harness.bench import Bench
from harness.cache import ArtifactCache
from harness.datasets.yolo import Sample
from harness.detcache import DetectionsRecipe, artifact_identity, cached_detections, split_stamp
from harness.measure.map import Detections, GroundTruth


def _recipe(artifact: str = "entry:abc", split: str = "s") -> DetectionsRecipe:
    return DetectionsRecipe(artifact, "onnxruntime", "fp32", "cpu", "data-key", split, 64, (("numpy", "2"),))


def _computed() -> tuple[list[Detections], list[GroundTruth]]:
    rng = np.random.default_rng(0)
    dets = [Detections(rng.random((3, 4)) * 50, rng.random(3), np.array([0, 1, 2])), Detections.empty()]
    gts = [GroundTruth(rng.random((2, 4)) * 50, np.array([1, 2])), GroundTruth(np.zeros((0, 4)), np.zeros(0))]
    return dets, gts


def test_computed_once_and_read_back_exactly(tmp_path: Path) -> None:
    cache, calls = ArtifactCache(tmp_path), []

    def compute() -> tuple[list[Detections], list[GroundTruth]]:
        calls.append(1)
        return _computed()

    first = cached_detections(cache, _recipe(), compute)
    again = cached_detections(cache, _recipe(), compute)
    assert len(calls) == 1
    want_dets, want_gts = _computed()
    for got in (first, again):
        dets, gts = got
        for a, b in zip(dets, want_dets, strict=True):
            assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.scores, b.scores)
            assert np.array_equal(a.classes, b.classes)
        for g, w in zip(gts, want_gts, strict=True):
            assert np.array_equal(g.boxes, w.boxes) and np.array_equal(g.classes, w.classes)
    cached_detections(cache, _recipe(split="edited"), compute)  # another key: computed again
    assert len(calls) == 2


def test_artifact_identity_is_the_entry_key_inside_the_cache(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "cache")
    inside = cache.entry_dir("ab" + "0" * 62) / "model.xml"
    inside.parent.mkdir(parents=True)
    inside.write_text("graph")
    outside = tmp_path / "user.pt"
    outside.write_bytes(b"weights")
    assert artifact_identity(cache, inside, "f" * 64) == "entry:ab" + "0" * 62
    assert artifact_identity(cache, outside, "f" * 64) == "sha256:" + "f" * 64


def test_split_stamp_changes_when_a_label_is_edited(tmp_path: Path) -> None:
    image, label = tmp_path / "a.png", tmp_path / "a.txt"
    image.write_bytes(b"png")
    label.write_text("0 0.5 0.5 0.1 0.1\n")
    samples = [Sample(image, label)]
    before = split_stamp(samples)
    label.write_text("1 0.5 0.5 0.1 0.1\n")
    os.utime(label, ns=(1, 1))
    assert split_stamp(samples) != before
    label.unlink()
    assert split_stamp(samples) not in (before, split_stamp([Sample(image, image)]))


def _forbid_inference(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, any val inference through the session fails the test."""

    def no_inference(*_args: object) -> None:
        raise AssertionError("a warm run re-ran inference for accuracy")

    monkeypatch.setattr("harness.bench.detect", no_inference)


@pytest.mark.slow
def test_session_detections_come_from_the_cache(session: Bench, monkeypatch: pytest.MonkeyPatch) -> None:
    variant = session.variants[0]
    dets, _ = session.detections(variant)
    stored = list((session.ctx.cache.root / "artifacts").glob("*/*/detections.npz"))
    assert stored, "no detections entry was written"

    _forbid_inference(monkeypatch)
    fresh = Bench.from_config(session.config)  # a new run on the same cache
    again, _ = fresh.detections(variant)
    assert all(np.array_equal(a.boxes, b.boxes) for a, b in zip(dets, again, strict=True))


@pytest.mark.slow
def test_runner_outside_the_matrix_is_cached_under_its_mode(
    session: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    variant = next(v for v in session.variants if v.backend == "torch" and v.precision == "fp32")
    plain = session.runner(variant)
    assert isinstance(plain, TorchRunner)
    tta = plain.augmented()
    session.detections(variant)
    before = set((session.ctx.cache.root / "artifacts").glob("*/*/detections.npz"))
    result, _ = session.score_runner(tta, variant, mode="tta")
    added = set((session.ctx.cache.root / "artifacts").glob("*/*/detections.npz")) - before
    assert len(added) == 1, "TTA detections must not share the plain runner's entry"

    _forbid_inference(monkeypatch)
    again, _ = Bench.from_config(session.config).score_runner(tta, variant, mode="tta")
    assert again.map50_95 == result.map50_95
