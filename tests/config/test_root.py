"""Which folder a run's config, cache and reports belong to (:func:`harness.config.root.harness_root`)."""

from __future__ import annotations

from pathlib import Path

import harness
from harness.config.root import harness_root


def test_the_rootdir_with_a_config_wins(tmp_path: Path) -> None:
    root, here = tmp_path / "root", tmp_path / "root" / "sub"
    here.mkdir(parents=True)
    (root / "harness.toml").write_text("")
    (here / "harness.toml").write_text("")
    assert harness_root(root, here) == root


def test_the_invocation_folder_when_only_it_has_a_config(tmp_path: Path) -> None:
    root, here = tmp_path, tmp_path / "bench"
    here.mkdir()
    (root / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")  # a pytest config, no harness table
    (here / "pyproject.toml").write_text("[tool.harness]\nprofile = 'quick'\n")
    assert harness_root(root, here) == here


def test_an_unreadable_config_counts_so_that_loading_it_says_why(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.harness\n")
    assert harness_root(tmp_path, tmp_path / "elsewhere") == tmp_path


def test_without_any_config_the_rootdir_unless_it_is_inside_the_package(tmp_path: Path) -> None:
    assert harness_root(tmp_path / "root", tmp_path) == tmp_path / "root"
    installed = Path(harness.__file__).parent / "suites"
    assert harness_root(installed, tmp_path) == tmp_path  # never write into site-packages
