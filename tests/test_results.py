"""Result records: merging, JSON round trip, strict loading, documentation coverage."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.environment import Fingerprint
from harness.errors import ResultsError
from harness.metrics import METRICS
from harness.results import SCHEMA_VERSION, RunResults, VariantResult

FP = Fingerprint("AMD EPYC 9B14", 2, 2, None, "3.11.7", "2.5.0", "8.4.0", "1.20.0", "2.1.0")
V = "yolo11n-p00-fp32-onnxruntime"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "results-schema.md"


def _run() -> RunResults:
    return RunResults.new("quick", FP, run_id="r1", now=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))


def _record(run: RunResults, slug: str = V, **kwargs: object) -> VariantResult:
    return run.record(slug, model="yolo11n", backend="onnxruntime", precision="fp32", prune=0.0, **kwargs)  # type: ignore[arg-type]


def test_new_run_carries_fingerprint_and_time() -> None:
    run = _run()
    assert (run.run_id, run.profile, run.schema_version) == ("r1", "quick", SCHEMA_VERSION)
    assert run.created == "2025-01-02T03:04:05+00:00"
    assert run.fingerprint == FP.to_dict() and run.fingerprint_id == FP.id
    assert run.variants == []


def test_generated_run_ids_are_folder_safe_and_distinct() -> None:
    ids = {RunResults.new("quick", FP).run_id for _ in range(20)}
    assert len(ids) > 1
    assert all(re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", i) for i in ids)


def test_records_for_one_variant_merge() -> None:
    run = _run()
    _record(run, metrics={"map50_95": 0.5, "latency_median_ms": None}, recipe={"k": 1}, artifact="a.onnx")
    _record(run, metrics={"latency_median_ms": 11.5}, messages=["note"])
    _record(run, metrics={"map50_95": None}, artifact_sha256="abc", messages=["note", "other"])
    [result] = run.variants
    assert result.metrics == {"map50_95": 0.5, "latency_median_ms": 11.5}
    assert (result.recipe, result.artifact, result.artifact_sha256) == ({"k": 1}, "a.onnx", "abc")
    assert result.messages == ["note", "other"]


def test_unmeasured_metric_is_none_not_zero() -> None:
    run = _run()
    _record(run, metrics={"gflops": None})
    assert run.variants[0].metrics == {"gflops": None}
    assert json.loads(run.to_json())["variants"][0]["metrics"] == {"gflops": None}


@pytest.mark.parametrize(
    "statuses, final",
    [
        (["passed", "skipped"], "passed"),
        (["skipped", "passed"], "passed"),
        (["passed", "failed", "passed"], "failed"),
        (["failed", "error"], "error"),
        (["skipped"], "skipped"),
    ],
)
def test_worst_status_wins(statuses: list[str], final: str) -> None:
    run = _run()
    for status in statuses:
        _record(run, status=status)
    assert run.variants[0].status == final


def test_merge_requires_an_existing_record() -> None:
    run = _run()
    with pytest.raises(KeyError, match="no record"):
        run.merge(V, {"map50": 0.1})
    _record(run)
    assert run.merge(V, {"map50": 0.1}, status="failed", messages=["m"]).status == "failed"


def test_record_with_other_identity_is_a_bug() -> None:
    run = _run()
    _record(run)
    with pytest.raises(ValueError, match="other model"):
        run.record(V, model="yolo11n", backend="torch", precision="fp32", prune=0.0)


@pytest.mark.parametrize(
    "metrics, message",
    [
        ({"map5095": 0.5}, r"unknown metric 'map5095'; did you mean 'map50_95'\?"),
        ({"map50": float("nan")}, "record None when not measured"),
        ({"map50": "0.5"}, "must be a number or None"),
        ({"map50": True}, "must be a number or None"),
    ],
)
def test_bad_metrics_are_rejected(metrics: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _record(_run(), metrics=metrics)


def test_bad_status_and_prune_are_rejected() -> None:
    with pytest.raises(ValueError, match="status"):
        _record(_run(), status="great")
    with pytest.raises(ValueError, match="prune"):
        VariantResult(V, "m", "torch", "fp32", 1.0)


metric_values = st.dictionaries(
    st.sampled_from(sorted(METRICS)), st.none() | st.floats(allow_nan=False, allow_infinity=False)
)


@given(metric_values, st.sampled_from(["passed", "failed", "skipped", "error"]))
def test_json_round_trip(metrics: dict[str, float | None], status: str) -> None:
    run = _run()
    _record(run, metrics=metrics, status=status, messages=["why"], recipe={"a": [1, 2]})
    _record(run, "yolo11n-p00-fp32-other", metrics={"params": 2.6e6})
    assert RunResults.from_dict(json.loads(run.to_json())) == run


def test_save_and_load(tmp_path: Path) -> None:
    run = _run()
    _record(run, metrics={"map50": 0.7})
    path = tmp_path / "deep" / "results.json"
    run.save(path)
    assert RunResults.load(path) == run
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]


def _doc() -> dict[str, object]:
    run = _run()
    _record(run, metrics={"map50": 0.7})
    return json.loads(run.to_json())


def _without(key: str) -> dict[str, object]:
    doc = _doc()
    del doc[key]
    return doc


def _variant_change(**change: object) -> dict[str, object]:
    doc = _doc()
    doc["variants"][0].update(change)  # type: ignore[index]
    return doc


@pytest.mark.parametrize(
    "doc, message",
    [
        ([], "expected an object"),
        (_without("run_id"), "missing key 'run_id'"),
        ({**_doc(), "schema_version": 99}, "schema_version 99 is newer than supported"),
        ({**_doc(), "schema_version": 0}, "unsupported schema_version 0"),
        ({**_doc(), "variants": {}}, "'variants' has the wrong type"),
        ({**_doc(), "fingerprint": {"cpu": "x"}}, "fingerprint field"),
        (_variant_change(prune="0"), "'prune' has the wrong type"),
        (_variant_change(prune=True), "'prune' has the wrong type"),
        (_variant_change(status="meh"), "status 'meh'"),
        (_variant_change(metrics={"speed": 1}), "unknown metric 'speed'"),
        ({**_doc(), "variants": [{"variant": "x"}]}, "variant: missing key 'model'"),
    ],
)
def test_invalid_documents_raise_results_error(tmp_path: Path, doc: object, message: str) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ResultsError, match=message) as info:
        RunResults.load(path)
    assert str(path) in str(info.value)


def test_corrupt_or_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text('{"run_id": ')
    with pytest.raises(ResultsError, match="not valid JSON"):
        RunResults.load(path)
    with pytest.raises(ResultsError, match="cannot read results file"):
        RunResults.load(tmp_path / "absent.json")


def test_docs_describe_every_field_and_metric() -> None:
    text = DOCS.read_text()
    names = [f.name for f in fields(RunResults)] + [f.name for f in fields(VariantResult)]
    names += list(METRICS) + list(FP.to_dict())
    missing = [n for n in names if f"`{n}`" not in text]
    assert missing == []
    for name, info in METRICS.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
        better = {True: "higher", False: "lower", None: "-"}[info.higher_is_better]
        assert f"| {better} |" in row, name


def test_absorb_merges_another_shard() -> None:
    a, b = _run(), _run()
    a.record(
        "m-p00-fp32-torch", model="m", backend="torch", precision="fp32", prune=0.0, metrics={"map50": 0.5}
    )
    b.record("m-p00-fp32-torch", model="m", backend="torch", precision="fp32", prune=0.0,
             metrics={"latency_median_ms": 3.0}, status="failed", messages=["x"])  # fmt: skip
    b.record("m-p00-fp32-onnxruntime", model="m", backend="onnxruntime", precision="fp32", prune=0.0)
    a.absorb(b)
    merged = a.variant("m-p00-fp32-torch")
    assert merged is not None
    assert merged.metrics == {"map50": 0.5, "latency_median_ms": 3.0}
    assert (merged.status, merged.messages) == ("failed", ["x"])
    assert [v.variant for v in a.variants] == ["m-p00-fp32-torch", "m-p00-fp32-onnxruntime"]


def test_absorb_refuses_results_from_another_fingerprint() -> None:
    a = _run()
    other = RunResults.new("quick", Fingerprint("Intel Xeon", 2, 2, None, "3.11.7", None, None, None, None))
    _record(other, metrics={"map50": 0.5})
    with pytest.raises(ResultsError, match="results from another fingerprint") as info:
        a.absorb(other)
    assert FP.id in str(info.value) and other.fingerprint_id in str(info.value)
    assert a.variants == []


def test_studies_round_trip_and_merge(tmp_path: Path) -> None:
    a, b = _run(), _run()
    a.add_study("mixed_precision", [{"model": "m", "kept": [], "map50_95": 0.5}])
    b.add_study("mixed_precision", [{"model": "m", "kept": ["conv"], "map50_95": 0.52}])
    a.absorb(b)
    assert [row["kept"] for row in a.studies["mixed_precision"]] == [[], ["conv"]]
    a.save(tmp_path / "r.json")
    assert RunResults.load(tmp_path / "r.json") == a
    older = a.to_dict()
    del older["studies"]  # files written before studies existed still load
    assert RunResults.from_dict(older).studies == {}


@pytest.mark.parametrize("studies", [[], {"mixed_precision": {"a": 1}}, {"mixed_precision": [1]}])
def test_malformed_studies_are_a_results_error(studies: object) -> None:
    doc = _run().to_dict() | {"studies": studies}
    with pytest.raises(ResultsError, match="studies"):
        RunResults.from_dict(doc)


def test_a_study_layout_with_a_header_twice_is_refused() -> None:
    """Two columns under one header would break the rendered table (and lose the run's report)."""
    from harness.results import StudyColumn, StudyLayout

    with pytest.raises(ValueError, match="repeats the column header"):
        StudyLayout("t", (StudyColumn("a", "CI low"), StudyColumn("b", "CI low")))


def test_every_harness_study_layout_renders() -> None:
    from harness.studies import registered

    layouts = [s.layout for s in registered() if s.layout is not None]
    assert layouts and all(len({c.header for c in lay.columns}) == len(lay.columns) for lay in layouts)
