"""Atomic writes leave either the old file or the new one, never a torn file or litter."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness import fsutil
from harness.fsutil import atomic_symlink, atomic_write_bytes, atomic_write_json, atomic_write_text


def _litter(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_write_text_creates_parents_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.txt"
    atomic_write_text(target, "héllo\n")
    assert target.read_text(encoding="utf-8") == "héllo\n"
    assert _litter(target.parent) == []


def test_write_replaces_existing_content(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"


def test_written_file_gets_umask_mode_not_mkstemp_0600(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    atomic_write_text(target, "x")
    assert target.stat().st_mode & 0o777 == 0o666 & ~fsutil._UMASK


def test_failed_replace_keeps_old_file_and_removes_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old")

    def boom(src: str, dst: str) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(fsutil.os, "replace", boom)
    with pytest.raises(OSError, match="disk on fire"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert _litter(tmp_path) == []


def test_write_json_is_sorted_indented_and_rejects_nan(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    atomic_write_json(target, {"b": 1, "a": [1.5, None]})
    assert json.loads(target.read_text()) == {"a": [1.5, None], "b": 1}
    assert target.read_text().index('"a"') < target.read_text().index('"b"')
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "nan.json", {"a": float("nan")})
    assert not (tmp_path / "nan.json").exists()


def test_symlink_is_created_and_replaced(tmp_path: Path) -> None:
    (tmp_path / "run1").mkdir()
    (tmp_path / "run2").mkdir()
    link = tmp_path / "latest"
    atomic_symlink("run1", link)
    assert os.readlink(link) == "run1"
    atomic_symlink("run2", link)
    assert os.readlink(link) == "run2"
    assert link.resolve() == (tmp_path / "run2").resolve()
    assert _litter(tmp_path) == []


def test_symlink_refuses_to_replace_a_real_directory(tmp_path: Path) -> None:
    (tmp_path / "latest").mkdir()
    with pytest.raises(OSError):
        atomic_symlink("run1", tmp_path / "latest")
    assert (tmp_path / "latest").is_dir()
    assert _litter(tmp_path) == []
