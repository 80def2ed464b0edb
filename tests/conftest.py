"""Fixtures shared by the harness's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import HarnessConfig, load_config
from harness.session import HarnessSession

pytest_plugins = ("pytester",)


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One artifact cache for every test that builds real models (the quick reference trains once)."""
    return tmp_path_factory.mktemp("harness-cache")


@pytest.fixture(scope="session")
def quick_config(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> HarnessConfig:
    """The `quick` profile with the shared cache, rooted in a scratch directory."""
    root = tmp_path_factory.mktemp("quick-root")
    (root / "harness.toml").write_text(f'profile = "quick"\ncache_dir = "{shared_cache}"\n')
    return load_config(root)


@pytest.fixture(scope="session")
def session(quick_config: HarnessConfig) -> HarnessSession:
    """One harness session on the quick config, shared by every test that runs real graphs."""
    return HarnessSession.from_config(quick_config)
