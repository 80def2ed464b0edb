"""Parallel runs: a readers-writer lock between pytest-xdist workers that keeps timing undisturbed.

With ``pytest suites/ -n 2`` the workers build variants (train, prune, fine-tune, export,
calibrate) at the same time, but a latency measurement must have the machine to itself: a worker
training a model next to a timed one would load the CPU, the memory bandwidth and the GPU and
inflate the other's numbers. So every test holds a lock on one file while it runs:

- a **timing** test (marked ``@pytest.mark.harness_timing``) holds it *exclusively*: it runs
  alone, no other test of any worker runs during it;
- **every other** test holds it *shared*: any number of them run side by side (builds and
  accuracy evaluation are parallel), but never while a timing test runs.

Why ``fcntl.flock`` on a file: the workers are separate processes started by xdist, so
in-process locks do not reach across them, and they share nothing but the file system. flock
has shared and exclusive modes, blocks without polling (a waiting test prints nothing), and the
kernel releases the lock when its process dies, so a crashed worker never leaves the others
waiting on a stale lock file.

flock does not queue: a stream of shared holders could keep an exclusive waiter out for a long
time. A second file, the *gate* (``<lock>.gate``), gives the waiting timing test priority:
every taker holds the gate exclusively while it waits for the main lock and lets go once it has
it. A timing test that holds the gate stops new shared takers at the gate while the current
ones finish.

The lock is active only under pytest-xdist (the ``PYTEST_XDIST_WORKER`` environment variable
is set) on a platform with flock (not Windows); otherwise both context managers do nothing. It
is not reentrant: a process holds at most one of them at a time (the plugin takes one per test).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

_FLOCK = sys.platform != "win32"
if _FLOCK:
    import fcntl

__all__ = ["LOCK_NAME", "XDIST_WORKER_ENV", "TimingLock"]

XDIST_WORKER_ENV = "PYTEST_XDIST_WORKER"
LOCK_NAME = ".timing.lock"


@dataclass(frozen=True)
class TimingLock:
    """An inter-process readers-writer lock on ``path``: exclusive for timing, shared otherwise."""

    path: Path
    active: bool = True

    @classmethod
    def from_env(cls, path: Path, environ: Mapping[str, str] | None = None) -> TimingLock:
        """The lock on ``path``, active only when running inside a pytest-xdist worker."""
        env = os.environ if environ is None else environ
        return cls(Path(path), active=bool(env.get(XDIST_WORKER_ENV)))

    @property
    def gate(self) -> Path:
        """The file that gives a waiting exclusive taker priority over new shared ones."""
        return self.path.with_name(self.path.name + ".gate")

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the lock alone (a timing test): waits until every other holder has let go."""
        with self._hold(exclusive=True):
            yield

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Hold the lock together with other shared holders, never during an exclusive one."""
        with self._hold(exclusive=False):
            yield

    @contextlib.contextmanager
    def _hold(self, *, exclusive: bool) -> Iterator[None]:
        """Take the gate, then the main lock; let the gate go; hold the main lock."""
        if not (self.active and _FLOCK):
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            with _locked(self.gate, fcntl.LOCK_EX):
                stack.enter_context(_locked(self.path, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH))
            yield


@contextlib.contextmanager
def _locked(path: Path, mode: int) -> Iterator[None]:
    """flock ``path`` (created if missing) in ``mode`` through a descriptor of its own."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, mode)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
