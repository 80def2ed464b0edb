"""Baseline store: explicit updates only, atomic merge, fingerprint preference, corrupt files."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from harness.baselines import SCHEMA_VERSION, BaselineStore, Change, format_changes
from harness.environment import Fingerprint
from harness.errors import BaselineError

FP = Fingerprint("AMD EPYC 9B14", 2, 2, None, "3.11.7", "2.5.0", "8.4.0", "1.20.0", "2.1.0")
OTHER = replace(FP, cpu="Intel Xeon", threads=4)
V = "yolo11n-p00-fp32-torch"


def _store(tmp_path: Path) -> BaselineStore:
    return BaselineStore(tmp_path / "baselines")


def _write_doc(store: BaselineStore, fid: str, model: str, doc: object) -> Path:
    path = store.root / fid / f"{model}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def _doc(**changes: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "schema_version": SCHEMA_VERSION, "fingerprint": FP.to_dict(), "model": "yolo11n",
        "updated": "2025-01-01T00:00:00+00:00", "variants": {V: {"map50_95": 0.5}},
    }  # fmt: skip
    doc.update(changes)
    return doc


def test_missing_baseline_is_none(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert store.load(FP.id, "yolo11n") is None
    assert store.load_any("yolo11n", prefer=FP.id) is None


def test_update_creates_file_and_reports_changes(tmp_path: Path) -> None:
    store = _store(tmp_path)
    changes = store.update(FP, "yolo11n", {V: {"map50_95": 0.51, "latency_median_ms": 11.5}})
    assert changes == [Change(V, "latency_median_ms", None, 11.5), Change(V, "map50_95", None, 0.51)]
    path = store.path(FP.id, "yolo11n")
    doc = json.loads(path.read_text())
    assert doc["schema_version"] == 1 and doc["model"] == "yolo11n"
    assert doc["fingerprint"] == FP.to_dict()
    assert doc["variants"] == {V: {"latency_median_ms": 11.5, "map50_95": 0.51}}
    baseline = store.load(FP.id, "yolo11n")
    assert baseline is not None and baseline.fingerprint == FP and baseline.path == path
    assert baseline.metric(V, "map50_95") == 0.51
    assert baseline.metric("other", "map50_95") is None


def test_update_merges_and_never_erases_with_none(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.update(FP, "yolo11n", {V: {"map50_95": 0.51, "latency_median_ms": 11.5}, "keep": {"map50": 0.9}})
    changes = store.update(FP, "yolo11n", {V: {"map50_95": 0.52, "latency_median_ms": None}})
    assert changes == [Change(V, "map50_95", 0.51, 0.52)]
    baseline = store.load(FP.id, "yolo11n")
    assert baseline is not None
    assert baseline.variants == {V: {"map50_95": 0.52, "latency_median_ms": 11.5}, "keep": {"map50": 0.9}}


def test_update_without_changes_does_not_rewrite(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.update(FP, "yolo11n", {V: {"map50_95": 0.51}})
    path = store.path(FP.id, "yolo11n")
    before = path.read_text()
    os.utime(path, (0, 0))
    assert store.update(FP, "yolo11n", {V: {"map50_95": 0.51}}) == []
    assert path.read_text() == before and path.stat().st_mtime == 0


def test_loading_never_writes(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.load(FP.id, "yolo11n")
    store.load_any("yolo11n", prefer=FP.id)
    assert not store.root.exists()


def test_load_any_prefers_same_fingerprint(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _write_doc(store, OTHER.id, "yolo11n", _doc(fingerprint=OTHER.to_dict(), updated="2030-01-01T00:00:00"))
    store.update(FP, "yolo11n", {V: {"map50_95": 0.51}})
    found = store.load_any("yolo11n", prefer=FP.id)
    assert found is not None
    baseline, same = found
    assert same is True and baseline.fingerprint_id == FP.id


def test_load_any_falls_back_to_most_recent_other_fingerprint(tmp_path: Path) -> None:
    store = _store(tmp_path)
    old = replace(OTHER, threads=8)
    _write_doc(store, old.id, "yolo11n", _doc(fingerprint=old.to_dict(), updated="2024-01-01T00:00:00+00:00"))
    _write_doc(store, OTHER.id, "yolo11n", _doc(fingerprint=OTHER.to_dict(), updated="2025-06-01T00:00:00"))
    _write_doc(store, FP.id, "yolov8n", _doc(model="yolov8n"))
    found = store.load_any("yolo11n", prefer=FP.id)
    assert found is not None
    baseline, same = found
    assert same is False
    assert baseline.fingerprint_id == OTHER.id and baseline.fingerprint == OTHER


@pytest.mark.parametrize(
    "doc, message",
    [
        ("{not json", "cannot read baseline"),
        ("[]", "expected a JSON object"),
        (_doc(schema_version=2), "schema_version 2"),
        ({k: v for k, v in _doc().items() if k != "model"}, "'model'"),
        (_doc(variants=[]), "'variants' an object"),
        (_doc(variants={V: {"map50_95": "high"}}), "not a number"),
        (_doc(variants={V: 3}), "expected an object of metrics"),
        (_doc(updated="yesterday"), "Invalid isoformat"),
        (_doc(fingerprint={"cpu": 1}), "fingerprint field"),
    ],
)
def test_corrupt_files_raise_naming_the_file(tmp_path: Path, doc: object, message: str) -> None:
    store = _store(tmp_path)
    path = _write_doc(store, FP.id, "yolo11n", doc)
    with pytest.raises(BaselineError, match=message) as info:
        store.load(FP.id, "yolo11n")
    assert str(path) in str(info.value)


def test_corrupt_other_fingerprint_is_reported_not_skipped(tmp_path: Path) -> None:
    store = _store(tmp_path)
    path = _write_doc(store, OTHER.id, "yolo11n", "{")
    with pytest.raises(BaselineError, match=str(path)):
        store.load_any("yolo11n", prefer=FP.id)


def test_update_refuses_to_overwrite_a_corrupt_file(tmp_path: Path) -> None:
    store = _store(tmp_path)
    path = _write_doc(store, FP.id, "yolo11n", "{garbage")
    with pytest.raises(BaselineError):
        store.update(FP, "yolo11n", {V: {"map50_95": 0.5}})
    assert path.read_text() == "{garbage"


def test_update_rejects_non_finite_values_and_writes_nothing(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.raises(BaselineError, match="finite"):
        store.update(FP, "yolo11n", {V: {"map50_95": float("nan")}})
    assert not store.path(FP.id, "yolo11n").exists()


@pytest.mark.parametrize("model", ["../evil", "a/b", ".hidden", ""])
def test_unsafe_names_are_refused(tmp_path: Path, model: str) -> None:
    with pytest.raises(BaselineError, match="cannot be used as a baseline file name"):
        _store(tmp_path).path(FP.id, model)


def test_format_changes() -> None:
    text = format_changes([Change(V, "map50_95", 0.51, 0.52), Change(V, "params", None, 2.6e6)])
    assert text.splitlines() == [
        f"{V} map50_95: 0.51 -> 0.52 (+0.01)",
        f"{V} params: - -> 2.6e+06",
    ]
    assert format_changes([]) == "baselines unchanged"


# --- the artifact each baseline was measured on -------------------------------------------


def test_artifacts_are_stored_with_their_cache_key_and_found_again(tmp_path: Path) -> None:
    from harness.baselines import artifact_ref
    from harness.cache import file_sha256

    cache = tmp_path / "cache"
    key = "ab" + "0" * 62
    model = cache / "artifacts" / "ab" / key / "model.onnx"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"graph")
    ref = artifact_ref(model, file_sha256(model), cache)
    assert (ref.cache_key, ref.file) == (key, f"artifacts/ab/{key}/model.onnx")
    store = _store(tmp_path)
    assert store.update(FP, "yolo11n", {V: {"map50_95": 0.5}}, {V: ref}) != []
    loaded = store.load(FP.id, "yolo11n")
    assert loaded is not None and loaded.artifact(V) == ref and loaded.artifact("other") is None
    assert ref.locate(cache) == model  # the cache restored elsewhere: same relative file, same bytes
    assert ref.locate(tmp_path / "empty-cache") is None
    model.write_bytes(b"another graph")
    assert ref.locate(cache) is None  # a file that changed is not the baseline's


def test_a_users_own_file_is_stored_absolute_without_a_key(tmp_path: Path) -> None:
    from harness.baselines import artifact_ref

    weights = tmp_path / "best.pt"
    weights.write_bytes(b"w")
    ref = artifact_ref(weights, "s" * 64, tmp_path / "cache")
    assert ref.cache_key is None and ref.file == str(weights)


def test_a_new_artifact_alone_rewrites_the_file(tmp_path: Path) -> None:
    from harness.baselines import ArtifactRef

    store = _store(tmp_path)
    store.update(FP, "yolo11n", {V: {"map50_95": 0.5}}, {V: ArtifactRef("k", "a/b", "1" * 64)})
    assert store.update(FP, "yolo11n", {V: {"map50_95": 0.5}}, {V: ArtifactRef("k2", "a/c", "2" * 64)}) == []
    loaded = store.load(FP.id, "yolo11n")
    assert loaded is not None and loaded.artifact(V) == ArtifactRef("k2", "a/c", "2" * 64)


def test_an_older_file_without_artifacts_still_loads(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _write_doc(store, FP.id, "yolo11n", _doc())
    loaded = store.load(FP.id, "yolo11n")
    assert loaded is not None and loaded.artifacts == {}


def test_a_malformed_artifact_names_the_file_and_variant(tmp_path: Path) -> None:
    store = _store(tmp_path)
    path = _write_doc(store, FP.id, "yolo11n", _doc(artifacts={V: {"file": 3}}))
    with pytest.raises(BaselineError, match=rf"invalid baseline {path}.*{V}.*'file' and 'sha256'"):
        store.load(FP.id, "yolo11n")
