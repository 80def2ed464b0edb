"""pyproject.toml: every package ships, the suites ship as harness.suites, the plugin registers once."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_harness_package_is_listed() -> None:
    """The package list is explicit (harness.suites lives in suites/); a new subpackage must join it."""
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "harness").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert found | {"harness.suites"} == listed, f"missing: {sorted(found - listed)}"


def test_suites_ship_as_harness_suites() -> None:
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"harness.suites": "suites"}
    assert (ROOT / "suites" / "__init__.py").is_file()


def test_plugin_entry_point_is_named_after_its_module() -> None:
    """pytest registers an entry point under its name and `-p MODULE` / conftest's pytest_plugins under
    the module's: the same name makes either a no-op after the other (pluggy refuses two names)."""
    assert PYPROJECT["project"]["entry-points"]["pytest11"] == {"harness.plugin": "harness.plugin"}
    conftest = (ROOT / "conftest.py").read_text()
    assert 'pytest_plugins = ("harness.plugin",)' in conftest
