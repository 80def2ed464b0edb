"""Budget checks: each turns measured values, a limit and (where measured) an interval into a
:class:`CheckResult` that names variant, metric, value, limit and baseline.

``ok`` is ``None`` when the check could not run (a value was not measured, no limit is set, or
the baseline has another fingerprint). Interval checks fail only when the whole interval lies on
the wrong side of the limit; one that straddles it is INCONCLUSIVE and passes or fails by policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.config.budgets import Budget
from harness.measure.power import deciding_size, detectable_drop
from harness.measure.stats import Interval, Verdict, verdict
from harness.metrics import ACCURACY_METRICS, METRICS, regression

__all__ = [
    "CheckResult",
    "check_baseline_drop",
    "check_baseline_speed",
    "check_bound",
    "check_fp32_speed",
    "check_interval_bound",
    "check_latency_regression",
    "check_map_drop",
    "check_speedup",
]

_SUFFIX = {"speedup_vs_reference": "x", "speedup_vs_fp32": "x", "speedup_vs_baseline": "x"}
_TOLERANCE = 1e-9  # a value exactly at the limit passes despite float rounding


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one budget check; ``ok`` None means it could not run (see message)."""

    name: str
    ok: bool | None
    variant: str
    metric: str
    value: float | None
    limit: float | None
    reference: float | None
    baseline: float | None
    message: str
    interval: Interval | None = None
    inconclusive: bool = False
    waived: str | None = None  # the configured reason, when a waiver turned this check off
    detectable: float | None = None  # accuracy drop checks: the smallest drop that would FAIL
    deciding_n: int | None = None  # inconclusive accuracy checks: about this many units decide
    deciding_unit: str | None = None  # what deciding_n counts: val images, or training seeds

    @property
    def failed(self) -> bool:
        """True only for a check that ran and exceeded its limit."""
        return self.ok is False

    @property
    def verdict(self) -> str:
        """``waived``, ``inconclusive``, ``pass``, ``fail`` or ``not checked``."""
        if self.waived is not None:
            return "waived"
        if self.inconclusive:
            return "inconclusive"
        return {True: "pass", False: "fail", None: "not checked"}[self.ok]


def _fmt(value: float | None, digits: int = 4) -> str:
    """A number for a message; ``-`` for a value that was not measured."""
    return "-" if value is None else f"{value:.{digits}f}"


def _missing(**values: float | None) -> str:
    """Why a check cannot run: the first input that is None, or ``""``."""
    for name, value in values.items():
        if value is None:
            return "no limit set" if name == "limit" else f"{name} not measured"
    return ""


def check_map_drop(
    budget: Budget,
    variant: str,
    value: float | None,
    reference: float | None,
    baseline: float | None = None,
    interval: Interval | None = None,
    inconclusive_fails: bool = False,
    against: str = "FP32 reference",
) -> CheckResult:
    """mAP50-95 drop of ``variant`` against the same run's FP32 reference (absolute; ``against``
    names another subject, e.g. the OLD model of an A/B).

    With ``interval`` (of the drop, e.g. a paired bootstrap over val images) the check fails only
    when the whole interval exceeds the limit; see :meth:`_Partial.judged`.
    """
    limit = budget.limit("max_map_drop", reference)
    what = f"{variant}: mAP50-95 drop vs {against}"
    if "max_map_drop" in budget.relative:
        what = f"{what} (limit {budget.shown('max_map_drop')} of the reference)"
    context = f"(value {_fmt(value)}, reference {_fmt(reference)}, baseline {_fmt(baseline)})"
    result = _Partial("map_drop", variant, "map50_95", value, limit, reference, baseline)
    if value is None or reference is None or limit is None:
        skip = _missing(value=value, reference=reference, limit=limit)
        return result.done(None, f"{what} not checked: {skip} {context}")
    if interval is not None:
        return result.judged(interval, False, inconclusive_fails, what, context)
    drop = regression("map50_95", value, reference)
    ok = drop <= limit + _TOLERANCE
    return result.done(ok, f"{what} {drop:.4f} {'<=' if ok else '>'} limit {limit:.4f} {context}")


