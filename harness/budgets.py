"""Budgets: parsed limits, the direction of "better" for every metric, and the checks.

A budget table (``[tool.harness.budgets]``) holds defaults; ``[budgets.precision.<p>]``,
``[budgets.pruned]`` (every pruned variant) and ``[budgets.variants."<slug>"]`` tables override
some of its keys (variant beats pruned beats precision beats default). ``min_speedup`` may also be a
table ``{int8 = 1.5, fp16 = 1.2}``, shorthand for ``precision.<p>.min_speedup``.

``max_map_drop`` and ``max_baseline_drop`` are absolute mAP (``0.01``) or relative to the value
they are compared with, as a percentage string (``"1%"``: at most 1 % of the FP32 reference's,
or of the baseline's, mAP50-95; MLPerf's "99 % of FP32" is ``"1%"``).

A check returns a :class:`CheckResult`; ``ok`` is ``None`` when the check could not run
(a value was not measured, no limit is set, or the baseline has another fingerprint).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from harness.errors import ConfigError
from harness.measure.stats import Interval, Verdict, verdict
from harness.validate import Where, check_keys

__all__ = [
    "METRICS",
    "MetricInfo",
    "regression",
    "Budget",
    "BudgetOverride",
    "Budgets",
    "CheckResult",
    "check_map_drop",
    "check_baseline_drop",
    "check_speedup",
    "check_latency_regression",
]


class MetricInfo(NamedTuple):
    """Unit, direction (``None``: neither, e.g. a setting) and human label of a metric."""

    unit: str
    higher_is_better: bool | None
    label: str


METRICS: Mapping[str, MetricInfo] = types.MappingProxyType(
    {
        "map50": MetricInfo("", True, "mAP50"),
        "map50_95": MetricInfo("", True, "mAP50-95"),
        "latency_mean_ms": MetricInfo("ms", False, "latency mean"),
        "latency_std_ms": MetricInfo("ms", False, "latency std"),
        "latency_median_ms": MetricInfo("ms", False, "latency p50"),
        "latency_p90_ms": MetricInfo("ms", False, "latency p90"),
        "latency_p95_ms": MetricInfo("ms", False, "latency p95"),
        "latency_p99_ms": MetricInfo("ms", False, "latency p99"),
        "speedup_vs_reference": MetricInfo("x", True, "speedup vs reference"),
        "speedup_ci_low": MetricInfo("x", True, "speedup CI low"),
        "speedup_ci_high": MetricInfo("x", True, "speedup CI high"),
        "map50_95_drop_ci_low": MetricInfo("", False, "mAP50-95 drop CI low"),
        "map50_95_drop_ci_high": MetricInfo("", False, "mAP50-95 drop CI high"),
        "throughput_ips": MetricInfo("img/s", True, "throughput"),
        "throughput_batch": MetricInfo("images", None, "throughput batch"),
        "params": MetricInfo("count", False, "parameters"),
        "gflops": MetricInfo("GFLOPs", False, "GFLOPs"),
        "file_bytes": MetricInfo("bytes", False, "file size"),
        "peak_memory_mb": MetricInfo("MiB", False, "peak memory"),
    }
)

ACCURACY_METRICS = ("map50", "map50_95")
_SUFFIX = {"speedup_vs_reference": "x"}
_TOLERANCE = 1e-9  # a value exactly at the limit passes despite float rounding


def regression(metric: str, value: float, reference: float) -> float:
    """How much worse ``value`` is than ``reference`` for ``metric`` (negative: better)."""
    info = METRICS.get(metric)
    if info is None or info.higher_is_better is None:
        raise ValueError(f"metric {metric!r} has no direction of better")
    return reference - value if info.higher_is_better else value - reference


DEFAULT_MAX_MAP_DROP = 0.01
DEFAULT_MAX_BASELINE_DROP = 0.005
DEFAULT_MAX_LATENCY_REGRESSION = 0.25
BUDGET_KEYS = ("max_map_drop", "max_baseline_drop", "min_speedup", "max_latency_regression")
RELATIVE_KEYS = ("max_map_drop", "max_baseline_drop")
"""Budget keys that may be written relative to the value they compare with (``"1%"``)."""


@dataclass(frozen=True)
class Budget:
    """The limits that apply to one variant; ``None`` switches a check off."""

    max_map_drop: float | None = DEFAULT_MAX_MAP_DROP
    max_baseline_drop: float | None = DEFAULT_MAX_BASELINE_DROP
    min_speedup: float | None = None
    max_latency_regression: float | None = DEFAULT_MAX_LATENCY_REGRESSION
    relative: frozenset[str] = frozenset()  # keys whose value is a fraction of the compared value

    def __post_init__(self) -> None:
        for name in BUDGET_KEYS:
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"budget {name} must be a finite number >= 0, got {value!r}")
        if not self.relative <= frozenset(RELATIVE_KEYS):
            raise ValueError(f"only {RELATIVE_KEYS} may be relative, got {sorted(self.relative)}")

    def limit(self, key: str, compared: float | None) -> float | None:
        """Budget ``key`` as an absolute limit: a relative one times ``compared`` (the reference's
        or baseline's value; None when that was not measured)."""
        value = getattr(self, key)
        if value is None or key not in self.relative:
            return value
        return None if compared is None else value * abs(compared)

    def shown(self, key: str) -> str:
        """Budget ``key`` as written: ``0.01``, ``1%`` or ``-`` when off."""
        value = getattr(self, key)
        if value is None:
            return "-"
        return f"{value * 100:g}%" if key in self.relative else f"{value:g}"


@dataclass(frozen=True)
class BudgetOverride:
    """Some of a Budget's keys, set by a precision or variant table (``None``: not set)."""

    max_map_drop: float | None = None
    max_baseline_drop: float | None = None
    min_speedup: float | None = None
    max_latency_regression: float | None = None
    relative: frozenset[str] = frozenset()  # keys set here as a percentage

    def apply(self, base: Budget) -> Budget:
        """``base`` with every key set here replaced (relative or absolute as written here)."""
        keys = {k: v for k in BUDGET_KEYS if (v := getattr(self, k)) is not None}
        relative = (base.relative - keys.keys()) | self.relative
        return dataclasses.replace(base, **keys, relative=frozenset(relative))

    def to_mapping(self) -> dict[str, float | str]:
        """The keys that are set, as a TOML-shaped table (relative ones as ``"1%"``)."""
        return {
            k: _percent(v) if k in self.relative else v
            for k in BUDGET_KEYS
            if (v := getattr(self, k)) is not None
        }

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], where: Where) -> BudgetOverride:
        """Parse a table holding any of the budget keys."""
        check_keys(table, BUDGET_KEYS, where)
        limits = {k: _read_limit(v, k, where) for k, v in table.items()}
        relative = frozenset(k for k, v in table.items() if isinstance(v, str))
        return cls(**limits, relative=relative)


