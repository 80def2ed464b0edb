"""The study protocol: one object per technique, from its config table to its report rows.

A study has a name (its key in results.json ``studies``), the config table it reads, the cases
it parametrizes (each with a ``slug``: the pytest id), how to measure a case (pytest-free, on a
:class:`~harness.bench.Bench`), the rows it records, the bars it checks a case against (each bar
gives :class:`~harness.checks.CheckResult` verdicts, or says why it was not judged) and how its
rows render: a report module of its own for the harness's studies, else a generic table from
:attr:`Study.layout`. Register a study with :func:`harness.studies.register_study`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TypeVar

from harness.checks import CheckResult
from harness.results import StudyLayout

if TYPE_CHECKING:
    from harness.bench import Bench

__all__ = ["GENERIC_FIXTURE", "Bar", "Case", "NotMeasurable", "Study"]

GENERIC_FIXTURE = "study_case"
"""The pytest argument of ``suites/test_studies.py``: every study that names no fixture of its own."""


class Case(Protocol):
    """What a study parametrizes: anything with a ``slug`` (the pytest id)."""

    @property
    def slug(self) -> str:
        """The case's pytest id, e.g. ``yolo11n-p30-l1``."""
        ...


class NotMeasurable(Exception):
    """This case cannot be measured on this config or machine; the message says why (a skip)."""


@dataclass(frozen=True)
class Bar:
    """One bar of a study for one case: its verdicts, or why it was not judged (``skip``)."""

    name: str
    checks: tuple[CheckResult, ...] = ()
    skip: str | None = None

    @classmethod
    def skipped(cls, name: str, reason: str) -> Bar:
        """A bar that was not judged, with the reason."""
        return cls(name, (), reason)


CaseT = TypeVar("CaseT", bound=Case)
RowT = TypeVar("RowT")


class Study(ABC, Generic[CaseT, RowT]):
    """A technique the harness measures: subclass it, set the class attributes, register it.

    ``name`` keys results.json ``studies``; ``table`` names the config table it reads (``None``:
    none); ``fixture`` is the pytest argument its cases parametrize (its own suite's), by default
    the generic suite's ``study_case``; ``empty`` says why a run has no case; ``layout`` is how
    the report renders its rows when no report module of the harness does.
    """

    name: ClassVar[str]
    table: ClassVar[str | None] = None
    fixture: ClassVar[str] = GENERIC_FIXTURE
    empty: ClassVar[str] = "no cases in this run's matrix"
    layout: ClassVar[StudyLayout | None] = None

    @abstractmethod
    def cases(self, bench: Bench) -> Sequence[CaseT]:
        """The cases of this run (cheap: nothing is built)."""

    @abstractmethod
    def measure(self, bench: Bench, case: CaseT) -> RowT:
        """Build what the case needs and measure it; :class:`NotMeasurable` when it cannot be."""

    @abstractmethod
    def rows(self, bench: Bench, row: RowT) -> list[dict[str, object]]:
        """The JSON-ready rows it adds to results.json ``studies[name]``."""

    @abstractmethod
    def bars(self, bench: Bench, case: CaseT, row: RowT) -> list[Bar]:
        """The case's bars, each with its verdicts or the reason it was not judged."""

    def settings(self, bench: Bench) -> Mapping[str, object]:
        """This study's ``[studies.<name>]`` table of the config (empty when absent); read typed
        values through ``bench.config.studies.where(self.name)`` for errors that name the key."""
        return bench.config.studies.table(self.name)

    def summary(self, case: CaseT, row: RowT) -> str | None:
        """One terminal-summary line for the case (``None``: none)."""
        return None
