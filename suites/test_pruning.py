"""Pruning: what pruning each model physically bought, measured in one run.

Parametrized by ``prune_case``: model x ratio x criterion (x strategy, x method) from the matrix,
ids like ``yolo11n-p30-l1``. Each case is built once (pruned, then fine-tuned per ``[pruning]``)
and measured once (:class:`harness.studies.pruning.PruningStudy`); the tests below check its bars:

- cost: dependency graph + pruning within ``pruning.max_seconds`` and the pruning process's
  peak memory within ``pruning.max_memory_mib``;
- physical change: structured pruning shrinks the parameter count (at least the bar's
  ``min_params_reduction``); unstructured pruning zeroes at least the ratio of conv weights and
  keeps every tensor's shape (it claims no speedup);
- speed: the pruned model against the unpruned one on PyTorch and ONNX Runtime FP32,
  interleaved in this run, at least the bar's ``min_speedup`` (structured only), judged by the
  speedup's interval like every latency budget (fails only when wholly below, inconclusive by
  ``[verdicts] inconclusive`` when it straddles);
- fine-tuning: it does not lose mAP50-95 against the pruned model before fine-tuning;
- with ``[verdicts] tuned_reference``: the fine-tuned model within its ``max_map_drop`` of the
  reference fine-tuned as long with the same arguments and seeds (:mod:`harness.tuned`), so that
  the fine-tune's own gain on an unconverged reference is not counted as recovery (skipped, with
  the reason, when not configured).

The mAP budget against the FP32 reference is ``test_accuracy``'s, with ``[budgets.pruned]``.
"""

from __future__ import annotations

import pytest

from harness.results import PRUNING
from harness.runstate import RunState
from harness.studies import study
from harness.studies.pruning import PruneCase

# A case is measured as a whole (prune, fine-tune, interleaved latency) by whichever of these tests
# reaches it first on a worker, so every one of them may time: under pytest-xdist each runs alone.
pytestmark = pytest.mark.harness_timing


def test_prune_cost(prune_case: PruneCase, harness_state: RunState) -> None:
    """Graph + pruning time and the pruning process's peak memory stay within their limits."""
    harness_state.judge(study(PRUNING), prune_case, "cost")


def test_prune_is_physical(prune_case: PruneCase, harness_state: RunState) -> None:
    """Structured: fewer parameters (>= the bar). Unstructured: zeros, same parameter count."""
    harness_state.judge(study(PRUNING), prune_case, "physical")


def test_prune_speedup(prune_case: PruneCase, harness_state: RunState) -> None:
    """Pruned vs unpruned FP32 latency on PyTorch and ONNX Runtime, interleaved in this run, meets the bar."""
    harness_state.judge(study(PRUNING), prune_case, "speedup")


def test_finetune_recovers(prune_case: PruneCase, harness_state: RunState) -> None:
    """Fine-tuning does not lose mAP50-95 against the pruned model before fine-tuning."""
    harness_state.judge(study(PRUNING), prune_case, "finetune")


def test_prune_against_tuned_reference(prune_case: PruneCase, harness_state: RunState) -> None:
    """The fine-tuned model stays within its mAP budget of the reference fine-tuned as long."""
    harness_state.judge(study(PRUNING), prune_case, "tuned")
