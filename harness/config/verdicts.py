"""The ``[verdicts]`` config table: how confident a budget verdict must be, and what
"inconclusive" means for the gate::

    [verdicts]
    latency_confidence = 0.99   # two-sided interval of the same-run speedup (interleaved pairs, Student t)
    accuracy_confidence = 0.95  # two-sided paired bootstrap interval of the mAP50-95 drop
    accuracy_resamples = 1000   # bootstrap draws over the val images
    inconclusive = "pass"       # an interval straddling its limit: "pass" (reported) or "fail"
    calibration_trials = 0      # suites/test_verdicts.py: A/A and injected-slowdown trials per model
    training_seeds = 2          # claims about training outcomes are decided on this many seeds
    tuned_reference = false     # also judge trained variants against the reference trained as long

A budget fails only when its whole interval lies on the wrong side of the limit; when the
interval straddles the limit the verdict is *inconclusive*, printed as such, and ``inconclusive``
decides whether the test passes.

``training_seeds``: a claim about a training outcome (KD against its control or its reference, a
pruned and fine-tuned model against its reference, the ablation's +KD, +Pruning, +Multi-scale
training and All combined rows) trains each model it compares that this run trains (not a fixed
ancestor such as the reference a model was pruned from) at this many seeds (``seed``, ``seed + 1``,
...) and is judged on the interval of the mean difference over seeds and val images
(:mod:`harness.measure.seeds`). Each extra seed repeats those trainings: on the default profile
4 min 59 s of training on a 2-core Xeon. One seed judges on the val images alone (seed luck unmeasured).

``tuned_reference``: a pruned variant fine-tuned N epochs, or a distilled student, had training
the reference never had; on a reference that has not converged, that training alone lifts mAP and
hides what pruning cost. When set, the pruning study and the recommendation also judge such a
variant against the reference trained through the same stages with the same arguments and seeds
(:mod:`harness.tuned`): one more training per stage and training seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness.config.reader import Where, check_keys

__all__ = ["INCONCLUSIVE_POLICIES", "VERDICT_KEYS", "VerdictSpec"]

VERDICT_KEYS = (
    "latency_confidence", "accuracy_confidence", "accuracy_resamples", "inconclusive",
    "calibration_trials", "training_seeds", "tuned_reference",
)  # fmt: skip
INCONCLUSIVE_POLICIES = ("pass", "fail")


@dataclass(frozen=True)
class VerdictSpec:
    """Interval levels and the inconclusive policy (see the module docstring)."""

    latency_confidence: float = 0.99
    accuracy_confidence: float = 0.95
    accuracy_resamples: int = 1000
    inconclusive: str = "pass"
    calibration_trials: int = 0
    training_seeds: int = 2
    tuned_reference: bool = False

    def __post_init__(self) -> None:
        for name in ("latency_confidence", "accuracy_confidence"):
            if not 0.5 <= getattr(self, name) < 1.0:
                raise ValueError(f"verdicts.{name} must be in [0.5, 1), got {getattr(self, name)}")
        if self.training_seeds < 1:
            raise ValueError(f"verdicts.training_seeds must be >= 1, got {self.training_seeds}")
        if self.inconclusive not in INCONCLUSIVE_POLICIES:
            raise ValueError(f"verdicts.inconclusive must be one of {INCONCLUSIVE_POLICIES}")

    @property
    def inconclusive_fails(self) -> bool:
        """Whether an inconclusive verdict fails its test."""
        return self.inconclusive == "fail"

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], where: Where) -> VerdictSpec:
        """Parse ``[verdicts]``; absent keys keep their defaults."""
        check_keys(table, VERDICT_KEYS, where)
        fields: dict[str, object] = {}
        for key in ("latency_confidence", "accuracy_confidence"):
            if key in table:
                value = where.number(table[key], key, 0.5, 1.0)
                if value >= 1.0:
                    raise where.error(key, "a confidence level in [0.5, 1)", table[key])
                fields[key] = value
        if "accuracy_resamples" in table:
            fields["accuracy_resamples"] = where.integer(
                table["accuracy_resamples"], "accuracy_resamples", 100
            )
        if "calibration_trials" in table:
            fields["calibration_trials"] = where.integer(table["calibration_trials"], "calibration_trials", 0)
        if "training_seeds" in table:
            fields["training_seeds"] = where.integer(table["training_seeds"], "training_seeds", 1)
        if "tuned_reference" in table:
            if not isinstance(table["tuned_reference"], bool):
                raise where.error("tuned_reference", "true or false", table["tuned_reference"])
            fields["tuned_reference"] = table["tuned_reference"]
        if "inconclusive" in table:
            fields["inconclusive"] = where.choice(
                table["inconclusive"], "inconclusive", INCONCLUSIVE_POLICIES
            )
        return cls(**fields)  # type: ignore[arg-type]
