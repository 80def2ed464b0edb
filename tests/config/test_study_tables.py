"""The ``[studies]`` table: each registered study's settings, with errors naming file and key."""

from __future__ import annotations

import pytest

from harness.config.reader import Where
from harness.config.studies import StudyTables
from harness.errors import ConfigError

WHERE = Where("harness.toml")


def test_each_study_reads_its_own_table() -> None:
    tables = StudyTables.from_mapping({"mine": {"limit": 3}}, WHERE)
    assert tables.table("mine") == {"limit": 3}
    assert tables.table("other") == {}
    assert tables.where("mine").key("limit") == "studies.mine.limit"


def test_a_study_entry_must_be_a_table() -> None:
    with pytest.raises(ConfigError, match=r"studies\.mine in harness\.toml: expected a table, got 3"):
        StudyTables.from_mapping({"mine": 3}, WHERE)


def test_an_unknown_study_name_suggests_the_closest() -> None:
    tables = StudyTables.from_mapping({"prunning": {}}, WHERE)
    with pytest.raises(
        ConfigError, match=r"unknown study 'studies\.prunning' in harness\.toml; did you mean 'pruning'"
    ):
        tables.check_names(["pruning", "mine"])
    StudyTables.from_mapping({"mine": {}}, WHERE).check_names(["pruning", "mine"])  # known: no error


def test_an_empty_study_table_is_still_present() -> None:
    from harness.config.reader import Where
    from harness.config.studies import StudyTables

    tables = StudyTables.from_mapping({"qat": {}}, Where("harness.toml"))
    assert tables.has("qat") and not tables.has("class_imbalance") and tables.table("qat") == {}


def test_read_parses_a_present_table_and_gives_none_for_an_absent_one() -> None:
    from harness.config.reader import Where
    from harness.config.studies import StudyTables

    tables = StudyTables((("qat", {"epochs": 3}),), Where("harness.toml", "studies"))
    assert tables.read("qat", lambda table, where: (dict(table), where.key("epochs"))) == (
        {"epochs": 3}, "studies.qat.epochs")  # fmt: skip
    assert tables.read("tflite", lambda table, where: 1) is None
