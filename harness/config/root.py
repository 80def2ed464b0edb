"""Which folder a run takes its config from and resolves the cache, reports and baselines against."""

from __future__ import annotations

from pathlib import Path

from harness.config.loader import find_config
from harness.errors import ConfigError

__all__ = ["harness_root"]

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the installed harness package


def harness_root(rootdir: Path, invocation_dir: Path) -> Path:
    """The folder a run takes its config from and resolves the cache, reports and baselines against.

    pytest's ``rootdir`` when it holds a harness config (``harness.toml`` or ``[tool.harness]`` in
    ``pyproject.toml``), else the folder pytest was started in when that holds one: with
    ``pytest --pyargs harness.suites`` pytest roots the run at the nearest folder with a pytest
    config, which need not be the user's harness folder. With no config in either, the rootdir,
    unless it lies inside the installed harness package (``pytest .../site-packages/harness/suites``):
    then the invocation folder, so that nothing is ever written into site-packages.
    """
    for folder in (rootdir, invocation_dir):
        if _has_config(folder):
            return folder
    return invocation_dir if _inside(rootdir, _PACKAGE_DIR) else rootdir


def _has_config(folder: Path) -> bool:
    """Whether ``folder`` holds a harness config (an unreadable one counts: loading it says why)."""
    try:
        return find_config(folder) is not None
    except ConfigError:
        return True


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies below it (symlinks resolved)."""
    return path.resolve().is_relative_to(folder)