def check_baseline_drop(
    budget: Budget,
    variant: str,
    value: float | None,
    baseline: float | None,
    metric: str = "map50_95",
) -> CheckResult:
    """Accuracy drop (absolute) of ``variant`` against its stored baseline."""
    if metric not in ACCURACY_METRICS:
        raise ValueError(f"baseline drop is defined for {ACCURACY_METRICS}, not {metric!r}")
    limit = budget.limit("max_baseline_drop", baseline)
    label = METRICS[metric].label
    what = f"{variant}: {label} drop vs baseline"
    if "max_baseline_drop" in budget.relative:
        what = f"{what} (limit {budget.shown('max_baseline_drop')} of the baseline)"
    context = f"(value {_fmt(value)}, baseline {_fmt(baseline)})"
    result = _Partial("baseline_drop", variant, metric, value, limit, None, baseline)
    if value is None or baseline is None or limit is None:
        skip = _missing(value=value, baseline=baseline, limit=limit)
        return result.done(None, f"{what} not checked: {skip} {context}")
    drop = regression(metric, value, baseline)
    ok = drop <= limit + _TOLERANCE
    return result.done(ok, f"{what} {drop:.4f} {'<=' if ok else '>'} limit {limit:.4f} {context}")


def check_speedup(
    budget: Budget,
    variant: str,
    speedup: float | None,
    reference: float | None = None,
    baseline: float | None = None,
    interval: Interval | None = None,
    inconclusive_fails: bool = False,
) -> CheckResult:
    """Same-run speedup over the reference against ``min_speedup``.

    ``reference`` is the reference latency (ms) and ``baseline`` the stored speedup; both
    only appear in the message. With ``interval`` (of the speedup, from the interleaved blocks)
    the check fails only when the whole interval is below the limit.
    """
    limit = budget.min_speedup
    what = f"{variant}: speedup vs reference"
    context = f"(value {_fmt(speedup)}, reference latency {_fmt(reference)} ms, baseline {_fmt(baseline)})"
    result = _Partial("min_speedup", variant, "speedup_vs_reference", speedup, limit, reference, baseline)
    if speedup is None or limit is None:
        skip = _missing(speedup=speedup, limit=limit)
        return result.done(None, f"{what} not checked: {skip} {context}")
    if interval is not None:
        return result.judged(interval, True, inconclusive_fails, what, context)
    ok = speedup >= limit - _TOLERANCE
    sign = ">=" if ok else "<"
    return result.done(ok, f"{what} {speedup:.2f}x {sign} limit {limit:.2f}x {context}")


def check_fp32_speed(
    budget: Budget,
    variant: str,
    ratio: float | None,
    fp32_latency: float | None,
    interval: Interval | None = None,
    not_gated: str = "",
    inconclusive_fails: bool = False,
) -> CheckResult:
    """Speed of a low-precision variant against the FP32 variant of its own backend, timed
    interleaved in the same run: at least ``min_speedup_vs_fp32`` (1.0: not slower).

    ``not_gated`` says why this precision is reported but not gated here (for example FP16 on a
    CPU without FP16 arithmetic); the check then does not run. With ``interval`` (of the ratio)
    it fails only when the whole interval is below the limit.
    """
    limit = budget.min_speedup_vs_fp32
    what = f"{variant}: speed vs FP32 on its own backend"
    context = f"(value {_fmt(ratio, 3)}x, FP32 latency {_fmt(fp32_latency, 3)} ms)"
    result = _Partial("fp32_speed", variant, "speedup_vs_fp32", ratio, limit, fp32_latency, None)
    if ratio is None or limit is None or not_gated:
        skip = not_gated or _missing(ratio=ratio, limit=limit)
        return result.done(None, f"{what} not gated: {skip} {context}")
    if interval is not None:
        return result.judged(interval, True, inconclusive_fails, what, context)
    ok = ratio >= limit - _TOLERANCE
    return result.done(ok, f"{what} {ratio:.3f}x {'>=' if ok else '<'} limit {limit:.2f}x {context}")


