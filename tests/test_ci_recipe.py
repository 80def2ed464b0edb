"""The CI recipe of docs/ci.md, run as its workflow runs it, on a small quick-profile project.

The commands come from docs/github-actions.yml itself (the steps ``gate-main`` and ``gate-pr``),
so the example cannot drift from what is tested: a "main" run with ``--update-baselines``, an
unchanged "PR" that passes, and two PRs that must fail naming variant and metric: one with a
15 % slowdown injected into a variant (``tests/inject_regressions.py``), one with a degraded
model (its training recipe cut from 24 epochs to 2).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "docs" / "github-actions.yml"
SLOWED = "yolo11n-p00-fp32-onnxruntime"
pytestmark = pytest.mark.slow

# A model with something to lose: 24 epochs at 96 px on 96 images (mAP50-95 about 0.1, 30 s here).
CONFIG = """profile = "quick"
cache_dir = "{cache}"
imgsz = 96
train = {{epochs = {epochs}, batch = 8}}
dataset = {{n_train = 96, n_val = 48, n_calib = 8, seed = 0}}
latency = {{warmup = 5, rounds = 10, interleaved_rounds = 40, throughput_batch = 2}}
ablation = {{multi_scale = 0.0}}  # its two extra fine-tunes are not what this test is about
"""


def workflow_command(step_id: str) -> list[str]:
    """The ``run`` command of the workflow step ``step_id``, as argv."""
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["gate"]["steps"]
    (step,) = [s for s in steps if s.get("id") == step_id]
    return shlex.split(step["run"])


def _gate(project: Path, step_id: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = workflow_command(step_id)
    assert argv[0] == "harness"
    harness = Path(sys.executable).parent / "harness"
    extra = ["-p", "inject_regressions"] if env else []
    full_env = {**os.environ, "PYTHONPATH": str(ROOT / "tests"), **(env or {})}
    return subprocess.run([str(harness), *argv[1:], *extra, "-p", "no:cacheprovider", "-q"], cwd=project,
                          env=full_env, capture_output=True, text=True, timeout=1200, check=False)  # fmt: skip


def _project(tmp_path: Path, cache: Path, epochs: int = 24) -> Path:
    (tmp_path / "harness.toml").write_text(CONFIG.format(epochs=epochs, cache=cache))
    return tmp_path


def test_the_workflow_has_the_gate_steps_in_order() -> None:
    steps = [
        s.get("id") or s.get("name") for s in yaml.safe_load(WORKFLOW.read_text())["jobs"]["gate"]["steps"]
    ]
    assert steps.index("gate-main") < steps.index("gate-pr") < steps.index("Job summary")
    assert workflow_command("gate-main") == ["harness", "run", "--update-baselines"]
    assert workflow_command("gate-pr") == ["harness", "run"]


def test_main_then_pull_requests(tmp_path: Path, shared_cache: Path) -> None:
    """The artifact cache is the session's (as CI restores main's); the project is new."""
    project = _project(tmp_path, shared_cache)
    main = _gate(project, "gate-main")
    assert main.returncode == 0, main.stdout[-3000:]
    assert list((project / "baselines").glob("*/yolo11n.json"))

    unchanged = _gate(project, "gate-pr")
    assert unchanged.returncode == 0, unchanged.stdout[-3000:]

    slowed = _gate(project, "gate-pr", {"HARNESS_INJECT_SLOWDOWN": f"{SLOWED}=0.15"})
    assert slowed.returncode == 1, slowed.stdout[-3000:]
    assert f"{SLOWED}: speed vs baseline (its artifact timed interleaved" in slowed.stdout
    assert "FAILED" in slowed.stdout and "beyond limit" in slowed.stdout

    _project(
        tmp_path, shared_cache, epochs=2
    )  # the PR cuts training: a worse model under the same variant ids
    degraded = _gate(project, "gate-pr")
    assert degraded.returncode == 1, degraded.stdout[-3000:]
    assert "yolo11n-p00-fp32-torch: mAP50-95 drop vs baseline" in degraded.stdout
