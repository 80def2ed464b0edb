"""The written report.html opened in headless Chromium: its tables and plots render.

A copy of the page gets a small script that, once the page has loaded, writes what the browser
rendered into the DOM (rows per table, whether each image decoded, inline SVG sizes); Chromium's
``--dump-dom`` prints it. Without Chromium the test skips, except under CI (``CI`` set), which
must have it (``.ci/run`` installs it).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.environment import Fingerprint
from harness.report.writer import REPORT_HTML, report_tables, write_tables
from harness.results import RunResults

FP = Fingerprint("AMD EPYC 9B14", 2, 2, None, "3.11.7", "2.5.0", "8.4.0", "1.20.0", "2.1.0")
PROBE = """<script>
window.addEventListener("load", () => {
  const tables = {};
  for (const t of document.querySelectorAll("table")) {
    tables[t.id] = {rows: t.rows.length, width: t.getBoundingClientRect().width};
  }
  const images = {};
  for (const img of document.images) {
    images[img.id] = {ok: img.complete && img.naturalWidth > 0, width: img.naturalWidth};
  }
  const svgs = [...document.querySelectorAll("svg")].map((s) => s.getBBox().width);
  const out = document.createElement("pre");
  out.id = "harness-probe";
  out.textContent = JSON.stringify({tables, images, svgs});
  document.body.appendChild(out);
});
</script>
"""
_RESULT = re.compile(r'<pre id="harness-probe">(.*?)</pre>', re.DOTALL)


def _chromium() -> str:
    """Chromium's path; skips without it, fails under CI where it must be installed."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    reason = "Chromium not found (chromium or chromium-browser on PATH); apt-get install chromium"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI must have it")
    pytest.skip(reason)


def _run() -> RunResults:
    run = RunResults.new("quick", FP, run_id="r1")
    for precision, backend, latency, size in [
        ("fp32", "torch", 20.0, 10.4e6),
        ("int8", "openvino", 6.0, 3.1e6),
    ]:
        metrics = {"map50_95": 0.5, "latency_median_ms": latency, "file_bytes": size}
        slug = f"m-p00-{precision}-{backend}"
        run.record(slug, model="m", backend=backend, precision=precision, prune=0.0, metrics=metrics)
    return run


def _rendered(chromium: str, page: Path, profile: Path) -> dict[str, object]:
    """What the probe saw, from Chromium's dump of the DOM after load."""
    cmd = [
        chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom",
        page.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    found = _RESULT.search(done.stdout)
    if found is None:
        pytest.fail(f"Chromium exited {done.returncode} without the probe's result:\n{done.stderr[-2000:]}")
    result: dict[str, object] = json.loads(html.unescape(found.group(1)))
    return result


def test_report_tables_and_plots_render_in_chromium(tmp_path: Path) -> None:
    chromium = _chromium()
    run = _run()
    write_tables(run, tmp_path / "out")
    page = (tmp_path / "out" / REPORT_HTML).read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", f"{PROBE}</body>"), encoding="utf-8")
    seen = _rendered(chromium, probe, tmp_path / "profile")
    tables, images, svgs = seen["tables"], seen["images"], seen["svgs"]
    assert isinstance(tables, dict) and isinstance(images, dict) and isinstance(svgs, list)
    expected = {f"table-{t.stem}": len(t.frame) + 1 for t in report_tables(run)}
    expected["table-environment"] = len(run.fingerprint) + 2  # header + fingerprint_id + every key
    assert {k: v["rows"] for k, v in tables.items()} == expected
    assert all(v["width"] > 0 for v in tables.values())
    assert sorted(images) == ["plot-pareto-latency", "plot-pareto-size"]
    assert all(v["ok"] and v["width"] > 0 for v in images.values()), images
    assert all(width > 0 for width in svgs)