def check_baseline_speed(
    budget: Budget,
    variant: str,
    interval: Interval | None,
    how: str,
    baseline_latency: float | None = None,
    inconclusive_fails: bool = False,
) -> CheckResult:
    """Speed of ``variant`` against its stored baseline as a same-run ratio (baseline latency /
    this latency, with its interval): at least ``1 / (1 + max_latency_regression)``.

    ``how`` says how the ratio was measured: the baseline's own artifact timed interleaved with
    this one (on whatever machine the job runs), or, weaker, this run's speedup against the
    reference over the one stored with the baseline. It fails only when the whole interval lies
    below the limit.
    """
    regression = budget.max_latency_regression
    limit = None if regression is None else 1.0 / (1.0 + regression)
    what = f"{variant}: speed vs baseline ({how})"
    value = interval.estimate if interval else None
    context = f"(limit = at most {regression:.0%} slower)" if regression is not None else ""
    result = _Partial(
        "latency_regression", variant, "speedup_vs_baseline", value, limit, None, baseline_latency
    )
    if interval is None or limit is None:
        skip = "no limit set" if limit is None else "not measured"
        return result.done(None, f"{what} not checked: {skip} {context}")
    return result.judged(interval, True, inconclusive_fails, what, context)


def check_latency_regression(
    budget: Budget,
    variant: str,
    latency: float | None,
    baseline_latency: float | None,
    same_fingerprint: bool,
    metric: str = "latency_median_ms",
) -> CheckResult:
    """Relative latency increase against the stored baseline of the same fingerprint only."""
    limit = budget.max_latency_regression
    what = f"{variant}: {METRICS[metric].label} regression vs baseline"
    context = f"(value {_fmt(latency, 3)} ms, baseline {_fmt(baseline_latency, 3)} ms)"
    result = _Partial("latency_regression", variant, metric, latency, limit, None, baseline_latency)
    if latency is None or baseline_latency is None or limit is None:
        skip = _missing(latency=latency, baseline=baseline_latency, limit=limit)
    elif not same_fingerprint:
        skip = "baseline was measured on another fingerprint"
    elif baseline_latency <= 0:
        skip = "baseline latency is not positive"
    else:
        ratio = regression(metric, latency, baseline_latency) / baseline_latency
        ok = ratio <= limit + _TOLERANCE
        sign = "<=" if ok else ">"
        return result.done(ok, f"{what} {ratio:+.1%} {sign} limit {limit:.1%} {context}")
    return result.done(None, f"{what} not checked: {skip} {context}")


