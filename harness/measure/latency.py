"""Latency statistics and the same-run, interleaved speedup against a reference.

Timing uses ``time.perf_counter`` around a call that returns host arrays (so the device has
finished); warm-up calls run first; raw samples are kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from harness.measure.stats import DEFAULT_CONFIDENCE, Interval, paired_block_speedup

Call = Callable[[], object]
LATENCY_METRICS = (
    "latency_mean_ms",
    "latency_std_ms",
    "latency_median_ms",
    "latency_p90_ms",
    "latency_p95_ms",
    "latency_p99_ms",
)


@dataclass(frozen=True)
class LatencySummary:
    """Milliseconds, from raw per-call samples."""

    mean_ms: float
    std_ms: float
    median_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    samples: int

    @classmethod
    def from_seconds(cls, samples: Sequence[float]) -> LatencySummary:
        """Summarize raw samples given in seconds."""
        if not samples:
            raise ValueError("no latency samples to summarize")
        ms = np.asarray(samples, dtype=np.float64) * 1e3
        p90, p95, p99 = np.percentile(ms, [90, 95, 99])
        return cls(
            mean_ms=float(ms.mean()),
            std_ms=float(ms.std(ddof=1)) if ms.size > 1 else 0.0,
            median_ms=float(np.median(ms)),
            p90_ms=float(p90),
            p95_ms=float(p95),
            p99_ms=float(p99),
            samples=int(ms.size),
        )

    def as_metrics(self) -> dict[str, float]:
        """Flat metric dict with the harness's metric names (:data:`LATENCY_METRICS`)."""
        values = (self.mean_ms, self.std_ms, self.median_ms, self.p90_ms, self.p95_ms, self.p99_ms)
        return dict(zip(LATENCY_METRICS, values, strict=True))


@dataclass(frozen=True)
class Interleaved:
    """Samples of a candidate and a reference taken alternately in one run."""

    candidate_s: tuple[float, ...]
    reference_s: tuple[float, ...]
    block: int = 1

    @property
    def candidate_median_s(self) -> float:
        """Median seconds of the candidate."""
        return float(np.median(self.candidate_s))

    @property
    def reference_median_s(self) -> float:
        """Median seconds of the reference."""
        return float(np.median(self.reference_s))

    @property
    def speedup(self) -> float:
        """Reference / candidate, above 1 when the candidate is faster: the centre of :meth:`interval`
        (geometric mean of the paired ratios), so the figure always lies inside its interval; with
        fewer than 3 pairs, median(reference) / median(candidate)."""
        interval = self.interval()
        if interval is None:
            return self.reference_median_s / self.candidate_median_s
        return interval.estimate

    def interval(self, confidence: float = DEFAULT_CONFIDENCE) -> Interval | None:
        """Confidence interval of the speedup from the interleaved pairs; None with fewer than 3 pairs."""
        if len(self.candidate_s) < 3 * self.block:
            return None
        return paired_block_speedup(self.candidate_s, self.reference_s, self.block, confidence)


SETTLE_S = 0.01
"""Seconds of idle before switching models: PyTorch's OpenMP workers spin-wait for new work after a
call (libgomp's default policy), and a model timed right after PyTorch ran on cores they were still
spinning on. Measured here, a pruned yolo11n on OpenVINO INT8 interleaved with PyTorch FP32 eager:
3.44 ms right after PyTorch, 1.94 ms with OMP_WAIT_POLICY=PASSIVE (which slows PyTorch itself from
15.9 to 28.2 ms), 1.96 ms after a 5 ms idle. 10 ms lets every runtime's spinning threads sleep."""


def settle() -> None:
    """Sleep :data:`SETTLE_S`: the previous model's idle threads stop spinning (see there)."""
    time.sleep(SETTLE_S)


