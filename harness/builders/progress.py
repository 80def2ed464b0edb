"""Progress lines for long builds: one per training epoch, with elapsed time, ETA and the last loss.

Registered as Ultralytics callbacks (its public ``add_callback``); the lines go through the build
context's ``log``, which the pytest plugin writes past output capturing (``-q`` quiets them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

__all__ = ["EpochProgress", "clock"]


def clock(seconds: float) -> str:
    """``75.2`` -> ``"1:15"``; ``3725`` -> ``"1:02:05"``."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class EpochProgress:
    """``on_train_start`` / ``on_train_epoch_end`` callbacks that log ``label epoch n/N``."""

    def __init__(
        self, label: str, log: Callable[[str], None], now: Callable[[], float] = time.monotonic
    ) -> None:
        self.label, self.log, self.now = label, log, now
        self.start = now()

    def started(self, _trainer: object) -> None:
        """Restart the clock when training (not setup) begins."""
        self.start = self.now()

    def epoch_end(self, trainer: object) -> None:
        """One line: epoch, elapsed, ETA at the mean epoch time so far, and the epoch's mean loss."""
        done = int(getattr(trainer, "epoch", 0)) + 1
        total = int(getattr(trainer, "epochs", done))
        elapsed = self.now() - self.start
        eta = elapsed / done * (total - done)
        self.log(
            f"harness: {self.label}: epoch {done}/{total}, {clock(elapsed)} elapsed, ETA {clock(eta)}{_loss(trainer)}"
        )


def _loss(trainer: object) -> str:
    """``", loss 3.214 (box 1.1, cls 1.5, dfl 0.61)"`` from the trainer's running mean of the
    epoch's losses (a dict by name in Ultralytics 8.4, a tensor before), or ``""``."""
    tloss = getattr(trainer, "tloss", None)
    if tloss is None:
        return ""
    try:
        if isinstance(tloss, Mapping):
            names, values = list(tloss), [float(v) for v in tloss.values()]
        else:
            values = [float(v) for v in (tloss.reshape(-1) if hasattr(tloss, "reshape") else [tloss])]
            names = list(getattr(trainer, "loss_names", ()))
    except (TypeError, ValueError):
        return ""
    parts = ", ".join(f"{str(n).removesuffix('_loss')} {v:.3g}" for n, v in zip(names, values, strict=False))
    return f", loss {sum(values):.4g}" + (f" ({parts})" if parts else "")
