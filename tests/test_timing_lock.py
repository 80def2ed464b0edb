"""The timing lock: readers-writer semantics across processes, and timing tests alone under xdist."""

from __future__ import annotations

import json
import multiprocessing
import textwrap
import time
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from harness.timing_lock import XDIST_WORKER_ENV, TimingLock

Interval = tuple[float, float]
CTX = multiprocessing.get_context("spawn")
HOLD_S = 0.3


def _hold(lock_path: str, mode: str, out: str, seconds: float) -> None:
    """Child process: take the lock in ``mode``, hold it ``seconds``, write (enter, exit) to ``out``."""
    lock = TimingLock(Path(lock_path))
    with lock.exclusive() if mode == "exclusive" else lock.shared():
        enter = time.monotonic()
        time.sleep(seconds)
        leave = time.monotonic()
    Path(out).write_text(json.dumps([enter, leave]))


def _meet(lock_path: str, barrier: Barrier) -> None:
    """Child process: hold the shared lock until the other shared holder holds it too."""
    with TimingLock(Path(lock_path)).shared():
        barrier.wait()


def _run_holders(tmp_path: Path, modes: list[str]) -> list[Interval]:
    """Start one child per mode at once; their (enter, exit) intervals, in the order of ``modes``."""
    lock = str(tmp_path / ".timing.lock")
    outs = [str(tmp_path / f"interval-{i}.json") for i in range(len(modes))]
    procs = [CTX.Process(target=_hold, args=(lock, m, o, HOLD_S)) for m, o in zip(modes, outs, strict=True)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    return [tuple(json.loads(Path(o).read_text())) for o in outs]  # type: ignore[misc]


def _overlap(a: Interval, b: Interval) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_exclusive_excludes_shared_and_exclusive(tmp_path: Path) -> None:
    modes = ["exclusive", "shared", "exclusive", "shared"]
    intervals = _run_holders(tmp_path, modes)
    for i, (mode, interval) in enumerate(zip(modes, intervals, strict=True)):
        if mode == "exclusive":
            others = [other for j, other in enumerate(intervals) if j != i]
            assert not any(_overlap(interval, other) for other in others), intervals


def test_shared_holders_hold_it_together(tmp_path: Path) -> None:
    barrier = CTX.Barrier(2, timeout=20)  # broken (child exits 1) unless both hold the lock at once
    lock = str(tmp_path / ".timing.lock")
    procs = [CTX.Process(target=_meet, args=(lock, barrier)) for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=30)
    assert [proc.exitcode for proc in procs] == [0, 0]


def test_lock_is_released_after_an_exception(tmp_path: Path) -> None:
    lock = TimingLock(tmp_path / ".timing.lock")
    with pytest.raises(RuntimeError), lock.exclusive():
        raise RuntimeError("test failed")
    (interval,) = _run_holders(tmp_path, ["exclusive"])  # another process gets it at once
    assert interval[1] - interval[0] < 10


def test_inactive_outside_xdist(tmp_path: Path) -> None:
    path = tmp_path / "cache" / ".timing.lock"
    lock = TimingLock.from_env(path, environ={})
    assert not lock.active
    with lock.exclusive(), lock.exclusive(), lock.shared():  # no-op: no file, no deadlock
        pass
    assert not path.parent.exists()
    assert TimingLock.from_env(path, environ={XDIST_WORKER_ENV: "gw0"}).active


TINY_SUITE = """
    import json
    import os
    import time
    from pathlib import Path

    import pytest

    OUT = Path(__file__).parent / "intervals"


    def _record(kind, name, start):
        OUT.mkdir(exist_ok=True)
        end = time.monotonic()
        worker = os.environ["PYTEST_XDIST_WORKER"]
        (OUT / f"{kind}-{name}.json").write_text(json.dumps([start, end, worker]))


    @pytest.mark.harness_timing
    @pytest.mark.parametrize("i", range(4))
    def test_timed(i):
        start = time.monotonic()
        time.sleep(0.25)
        _record("timing", f"t{i}", start)


    @pytest.mark.parametrize("i", range(8))
    def test_build(i):
        start = time.monotonic()
        time.sleep(0.15)
        _record("other", f"b{i}", start)
"""


def test_timing_tests_run_alone_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_tiny=textwrap.dedent(TINY_SUITE))
    result = pytester.runpytest_subprocess(
        "-p", "harness.plugin", "-p", "xdist", "-n", "2", "-q", "--strict-markers"
    )
    result.assert_outcomes(passed=12)
    runs = {p.stem: json.loads(p.read_text()) for p in (pytester.path / "intervals").glob("*.json")}
    assert len(runs) == 12
    assert {worker for _, _, worker in runs.values()} == {"gw0", "gw1"}  # both workers ran tests
    timed = {name: (start, end) for name, (start, end, _) in runs.items() if name.startswith("timing")}
    for name, interval in timed.items():
        others = [(s, e) for other, (s, e, _) in runs.items() if other != name]
        assert not any(_overlap(interval, other) for other in others), (name, runs)
    assert "harness_timing" not in result.stdout.str()  # registered marker, no warning; silent wait
