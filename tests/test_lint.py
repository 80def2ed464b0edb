"""House style, checked on every test run: ``ruff check`` and ``ruff format --check`` at the version
the ``lint`` extra pins (the ``dev`` extra includes it). mypy is pinned there too but run by hand
(``mypy``, README "Lint and types"): its verdict depends on torch's and Ultralytics' annotations,
which the harness does not pin."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pinned(tool: str) -> str:
    """The exact version the ``lint`` extra pins for ``tool``."""
    pins = [
        re.fullmatch(rf"{tool}==([\w.]+)", spec)
        for spec in PYPROJECT["project"]["optional-dependencies"]["lint"]
    ]
    found = [m.group(1) for m in pins if m]
    assert len(found) == 1, f"the lint extra must pin {tool} exactly once (==X.Y.Z)"
    return found[0]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    try:
        installed = metadata.version("ruff")
    except metadata.PackageNotFoundError:
        pytest.skip("ruff is not installed (pip install -e '.[lint]')")
    if installed != _pinned("ruff"):
        pytest.skip(f"ruff {installed} is installed; the lint extra pins {_pinned('ruff')}")
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_lint_extra_pins_ruff_and_mypy_and_dev_includes_it() -> None:
    assert _pinned("ruff") and _pinned("mypy")
    assert "yolo-compression-harness[lint]" in PYPROJECT["project"]["optional-dependencies"]["dev"]


def test_ruff_check_is_clean() -> None:
    done = _ruff("check", ".", "--output-format", "concise")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_ruff_format_leaves_every_file_as_it_is() -> None:
    done = _ruff("format", "--check", ".")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
