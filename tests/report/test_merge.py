"""`harness merge`: shards of one fingerprint merge, other machines go side by side."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

from harness.environment import Fingerprint
from harness.errors import HarnessError, ResultsError
from harness.report.merge import (
    MERGED_CSV,
    MERGED_MD,
    Shard,
    machine_label,
    merge_runs,
    side_by_side,
    write_merge,
)
from harness.results import RunResults

FP = Fingerprint("AMD EPYC 9B14", 2, 2, None, "3.11.7", "2.5.0", "8.4.0", "1.20.0", "2.1.0")
GPU = replace(FP, gpu="NVIDIA H100 80GB HBM3")
A, B = "m-p00-fp32-torch", "m-p00-fp32-onnxruntime"


def _run(run_id: str, fp: Fingerprint = FP, **variants: dict[str, float | None]) -> RunResults:
    run = RunResults.new("quick", fp, run_id=run_id)
    for slug, metrics in variants.items():
        backend = slug.rsplit("-", 1)[1]
        run.record(slug, model="m", backend=backend, precision="fp32", prune=0.0, metrics=metrics)
    return run


def _save(tmp_path: Path, run: RunResults) -> Path:
    path = tmp_path / f"{run.run_id}.json"
    run.save(path)
    return path


def _shards(*runs: RunResults) -> list[Shard]:
    return [Shard(f"{run.run_id}.json", run) for run in runs]


def test_same_fingerprint_merges_into_one_run() -> None:
    first = _run("r1", **{A: {"map50_95": 0.5, "latency_median_ms": None}})
    second = _run("r2", **{A: {"latency_median_ms": 3.0}, B: {"map50_95": 0.49}})
    ((run, group),) = merge_runs(_shards(first, second))
    assert run.run_id == "r1" and [s.source for s in group] == ["r1.json", "r2.json"]
    assert [v.variant for v in run.variants] == [A, B]
    merged = run.variant(A)
    assert merged is not None and merged.metrics == {"map50_95": 0.5, "latency_median_ms": 3.0}
    assert first.variant(B) is None  # the inputs are not modified


def test_other_fingerprints_are_side_by_side_with_missing_as_dash() -> None:
    cpu = _run("r1", **{A: {"latency_median_ms": 10.0, "throughput_ips": 120.0, "map50_95": 0.5}})
    gpu = _run("r2", GPU, **{A: {"latency_median_ms": 2.0}, B: {"map50_95": 0.49}})
    merged = merge_runs(_shards(cpu, gpu))
    assert [run.fingerprint_id for run, _ in merged] == [FP.id, GPU.id]
    assert machine_label(gpu) == f"{GPU.id} (NVIDIA H100 80GB HBM3)"
    assert machine_label(cpu) == f"{FP.id} (AMD EPYC 9B14)"
    frame = side_by_side([run for run, _ in merged])
    assert list(frame["Variant"]) == [A, B]
    label = machine_label(cpu)
    assert list(frame.columns[1:4]) == [f"{label} p50 ms", f"{label} Throughput img/s", f"{label} mAP50-95"]
    assert frame[f"{machine_label(gpu)} p50 ms"].iloc[0] == 2.0
    assert frame[f"{machine_label(cpu)} p50 ms"].isna().iloc[1]  # cpu did not measure B


def test_write_merge_writes_tables_and_one_run_folder_per_environment(tmp_path: Path) -> None:
    paths = [
        _save(tmp_path, _run("r1", **{A: {"latency_median_ms": 10.0, "map50_95": 0.5}})),
        _save(tmp_path, _run("r2", **{B: {"latency_median_ms": 8.0}})),
        _save(tmp_path, _run("r3", GPU, **{A: {"latency_median_ms": 2.0}})),
    ]
    out = tmp_path / "out"
    written = write_merge(paths, out)
    assert written[:2] == [out / MERGED_MD, out / MERGED_CSV]
    assert sorted(p.name for p in written[2:]) == ["r1", "r3"]
    shard_run = RunResults.load(out / "r1" / "results.json")
    assert [v.variant for v in shard_run.variants] == [A, B]
    markdown = (out / MERGED_MD).read_text()
    assert "3 file(s) from 2 environment(s)" in markdown
    assert f"| {A}" in markdown and "10.00" in markdown and "0.5000" in markdown
    row_b = next(line for line in markdown.splitlines() if line.startswith(f"| {B}"))
    assert row_b.count(" - ") == 5  # GPU: p50, img/s, mAP; CPU: img/s, mAP (only p50 was measured)
    rows = list(csv.reader(io.StringIO((out / MERGED_CSV).read_text())))
    assert (
        rows[0][0] == "Variant"
        and len(rows[0]) == 7
        and f"{GPU.id} (NVIDIA H100 80GB HBM3) p50 ms" in rows[0]
    )
    assert [row[0] for row in rows[1:]] == [A, B]


def test_same_run_id_on_two_machines_gets_distinct_folders(tmp_path: Path) -> None:
    paths = [_save(tmp_path / "a", _run("r1", **{A: {}})), _save(tmp_path / "b", _run("r1", GPU, **{A: {}}))]
    written = write_merge(paths, tmp_path / "out")
    assert sorted(p.name for p in written[2:]) == ["r1", f"r1-{GPU.id}"]


def test_conflicting_variant_identity_names_the_shard() -> None:
    first = _run("r1", **{A: {}})
    second = RunResults.new("quick", FP, run_id="r2")
    second.record(A, model="other", backend="torch", precision="fp32", prune=0.0)
    with pytest.raises(ResultsError, match=r"r2\.json: cannot merge into run r1"):
        merge_runs(_shards(first, second))


def test_corrupt_and_newer_files_name_the_file(tmp_path: Path) -> None:
    good = _save(tmp_path, _run("r1", **{A: {}}))
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{")
    with pytest.raises(ResultsError, match="corrupt.json: not valid JSON"):
        write_merge([good, corrupt], tmp_path / "out")
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(_run("r2").to_dict() | {"schema_version": 99}))
    with pytest.raises(ResultsError, match="newer.json: schema_version 99 is newer"):
        write_merge([good, newer], tmp_path / "out")


def test_unwritable_out_names_the_folder(tmp_path: Path) -> None:
    good = _save(tmp_path, _run("r1", **{A: {}}))
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(HarnessError, match="cannot write reports to .*file"):
        write_merge([good], blocker / "sub")