def _read_limit(value: object, key: str, where: Where, name: str | None = None) -> float:
    """Budget ``key`` read from ``where.name``: ``min_speedup`` > 0, the others >= 0; the keys of
    :data:`RELATIVE_KEYS` also as a percentage string ``"1%"`` (returned as the fraction 0.01)."""
    name = name or key
    if isinstance(value, str) and key in RELATIVE_KEYS:
        return _read_percent(value, where, name)
    number = where.number(value, name, 0.0)
    if key == "min_speedup" and number == 0.0:
        raise where.error(name, "a number > 0", value)
    return number


def _percent(fraction: float) -> str:
    """0.01 -> ``"1%"``: a relative limit as written in a config."""
    return f"{fraction * 100:.12g}%"


def _read_percent(text: str, where: Where, name: str) -> float:
    """``"1%"`` -> 0.01; a percentage in [0, 100]."""
    expected = 'an absolute mAP drop (0.01) or a percentage of the compared value ("1%")'
    if not text.strip().endswith("%"):
        raise where.error(name, expected, text)
    try:
        percent = float(text.strip()[:-1])
    except ValueError:
        raise where.error(name, expected, text) from None
    if not (math.isfinite(percent) and 0.0 <= percent <= 100.0):
        raise where.error(name, "a percentage in [0%, 100%]", text)
    return percent / 100.0


Overrides = tuple[tuple[str, BudgetOverride], ...]


