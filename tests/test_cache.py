"""Artifact cache: build once, atomic entries, recovery after a killed build, one build under xdist."""

from __future__ import annotations

import multiprocessing
import os
import sys
from pathlib import Path

import pytest

from harness.cache import ArtifactCache
from harness.recipes import SyntheticDataRecipe

RECIPE = SyntheticDataRecipe(seed=0, imgsz=64, n_train=1, n_val=1, n_calib=1, generator_version=1)


def _write(tmp: Path, text: str = "artifact") -> str:
    (tmp / "a.bin").write_text(text)
    return "a.bin"


def test_builds_once_then_hits(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)
    calls: list[Path] = []

    def build(tmp: Path) -> str:
        calls.append(tmp)
        return _write(tmp)

    first = cache.get_or_build(RECIPE, build)
    second = cache.get_or_build(RECIPE, build)
    assert len(calls) == 1
    assert first == second
    assert first.path.read_text() == "artifact"
    assert first.directory == cache.entry_dir(RECIPE.key())


def test_failed_build_leaves_no_entry(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)

    def broken(tmp: Path) -> str:
        _write(tmp)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        cache.get_or_build(RECIPE, broken)
    assert cache.get(RECIPE) is None


def test_tampered_artifact_is_rebuilt(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)
    art = cache.get_or_build(RECIPE, _write)
    art.path.write_text("tampered")
    assert cache.get(RECIPE) is None
    rebuilt = cache.get_or_build(RECIPE, lambda tmp: _write(tmp, "fresh"))
    assert rebuilt.path.read_text() == "fresh"


def _killed_build(root: str) -> None:
    def build(tmp: Path) -> str:
        (tmp / "a.bin").write_text("half")
        os._exit(9)  # the process dies mid-write, like a SIGKILL

    ArtifactCache(Path(root)).get_or_build(RECIPE, build)


@pytest.mark.skipif(sys.platform == "win32", reason="uses fork semantics")
def test_killed_build_is_rebuilt_cleanly(tmp_path: Path) -> None:
    proc = multiprocessing.get_context("spawn").Process(target=_killed_build, args=(str(tmp_path),))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 9
    cache = ArtifactCache(tmp_path)
    assert cache.get(RECIPE) is None
    assert list((tmp_path / "tmp").iterdir()), "the killed build left its temporary directory"
    art = cache.get_or_build(RECIPE, lambda tmp: _write(tmp, "clean"))
    assert art.path.read_text() == "clean"
    assert not list((tmp_path / "tmp").iterdir())


def _counting_build(root: str, counter: str) -> None:
    def build(tmp: Path) -> str:
        with open(counter, "a") as fh:
            fh.write("x")
        import time

        time.sleep(0.5)
        return _write(tmp)

    ArtifactCache(Path(root)).get_or_build(RECIPE, build)


def test_parallel_workers_build_once(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_counting_build, args=(str(tmp_path / "c"), str(counter))) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert counter.read_text() == "x"
