"""``harness report`` and the report package import only the results schema, metrics and config.

Measured two ways: the modules a real ``harness report`` process has imported when it is done
(``sys.modules``), and the static import closure of every module in ``harness/report``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from import_graph import closure, module_graph  # tests/import_graph.py

from harness.environment import Fingerprint
from harness.results import PRUNING, RunResults

HEAVY = ("harness.builders", "harness.backends", "harness.bench", "harness.studies", "harness.run",
         "harness.runstate", "harness.plugin", "harness.variant_checks", "harness.matrix")  # fmt: skip
ALLOWED = ("harness.report", "harness.results", "harness.metrics", "harness.config", "harness.errors",
           "harness.fsutil", "harness.environment")  # fmt: skip


def _under(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in packages)


def _results(path: Path) -> Path:
    fp = Fingerprint("AMD EPYC 9B14", 2, 2, None, "3.11.7", "2.5.0", "8.4.0", "1.20.0", "2.1.0")
    run = RunResults.new("quick", fp, run_id="r1")
    run.record("m-p00-fp32-torch", model="m", backend="torch", precision="fp32", prune=0.0,
               metrics={"map50_95": 0.5, "latency_median_ms": 10.0})  # fmt: skip
    run.add_study(PRUNING, [{"model": "m", "case": "m-p30-l1", "map50_95_finetuned": 0.4}])
    run.save(path)
    return path


def test_harness_report_process_imports_no_model_code(tmp_path: Path) -> None:
    results = _results(tmp_path / "results.json")
    script = textwrap.dedent(f"""
        import json, sys
        from harness.cli import main
        code = main(["report", {str(results)!r}, "--out", {str(tmp_path / "out")!r}])
        print(json.dumps([code, sorted(m for m in sys.modules if m.startswith("harness"))]))
    """)
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    code, modules = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and (tmp_path / "out" / "pruning.md").is_file()
    assert [m for m in modules if _under(m, HEAVY)] == []
    assert not {"torch", "ultralytics", "onnxruntime", "openvino"} & set(_top_modules(tmp_path, script))


def _top_modules(tmp_path: Path, script: str) -> list[str]:
    """Top-level packages the same ``harness report`` process imported."""
    listing = script.replace('m.startswith("harness")', "True")
    out = subprocess.run([sys.executable, "-c", listing], check=True, capture_output=True, text=True).stdout
    return sorted({m.split(".")[0] for m in json.loads(out.strip().splitlines()[-1])[1]})


def test_report_package_imports_only_schema_metrics_and_config() -> None:
    graph = module_graph()
    for module in (m for m in graph if _under(m, ("harness.report",))):
        outside = sorted(m for m in closure(graph, module) if not _under(m, ALLOWED))
        assert outside == [], f"{module} imports {outside}"