@dataclass(frozen=True)
class _Partial:
    """The inputs of a check, waiting for its verdict."""

    name: str
    variant: str
    metric: str
    value: float | None
    limit: float | None
    reference: float | None
    baseline: float | None

    def done(
        self,
        ok: bool | None,
        message: str,
        interval: Interval | None = None,
        inconclusive: bool = False,
        power: tuple[float | None, int | None] = (None, None),
    ) -> CheckResult:
        """The finished CheckResult (``power``: minimum detectable drop and deciding val size)."""
        return CheckResult(
            self.name, ok, self.variant, self.metric, self.value, self.limit, self.reference,
            self.baseline, message, interval, inconclusive, None, *power,
            interval.unit if interval is not None and power[1] is not None else None,
        )  # fmt: skip

    def judged(
        self, interval: Interval, higher_is_better: bool, inconclusive_fails: bool, what: str, context: str
    ) -> CheckResult:
        """Verdict from an interval: fail only when it lies wholly on the wrong side of the limit."""
        if self.limit is None:
            raise ValueError("judged() needs a limit")
        outcome = verdict(interval, self.limit, higher_is_better)
        shown = interval.describe(4 if self.metric in ACCURACY_METRICS else 3, _SUFFIX.get(self.metric, ""))
        side = {Verdict.PASS: "within", Verdict.FAIL: "beyond", Verdict.INCONCLUSIVE: "straddles"}[outcome]
        message = f"{what} {shown} {side} limit {self.limit:.4g} {context}"
        power = self._power(interval, outcome, higher_is_better)
        if power[0] is not None:
            message = f"{message}; minimum detectable drop {power[0]:.4f} at {interval.n} {interval.unit}"
        if outcome is Verdict.INCONCLUSIVE:
            policy = "fail" if inconclusive_fails else "pass"
            size = f"; about {power[1]} {interval.unit} would decide it" if power[1] else ""
            message = f"{message}: INCONCLUSIVE (policy: {policy}){size}"
            return self.done(not inconclusive_fails, message, interval, True, power)
        return self.done(outcome is Verdict.PASS, message, interval, power=power)

    def _power(
        self, interval: Interval, outcome: Verdict, higher_is_better: bool = False
    ) -> tuple[float | None, int | None]:
        """An accuracy check's minimum detectable drop (drops only: a bound from above) and, when
        inconclusive, its deciding size in the interval's units."""
        if self.metric not in ACCURACY_METRICS or self.limit is None or interval.n is None:
            return None, None
        deciding = deciding_size(interval, self.limit) if outcome is Verdict.INCONCLUSIVE else None
        return (None if higher_is_better else detectable_drop(interval, self.limit)), deciding


def check_bound(
    name: str,
    subject: str,
    what: str,
    value: float | None,
    limit: float | None,
    at_most: bool,
    context: str = "",
    digits: int = 4,
    required: bool = False,
) -> CheckResult:
    """A study's bar on one figure without an interval: ``value`` at most (or at least) ``limit``.

    ``what`` names the figure (``"graph + pruning seconds"``); ``context`` adds the figures it was
    computed from. A missing value or limit gives a check that could not run (``ok`` None), or a
    failed one when the value is ``required``.
    """
    shown = f"{subject}: {what}"
    tail = f" ({context})" if context else ""
    result = _Partial(name, subject, name, value, limit, None, None)
    if value is None or limit is None:
        failed = False if required and value is None else None
        return result.done(failed, f"{shown} not checked: {_missing(value=value, limit=limit)}{tail}")
    ok = value <= limit + _TOLERANCE if at_most else value >= limit - _TOLERANCE
    sign = ("<=" if ok else ">") if at_most else (">=" if ok else "<")
    bound = "max" if at_most else "min"
    message = f"{shown} {value:.{digits}f} {sign} {bound} {limit:.{digits}f}{tail}"
    return result.done(ok, message)


def check_interval_bound(
    name: str,
    subject: str,
    what: str,
    interval: Interval | None,
    limit: float | None,
    at_most: bool,
    context: str = "",
    inconclusive_fails: bool = False,
) -> CheckResult:
    """A study's bar on an mAP50-95 difference measured with an interval (over training seeds and
    val images, :mod:`harness.replicates`): ``interval`` at most (or at least) ``limit``.

    Like every interval check it fails only when the whole interval lies on the wrong side of the
    limit; an interval that straddles it is INCONCLUSIVE, with how many units (seeds) would decide
    it. A difference that was not measured fails (the bar is required)."""
    tail = f"({context})" if context else ""
    estimate = interval.estimate if interval is not None else None
    result = _Partial(name, subject, "map50_95", estimate, limit, None, None)
    if interval is None or limit is None:
        message = f"{subject}: {what} not checked: {_missing(value=estimate, limit=limit)} {tail}"
        return result.done(False if interval is None else None, message)
    return result.judged(interval, not at_most, inconclusive_fails, f"{subject}: {what}", tail)
