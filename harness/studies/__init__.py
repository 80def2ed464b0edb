"""Studies: one object per technique (pruning, distillation, mixed precision, ablation, verdict
calibration, and any a user registers). See :mod:`harness.studies.base` for the protocol.

A user's study, in a conftest or plugin module::

    from harness.studies import Bar, Study, register_study

    @register_study
    class MyStudy(Study[MyCase, MyRow]):
        name = "my_study"
        ...
"""

from harness.studies.base import GENERIC_FIXTURE, Bar, Case, NotMeasurable, Study
from harness.studies.registry import register_study, registered, study

__all__ = [
    "GENERIC_FIXTURE",
    "Bar",
    "Case",
    "NotMeasurable",
    "Study",
    "register_study",
    "registered",
    "study",
]
