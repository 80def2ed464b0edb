"""Latency statistics and interleaving (no timing assertions: those belong in the suites)."""

from __future__ import annotations

from collections.abc import Callable
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.measure.latency import Interleaved, LatencySummary, interleave

samples = st.lists(st.floats(min_value=1e-5, max_value=1.0), min_size=2, max_size=200)


@given(samples)
def test_summary_percentiles_are_ordered(xs: list[float]) -> None:
    s = LatencySummary.from_seconds(xs)
    assert min(xs) * 1e3 - 1e-9 <= s.median_ms <= s.p90_ms <= s.p95_ms <= s.p99_ms <= max(xs) * 1e3 + 1e-9
    assert s.samples == len(xs)
    assert np.isclose(s.mean_ms, np.mean(xs) * 1e3)


@settings(deadline=None)  # the first interval imports scipy
@given(samples, st.floats(min_value=0.1, max_value=10))
def test_speedup_is_the_centre_of_its_interval(ref: list[float], factor: float) -> None:
    cand = tuple(x / factor for x in ref)
    timed = Interleaved(cand, tuple(ref))
    assert np.isclose(timed.speedup, factor)
    interval = timed.interval()
    if interval is not None:
        assert interval.low <= timed.speedup <= interval.high and timed.speedup == interval.estimate


def test_speedup_inside_its_interval_under_regime_noise() -> None:
    """Pairs timed in a slow regime (20 ms) and a fast one (10 ms): the speedup is the pairs' centre."""
    ref = (10.0, 10.0, 20.0, 20.0, 20.0, 10.0)
    cand = (9.0, 9.5, 18.0, 19.0, 18.5, 9.2)
    timed = Interleaved(cand, ref)
    interval = timed.interval()
    assert interval is not None and interval.low <= timed.speedup <= interval.high
    assert timed.speedup == interval.estimate


def test_interleave_alternates_blocks_and_counts() -> None:
    order: list[str] = []
    result = interleave(lambda: order.append("c"), lambda: order.append("r"), rounds=3, warmup=1, block=2)
    # warm-up pair, then ABBA blocks of n timed calls (n = 2, then 1), each after one untimed
    # call unless the block before was the same model's
    assert "".join(order) == "cr" + "ccc" + "rrr" + "r" + "cc"
    assert len(result.candidate_s) == len(result.reference_s) == 3


def test_every_timed_call_follows_a_call_of_its_own_model() -> None:
    calls: list[str] = []
    timed: list[int] = []

    def record(name: str) -> None:
        calls.append(name)

    def fake_time(fn: Callable[[], object]) -> float:
        timed.append(len(calls))
        fn()
        return 1.0

    with patch("harness.measure.latency.time_call", fake_time):
        interleave(lambda: record("c"), lambda: record("r"), rounds=6, warmup=0)
    assert all(i > 0 and calls[i - 1] == calls[i] for i in timed)
    assert len(calls) == 6 * 3 + 1  # three calls a round (two timed), plus the first warm-up


def test_same_call_as_both_sides_gets_the_same_warm_ups() -> None:
    """An A/A check passes one function twice; it is interleaved exactly like two models."""
    calls: list[int] = []

    def call() -> None:
        calls.append(1)

    interleave(call, call, rounds=6, warmup=0)
    assert len(calls) == 6 * 3 + 1


def test_round_robin_times_every_call_in_rotating_turns() -> None:
    from harness.measure.latency import round_robin

    order: list[str] = []
    calls = {name: (lambda n=name: order.append(n)) for name in ("a", "b", "c")}
    timed = round_robin(calls, rounds=3, warmup=1, block=2)
    assert {k: len(v) for k, v in timed.items()} == {"a": 6, "b": 6, "c": 6}
    assert order[:3] == ["a", "b", "c"]  # warm-up, one each
    turns = order[3:]
    firsts = [turns[i] for i in range(0, len(turns), 9)]  # each round: 3 models x (1 untimed + 2 timed)
    assert firsts == ["a", "b", "c"]  # the order rotates every round


def test_every_switch_of_model_settles_first(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.measure import latency

    events: list[str] = []
    monkeypatch.setattr(latency, "settle", lambda: events.append("settle"))
    latency.interleave(lambda: events.append("a"), lambda: events.append("b"), rounds=4, warmup=0)
    # ABBA: a block starts with a settle and an untimed call only where the model changes
    assert events[:6] == ["settle", "a", "a", "settle", "b", "b"]
    # rounds: a|b, then b|a (b continues: no settle), a|b (a continues), b|a: five switches
    assert events.count("settle") == 5  # and an untimed call after each: a 4 timed + 3, b 4 timed + 2
    assert (events.count("a"), events.count("b")) == (7, 6)
    assert latency.SETTLE_S >= 0.005


def test_screen_ms_is_each_calls_round_robin_median_in_ms() -> None:
    from harness.measure.latency import screen_ms

    ms = screen_ms({"a": lambda: None, "b": lambda: None}, rounds=3, warmup=0)
    assert set(ms) == {"a", "b"} and all(0.0 <= v < 50.0 for v in ms.values())


def test_both_orders_loads_each_pair_the_other_way_and_cancels_a_load_order_offset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A/A sessions where the one loaded first takes 2 % longer: one order reads 1/1.02, the
    other 1.02, and the joined halves read 1.0 (timing replaced by each call's stated seconds)."""
    from harness.measure import latency

    monkeypatch.setattr(latency, "settle", lambda: None)
    monkeypatch.setattr(latency, "time_call", lambda fn: fn())
    loads: list[str] = []

    def loader(role: str) -> Callable[[], Callable[[], float]]:
        def load() -> Callable[[], float]:
            seconds = 0.0102 if not loads or len(loads) == 2 else 0.0100  # first of each pair
            loads.append(role)
            return lambda: seconds

        return load

    one_order = latency.interleave(loader("c")(), loader("r")(), rounds=10, warmup=0)
    assert one_order.speedup == pytest.approx(1 / 1.02)
    loads.clear()
    both = latency.interleave_both_orders(loader("c"), loader("r"), rounds=11, warmup=1)
    assert loads == ["c", "r", "r", "c"]
    assert (len(both.candidate_s), len(both.reference_s)) == (11, 11)  # 6 + 5 rounds
    assert both.speedup == pytest.approx(1.0, abs=0.01)
    assert latency.Interleaved(both.candidate_s[:6], both.reference_s[:6]).speedup == pytest.approx(1 / 1.02)
    assert latency.Interleaved(both.candidate_s[6:], both.reference_s[6:]).speedup == pytest.approx(1.02)
