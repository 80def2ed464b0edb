"""A study added from outside the package, with no change to the harness.

The project's conftest registers a small study with ``@register_study``; the harness's generic
suite parametrizes it, measures each case once, judges its bars (one passes, one fails), writes
its rows to results.json and renders its table in the report, and ``harness report`` re-renders
that table from results.json alone.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parents[2]

USER_CONFTEST = textwrap.dedent(
    '''
    from dataclasses import dataclass

    from harness.checks import check_bound
    from harness.results import StudyColumn, StudyLayout
    from harness.studies import Bar, Study, register_study


    @dataclass(frozen=True)
    class SizeCase:
        model: str
        limit: float

        @property
        def slug(self) -> str:
            return f"{self.model}-max{self.limit:g}"


    @register_study
    class ValImages(Study[SizeCase, dict]):
        """How many val images each model is judged on, against a lower bound."""

        name = "val_images"
        layout = StudyLayout("Val images", (StudyColumn("case", "Case"), StudyColumn("images", "Images", 0)))

        def cases(self, bench):
            where = bench.config.studies.where(self.name)
            limits = where.sequence(self.settings(bench).get("limits", [1]), "limits")
            return [SizeCase(m, where.number(x, "limits", 0.0)) for m in bench.models for x in limits]

        def measure(self, bench, case):
            return {"case": case.slug, "images": len(bench.val_samples()), "min": case.limit}

        def rows(self, bench, row):
            return [row]

        def bars(self, bench, case, row):
            check = check_bound("val_images", case.slug, "val images", row["images"], case.limit, at_most=False)
            return [Bar("size", (check,))]

        def summary(self, case, row):
            return f"harness: val_images {case.slug}: {row['images']}"
    '''
)


@pytest.fixture()
def user_project(pytester: pytest.Pytester, shared_cache: Path) -> pytest.Pytester:
    """The repository's suites, a quick-profile harness.toml and a conftest with the user's study."""
    shutil.copytree(ROOT / "suites", pytester.path / "suites")
    (pytester.path / "harness.toml").write_text(
        f'profile = "quick"\ncache_dir = "{shared_cache}"\n[studies.val_images]\nlimits = [1, 100000]\n'
    )
    (pytester.path / "conftest.py").write_text(USER_CONFTEST)
    return pytester


def test_a_user_study_is_parametrized_measured_checked_recorded_and_rendered(
    user_project: pytest.Pytester, tmp_path: Path
) -> None:
    result = user_project.runpytest_subprocess(
        "-p", "harness.plugin", "suites/test_studies.py", "-p", "no:cacheprovider", "-v"
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*test_study?val_images-yolo11n-max1? PASSED*",
        "*test_study?val_images-yolo11n-max100000? FAILED*",
        "*yolo11n-max100000: val images * < min 100000.0000*",
        "*harness: val_images yolo11n-max1: *",
    ])  # fmt: skip
    latest = user_project.path / "reports" / "latest"
    run = json.loads((latest / "results.json").read_text())
    rows = run["studies"]["val_images"]
    assert [r["case"] for r in rows] == ["yolo11n-max1", "yolo11n-max100000"]
    assert rows[0]["images"] > 1
    assert run["study_layouts"]["val_images"]["title"] == "Val images"
    table = (latest / "study-val_images.md").read_text()
    assert "| Case" in table and "yolo11n-max100000" in table
    assert "Val images" in (latest / "report.html").read_text()
    # re-rendered from results.json alone, without the user's conftest
    assert main(["report", str(latest / "results.json"), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "study-val_images.md").read_text() == table


def test_a_user_study_module_runs_with_the_installed_suites(
    pytester: pytest.Pytester, shared_cache: Path
) -> None:
    """The user's path without a copy of the suites: ``harness run -p my_studies`` (pytest's ``-p``
    imports the module as a plugin, which registers the study) over ``--pyargs harness.suites``."""
    (pytester.path / "harness.toml").write_text(f'profile = "quick"\ncache_dir = "{shared_cache}"\n')
    (pytester.path / "my_studies.py").write_text(USER_CONFTEST)  # no [studies] table: limits = [1]
    result = pytester.runpytest_subprocess(
        "--pyargs", "harness.suites", "-p", "my_studies", "-p", "no:cacheprovider", "-k", "test_study", "-v"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_study?val_images-yolo11n-max1? PASSED*"])
    assert (
        "val_images"
        in json.loads((pytester.path / "reports" / "latest" / "results.json").read_text())["studies"]
    )


def test_settings_of_an_unknown_study_are_one_line_naming_the_closest(user_project: pytest.Pytester) -> None:
    toml = user_project.path / "harness.toml"
    toml.write_text(toml.read_text().replace("[studies.val_images]", "[studies.val_imagez]"))
    result = user_project.runpytest_subprocess(
        "-p", "harness.plugin", "suites/test_studies.py", "-p", "no:cacheprovider"
    )
    result.stdout.fnmatch_lines(
        ["*unknown study 'studies.val_imagez' in harness.toml; did you mean 'val_images'?*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_bad_setting_names_its_key(user_project: pytest.Pytester) -> None:
    toml = user_project.path / "harness.toml"
    toml.write_text(toml.read_text().replace("limits = [1, 100000]", 'limits = [1, "many"]'))
    result = user_project.runpytest_subprocess(
        "-p", "harness.plugin", "suites/test_studies.py", "-p", "no:cacheprovider"
    )
    result.stdout.fnmatch_lines(["*studies.val_images.limits in harness.toml: expected *, got 'many' (str)*"])