@dataclass(frozen=True)
class Budgets:
    """Default budget plus per-precision and per-variant overrides (sorted by key)."""

    default: Budget = Budget()
    precision: Overrides = ()
    variants: Overrides = ()
    pruned: BudgetOverride = BudgetOverride()

    def for_variant(self, slug: str, precision: str, pruned: bool = False) -> Budget:
        """The budget for one variant: default < precision < pruned (if pruned) < variant override."""
        budget = dict(self.precision).get(precision, BudgetOverride()).apply(self.default)
        if pruned:
            budget = self.pruned.apply(budget)
        return dict(self.variants).get(slug, BudgetOverride()).apply(budget)

    def unknown_variants(self, slugs: Iterable[str]) -> tuple[str, ...]:
        """Variant slugs that have an override table but are not in ``slugs`` (typos)."""
        known = set(slugs)
        return tuple(slug for slug, _ in self.variants if slug not in known)

    def check_variants(self, slugs: Collection[str], source: str) -> None:
        """Raise ConfigError when a ``[budgets.variants."<id>"]`` table names no variant of the
        matrix (``slugs``), with the nearest ids: such a table would otherwise never apply."""
        unknown = self.unknown_variants(slugs)
        if not unknown:
            return
        slug = unknown[0]
        near = difflib.get_close_matches(slug, list(slugs), n=3, cutoff=0.5)
        hint = f"; nearest: {', '.join(near)}" if near else f"; the matrix has {len(slugs)} variants"
        raise ConfigError(
            f'budgets.variants."{slug}" in {source} names no variant of the matrix{hint}'
            + (f" ({len(unknown) - 1} more unknown)" if len(unknown) > 1 else "")
        )

    def to_mapping(self) -> dict[str, object]:
        """A TOML-shaped table that :meth:`from_mapping` parses back to an equal object."""
        default = self.default
        out: dict[str, object] = {
            k: _percent(v) if k in default.relative else v
            for k in BUDGET_KEYS
            if (v := getattr(default, k)) is not None
        }
        out["precision"] = {k: o.to_mapping() for k, o in self.precision}
        out["variants"] = {k: o.to_mapping() for k, o in self.variants}
        out["pruned"] = self.pruned.to_mapping()
        return out

    @classmethod
    def from_mapping(
        cls,
        mapping: Mapping[str, object],
        source: str,
        prefix: str = "budgets",
        precisions: Collection[str] | None = None,
    ) -> Budgets:
        """Parse a budgets table; errors name ``source`` and the dotted key under ``prefix``.

        ``precisions`` (if given) restricts the keys of ``precision`` and of a
        ``min_speedup`` table; unset default keys keep the module defaults.
        """
        where = Where(source, prefix)
        check_keys(mapping, (*BUDGET_KEYS, "precision", "variants", "pruned"), where)
        scalars = {k: v for k, v in mapping.items() if k in BUDGET_KEYS}
        speedups = scalars.get("min_speedup")
        if isinstance(speedups, Mapping):
            del scalars["min_speedup"]
        default = BudgetOverride.from_mapping(scalars, where).apply(Budget())
        precision = _read_overrides(mapping, "precision", where, precisions)
        if isinstance(speedups, Mapping):
            precision = _add_speedups(precision, speedups, where, precisions)
        variants = _read_overrides(mapping, "variants", where, None)
        pruned = BudgetOverride.from_mapping(
            where.table(mapping.get("pruned", {}), "pruned"), where.child("pruned")
        )
        return cls(default, precision, variants, pruned)


def _read_overrides(
    mapping: Mapping[str, object], key: str, where: Where, names: Collection[str] | None
) -> Overrides:
    """Parse ``mapping[key]`` = ``{name: {budget keys}}``; names limited to ``names`` if given."""
    table = where.table(mapping.get(key, {}), key)
    inner = where.child(key)
    overrides: dict[str, BudgetOverride] = {}
    for name, sub in table.items():
        if names is not None:
            inner.choice(name, name, names)
        overrides[name] = BudgetOverride.from_mapping(inner.table(sub, name), inner.child(name))
    return tuple(sorted(overrides.items()))


def _add_speedups(
    precision: Overrides, speedups: Mapping[str, object], where: Where, names: Collection[str] | None
) -> Overrides:
    """Merge a ``min_speedup = {p = x}`` table into the per-precision overrides."""
    merged = dict(precision)
    table_where = where.child("min_speedup")
    for name, value in speedups.items():
        if names is not None:
            table_where.choice(name, name, names)
        current = merged.get(name, BudgetOverride())
        if current.min_speedup is not None:
            raise ConfigError(
                f"{table_where.key(name)} in {where.source}: min_speedup for '{name}' is also set "
                f"in {where.key('precision')}.{name}; set it in one place"
            )
        limit = _read_limit(value, "min_speedup", table_where, name)
        merged[name] = dataclasses.replace(current, min_speedup=limit)
    return tuple(sorted(merged.items()))


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

    @property
    def failed(self) -> bool:
        """True only for a check that ran and exceeded its limit."""
        return self.ok is False


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
) -> CheckResult:
    """mAP50-95 drop of ``variant`` against the same run's FP32 reference (absolute).

    With ``interval`` (of the drop, e.g. a paired bootstrap over val images) the check fails only
    when the whole interval exceeds the limit; see :meth:`_Partial.judged`.
    """
    limit = budget.limit("max_map_drop", reference)
    what = f"{variant}: mAP50-95 drop vs FP32 reference"
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
        self, ok: bool | None, message: str, interval: Interval | None = None, inconclusive: bool = False
    ) -> CheckResult:
        """The finished CheckResult."""
        return CheckResult(
            self.name,
            ok,
            self.variant,
            self.metric,
            self.value,
            self.limit,
            self.reference,
            self.baseline,
            message,
            interval,
            inconclusive,
        )

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
        if outcome is Verdict.INCONCLUSIVE:
            policy = "fail" if inconclusive_fails else "pass"
            message = f"{message}: INCONCLUSIVE (policy: {policy})"
            return self.done(not inconclusive_fails, message, interval, True)
        return self.done(outcome is Verdict.PASS, message, interval)
