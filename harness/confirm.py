"""A latency FAIL between two loaded models stands only when freshly loaded copies fail it again.

Interleaving cancels the machine's drift between two runners, and the interval covers the noise
of their calls; neither covers an event that hits one comparison as a whole. On a 2-core EPYC,
``harness compare --ab`` of a checkpoint against its own copy (two ONNX Runtime sessions of
identical files, 40 rounds) once measured the copy 0.850x (99 % CI 0.792x-0.911x), a FAIL against
the 5 % limit, in one CI run among many. Sixty such comparisons measured afterwards on the same
machine kind all passed (estimates 0.91x-1.06x), and a pair measured twice did not repeat its
offset (correlation 0.07 across pairs): such events are rare and do not stay with a pair of
runners. Whether the cause is a burst of the host or something a loaded runner carries (where its
weights and buffers landed, how its thread pool sits on the cores), a second measurement on a
fresh load of both tells it from a real slowdown. So every same-run speed check that FAILs
(speedup against the reference, against FP32, against a baseline's artifact, ``compare --ab``) is
measured again on a fresh load of both, with :data:`CONFIRM_ROUNDS` times the first measurement's
rounds, half of them with the candidate loaded first and half with the reference loaded first
(:meth:`harness.bench.Bench.fresh_speedup`: the session loaded first can read slower), and:

- it FAILs when the second measurement FAILs too (a real slowdown does; the message gives both);
- otherwise it is INCONCLUSIVE ("not reproduced"), which the ``[verdicts]`` ``inconclusive``
  policy then passes or fails, as any interval that straddles its limit.

Only FAILs are measured again, so a run without one pays nothing. The verdict calibration
(:mod:`harness.studies.verdict_calibration`, cases "A/A, two loads" and "+10 %, two loads") measures
how often two loads of one model FAIL, and how many real slowdowns still FAIL, before and after
this rule. Why three times the rounds: a second measurement as long as the first must FAIL on its
own, so of 100 injected 10 % slowdowns of two loads (40 rounds, 99 %, a 2-core EPYC) the first
measurement caught 92 and a second one as long confirmed only 84; at 120 rounds all 92 were, while
none of the 3 A/A FAILs of 100 was (the narrower interval no longer straddles a real slowdown, and a
fresh pair does not repeat an offset).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from harness.checks import CheckResult

__all__ = ["CONFIRM_ROUNDS", "confirm_fail"]

CONFIRM_ROUNDS = 3
"""The second measurement of a FAIL times this many times the first's interleaved rounds."""
FRESH = f"measured again on a fresh load of both models ({CONFIRM_ROUNDS}x the rounds)"


def confirm_fail(
    first: CheckResult, again: Callable[[], CheckResult], inconclusive_fails: bool
) -> CheckResult:
    """``first``, or when it FAILed, the verdict after ``again()`` (the same check on freshly
    loaded runners): FAIL if that fails too, else INCONCLUSIVE under ``inconclusive_fails``."""
    if first.verdict != "fail":  # a pass, or an inconclusive that its policy judges already
        return first
    second = again()
    shown = second.interval.describe(3, "x") if second.interval else "not measured"
    if second.verdict == "fail":
        return dataclasses.replace(second, message=f"{second.message}; confirmed: {_first(first)}")
    policy = "fail" if inconclusive_fails else "pass"
    message = f"{first.message}; {FRESH}: {shown}, not reproduced: INCONCLUSIVE (policy: {policy})"
    return dataclasses.replace(first, ok=not inconclusive_fails, inconclusive=True, message=message)


def _first(first: CheckResult) -> str:
    shown = first.interval.describe(3, "x") if first.interval else "not measured"
    return f"the first load measured {shown}, then {FRESH}"
