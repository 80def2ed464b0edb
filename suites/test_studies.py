"""Every registered study without a suite of its own: each case measured once, all its bars judged.

A study registered with :func:`harness.studies.register_study` (in a conftest or a plugin) or
through the ``harness.studies`` entry point group, whose ``fixture`` is the default
``study_case``, is parametrized here with ids ``<study>-<case>``; its rows go to results.json
``studies`` and its table to the report.
"""

from __future__ import annotations

import pytest

from harness.plugin import StudyCase
from harness.runstate import RunState

# A user's study may time anything: under pytest-xdist each case runs alone.
pytestmark = pytest.mark.harness_timing


def test_study(study_case: StudyCase, harness_state: RunState) -> None:
    """Measure the case and judge every bar of its study."""
    harness_state.judge(study_case.study, study_case.case)