def time_call(fn: Call) -> float:
    """Seconds one call takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleave(candidate: Call, reference: Call, rounds: int, warmup: int, block: int = 1) -> Interleaved:
    """Time candidate and reference alternately, in short blocks, ABBA order, ``rounds`` samples each.

    Every timed call directly follows a call of the same model, so that it runs with warm caches
    and thread pools, as in deployment, instead of paying for the other model having just run: a
    block starts with one untimed call unless the previous block's calls were of the same model
    (ABBA puts the two Bs, and the two As, side by side), so a round of blocks of 1 costs three
    calls, not four. Blocks are one timed call by default: this machine's latency switches between
    regimes (13 ms and 20 ms for yolo11n on ONNX Runtime) that last tens of calls (autocorrelation
    0.83 at lag 1, 0.57 at lag 5), so the nearer the paired calls, the more of that noise cancels.
    Replayed on a 12000-call trace at 60 rounds and 99 %, blocks of 1 caught 99.9 % of 10 %
    slowdowns and blocks of 5 caught 73 % (100 real trials: 57 %), with A/A false alarms at 0.2 %
    for both. Before the untimed call of each block the machine :func:`settle` s, so that the other
    model's idle worker threads stop spinning first.
    """
    for _ in range(warmup):
        candidate()
        reference()
    cand: list[float] = []
    ref: list[float] = []
    last: list[float] | None = None  # by role, not identity: an A/A check passes one call twice
    for i in range(math.ceil(rounds / block)):
        n = min(block, rounds - i * block)
        pairs = [(candidate, cand), (reference, ref)]
        for fn, out in pairs if i % 2 == 0 else pairs[::-1]:
            if out is not last:
                settle()
                fn()
            out.extend(time_call(fn) for _ in range(n))
            last = out
    return Interleaved(tuple(cand), tuple(ref), block)


def interleave_both_orders(
    load_candidate: Callable[[], Call], load_reference: Callable[[], Call], rounds: int, warmup: int
) -> Interleaved:
    """:func:`interleave` on two fresh pairs loaded in opposite orders, half the rounds each, joined.

    Which of two loaded sessions was loaded first can shift their ratio: A/A pairs of ONNX Runtime
    sessions on a 2-core EPYC read 0.984x with the candidate loaded first and 1.010x with it loaded
    second (quick model, 100 trials each; medians), and 0.990x against 1.009x for yolo11n INT8 at 320 px (25
    each), though not in every process (another process of the latter: 1.007x against 1.001x); torch
    and OpenVINO showed none. Loading the candidate first for half the rounds and the reference first
    for the other half cancels such an offset whatever its sign, and the interval, taken over the
    blocks of both halves, carries what is left of it as noise. Each pair is released before the
    next is loaded."""
    halves: list[Interleaved] = []
    for candidate_first, n in ((True, math.ceil(rounds / 2)), (False, rounds // 2)):
        if candidate_first:
            candidate = load_candidate()
            reference = load_reference()
        else:
            reference = load_reference()
            candidate = load_candidate()
        halves.append(interleave(candidate, reference, n, warmup))
        del candidate, reference
    first, second = halves
    return Interleaved(
        first.candidate_s + second.candidate_s, first.reference_s + second.reference_s, first.block
    )


def throughput(fn: Call, batch: int, rounds: int, warmup: int) -> float:
    """Images per second at ``batch``: batch / median seconds per call."""
    for _ in range(warmup):
        fn()
    seconds = [time_call(fn) for _ in range(rounds)]
    return batch / float(np.median(seconds))


def round_robin(
    calls: Mapping[str, Call], rounds: int, warmup: int, block: int = 3
) -> dict[str, list[float]]:
    """Time many models in turn, ``rounds`` turns each, and return every model's timed seconds.

    The interleaved screen for picking the fastest of many variants: all of them share each
    stretch of the machine's latency regimes, so their medians rank them as they run side by side
    (a pairwise :func:`interleave` then gives the chosen one its interval). Each turn is one
    untimed call, so that the timed ones follow a call of the same model, then ``block`` timed
    calls; the order rotates by one model every round, so no model always follows the same one.
    """
    names = list(calls)
    for name in names:
        for _ in range(warmup):
            calls[name]()
    timed: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        start = index % len(names) if names else 0
        for name in names[start:] + names[:start]:
            settle()
            calls[name]()
            timed[name].extend(time_call(calls[name]) for _ in range(block))
    return timed


def screen_ms(calls: Mapping[str, Call], rounds: int, warmup: int) -> dict[str, float]:
    """Each call's median in ms over a :func:`round_robin`: the figure a screen ranks models by."""
    return {
        name: float(np.median(seconds)) * 1e3 for name, seconds in round_robin(calls, rounds, warmup).items()
    }
