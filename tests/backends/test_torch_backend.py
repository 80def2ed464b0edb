"""PyTorch eager runner: every call runs on the runner's own intra-op thread count."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.backends.torch_backend import TorchRunner


class _ThreadProbe(torch.nn.Module):
    """Records torch's intra-op thread count at each forward."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []
        self.augmented: list[bool] = []

    def forward(self, x: torch.Tensor, augment: bool = False) -> torch.Tensor:
        self.seen.append(torch.get_num_threads())
        self.augmented.append(augment)
        return x * 2


@pytest.fixture
def restore_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _runner(tmp_path: Path, threads: int) -> tuple[TorchRunner, _ThreadProbe]:
    artifact = tmp_path / "model.pt"
    artifact.write_bytes(b"weights")
    probe = _ThreadProbe()
    return TorchRunner(probe, "cpu", "float32", artifact, threads=threads), probe


def test_a_call_restores_the_runners_threads_after_a_library_changed_them(
    tmp_path: Path, restore_threads: None
) -> None:
    runner, probe = _runner(tmp_path, threads=2)
    torch.set_num_threads(1)  # what Ultralytics' select_device does on a 2-core machine
    out = runner(np.ones((1, 3, 4, 4), dtype=np.float32))
    assert probe.seen == [2]
    assert torch.get_num_threads() == 2
    np.testing.assert_array_equal(out, np.full((1, 3, 4, 4), 2.0, dtype=np.float32))


def test_the_augmented_runner_shares_the_network_and_keeps_the_threads(
    tmp_path: Path, restore_threads: None
) -> None:
    plain, probe = _runner(tmp_path, threads=2)
    tta = plain.augmented()
    assert (tta.augment, plain.augment) == (True, False)
    assert tta.net is plain.net and tta.threads == 2 and tta.artifact_sha256 == plain.artifact_sha256
    torch.set_num_threads(1)
    batch = np.ones((1, 3, 4, 4), dtype=np.float32)
    tta(batch), plain(batch)
    assert probe.augmented == [True, False] and probe.seen == [2, 2]


def test_ultralytics_select_device_still_resets_torchs_threads(restore_threads: None) -> None:
    """Pinned to the installed Ultralytics: why the runner restores its threads at every call. When
    this fails, Ultralytics stopped changing torch's global count and the guard is no longer needed."""
    from ultralytics.utils import NUM_THREADS
    from ultralytics.utils.torch_utils import select_device

    torch.set_num_threads(NUM_THREADS + 1)
    select_device("cpu", verbose=False)
    assert torch.get_num_threads() == NUM_THREADS
