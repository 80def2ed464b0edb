"""The distillation study on the quick profile: a real pruned student with response KD, measured.

The suite end to end (gain, reference and cost bars through pytest) is in ``tests/test_plugin.py``;
here the study's own measurements, with ``[verdicts] tuned_reference`` on: the KD student against
the reference trained as long as it (a real one-epoch fine-tune of the quick reference).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.bench import Bench
from harness.config import load_config
from harness.measure.stats import Interval
from harness.studies.base import Bar
from harness.studies.distillation import DistillationStudy, DistillCase, DistillRow, cases, measure_case
from harness.tuned import tuned_reference

pytestmark = pytest.mark.slow

CONFIG = """profile = "quick"
cache_dir = "{cache}"
matrix = {{prune = [0.0, 0.3], precision = ["fp32"], backend = ["torch"]}}
pruning = {{finetune_epochs = 1}}
[distill]
students = [{{prune = 0.3}}]
epochs = 1
# temperature 3, not the default 2: a KD student of its own, so that tests/test_plugin.py's
# distillation run still trains both of its seeds (it counts them) in the session's shared cache
response = {{weight = 1.0, temperature = 3.0}}
max_epoch_ratio = 20.0
bars = [{{teacher = "reference", method = "response", max_reference_drop = 0.05}}]
[verdicts]
tuned_reference = true
"""


@pytest.fixture(scope="module")
def kd_bench(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Bench:
    """yolo11n pruned 30 % with 1 epoch of response KD from its reference at 64 px, key on."""
    root = tmp_path_factory.mktemp("kd-root")
    (root / "harness.toml").write_text(CONFIG.format(cache=shared_cache))
    return Bench.from_config(load_config(root))


@pytest.fixture(scope="module")
def case(kd_bench: Bench) -> DistillCase:
    (found,) = cases(kd_bench)
    return found


@pytest.fixture(scope="module")
def row(kd_bench: Bench, case: DistillCase) -> DistillRow:
    return measure_case(kd_bench, case)


def _bar(bench: Bench, case: DistillCase, row: DistillRow) -> Bar:
    return {b.name: b for b in DistillationStudy().bars(bench, case, row)}["tuned"]


def test_the_student_is_set_against_the_reference_trained_as_long(
    kd_bench: Bench, case: DistillCase, row: DistillRow
) -> None:
    """The reference fine-tuned through the KD student's own training (1 epoch, its seed and
    arguments, no teacher) is scored, and the drop below it is over training seeds and val images."""
    tuned = tuned_reference(case.variant, kd_bench.config)
    assert tuned is not None and tuned.source != case.variant.reference().source
    assert row.maps["tuned_reference"] == kd_bench.accuracy(tuned).map50_95
    assert row.maps["kd"] is not None and row.tuned_drop == pytest.approx(
        row.maps["tuned_reference"] - row.maps["kd"]
    )
    assert row.tuned_drop_ci is not None and row.tuned_drop_ci.estimate == pytest.approx(row.tuned_drop)
    flat = row.to_dict()
    assert flat["map50_95_tuned_reference"] == row.maps["tuned_reference"]
    assert flat["tuned_drop"] == row.tuned_drop and flat["tuned_drop_seed_mean"] == row.tuned_drop_ci.estimate


def test_the_tuned_bar_holds_that_drop_to_max_reference_drop(
    kd_bench: Bench, case: DistillCase, row: DistillRow
) -> None:
    bar = _bar(kd_bench, case, row)
    (judged,) = bar.checks
    assert bar.skip is None and judged.interval == row.tuned_drop_ci and judged.name == "kd_tuned_drop"
    crafted = dataclasses.replace(row)
    for low, high, failed in ((0.06, 0.09, True), (-0.01, 0.04, False)):
        crafted.tuned_drop_ci = Interval((low + high) / 2, low, high, 0.95)
        (check,) = _bar(kd_bench, case, crafted).checks
        assert check.failed == failed


def test_the_tuned_bar_says_why_it_was_not_judged(
    kd_bench: Bench, case: DistillCase, row: DistillRow
) -> None:
    off = dataclasses.replace(kd_bench.config.verdicts, tuned_reference=False)
    without = Bench.from_config(dataclasses.replace(kd_bench.config, verdicts=off))
    skip = _bar(without, case, row).skip
    assert skip is not None and "tuned_reference = false" in skip
    no_limit = dataclasses.replace(row, bar=dataclasses.replace(row.bar, max_reference_drop=None))
    skip = _bar(kd_bench, case, no_limit).skip
    assert skip is not None and "no max_reference_drop set" in skip
    no_control = dataclasses.replace(row, tuned_drop_ci=None)
    skip = _bar(kd_bench, case, no_control).skip
    assert skip is not None and "not built from it alone" in skip
