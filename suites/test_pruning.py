"""Pruning: what pruning each model physically bought, measured in one run.

Parametrized by ``prune_case``: model x ratio x criterion (x strategy, x method) from the matrix,
ids like ``yolo11n-p30-l1``. Each case is built once (pruned, then fine-tuned per ``[pruning]``)
and measured once (``harness.prunestudy``); the tests below check its bars:

- cost: dependency graph + pruning within ``pruning.max_seconds`` and the pruning process's
  peak memory within ``pruning.max_memory_mib``;
- physical change: structured pruning shrinks the parameter count (at least the bar's
  ``min_params_reduction``); unstructured pruning zeroes at least the ratio of conv weights and
  keeps every tensor's shape (it claims no speedup);
- speed: the pruned model against the unpruned one on PyTorch and ONNX Runtime FP32,
  interleaved in this run, at least the bar's ``min_speedup`` (structured only), judged by the
  speedup's interval like every latency budget (fails only when wholly below, inconclusive by
  ``[verdicts] inconclusive`` when it straddles);
- fine-tuning: it does not lose mAP50-95 against the pruned model before fine-tuning.

The mAP budget against the FP32 reference is ``test_accuracy``'s, with ``[budgets.pruned]``.
"""

from __future__ import annotations

import pytest

from harness.prunestudy import PruneCase
from harness.runstate import RunState

# A case is measured as a whole (prune, fine-tune, interleaved latency) by whichever of these tests
# reaches it first on a worker, so every one of them may time: under pytest-xdist each runs alone.
pytestmark = pytest.mark.harness_timing


def test_prune_cost(prune_case: PruneCase, harness_state: RunState) -> None:
    """Graph + pruning time and the pruning process's peak memory stay within their limits."""
    row = harness_state.measure_pruning(prune_case)
    limits = harness_state.config.pruning
    assert row.seconds is not None
    assert row.seconds <= limits.max_seconds, (
        f"{prune_case.slug}: graph + pruning took {row.seconds:.1f} s > {limits.max_seconds:.0f} s"
    )
    if row.peak_memory_mib is None:
        pytest.skip(f"{prune_case.slug}: {row.seconds:.2f} s; peak memory not measurable here (no /proc)")
    assert row.peak_memory_mib <= limits.max_memory_mib, (
        f"{prune_case.slug}: pruning process peak memory {row.peak_memory_mib:.0f} MiB "
        f"> {limits.max_memory_mib:.0f} MiB"
    )


def test_prune_is_physical(prune_case: PruneCase, harness_state: RunState) -> None:
    """Structured: fewer parameters (>= the bar). Unstructured: zeros, same parameter count."""
    row = harness_state.measure_pruning(prune_case)
    before, after = row.sizes["params_before"], row.sizes["params_after"]
    assert before is not None and after is not None
    if prune_case.spec.method == "unstructured":
        assert row.sparsity is not None and row.sparsity >= prune_case.spec.ratio - 0.01, (
            f"{prune_case.slug}: conv weight sparsity {row.sparsity} < ratio {prune_case.spec.ratio}"
        )
        assert after == before, f"{prune_case.slug}: unstructured pruning changed the parameter count"
        return
    reduction = row.params_reduction
    assert reduction is not None and reduction > 0, (
        f"{prune_case.slug}: parameters {before:.0f} -> {after:.0f}"
    )
    wanted = row.bar.min_params_reduction if row.bar else None
    if wanted is not None:
        assert reduction >= wanted, f"{prune_case.slug}: parameters reduced by {reduction:.1%} < {wanted:.0%}"


def test_prune_speedup(prune_case: PruneCase, harness_state: RunState) -> None:
    """Pruned vs unpruned FP32 latency on PyTorch and ONNX Runtime, interleaved in this run, meets the bar."""
    row = harness_state.measure_pruning(prune_case)
    measured = {b: s for b in row.latency_ms if (s := row.speedup(b)) is not None}
    if not measured:
        reason = "; ".join(row.notes) or "pruned variants run on neither torch nor onnxruntime in this matrix"
        pytest.skip(f"{prune_case.slug}: latency not measured: {reason}")
    lines = [
        f"{b} FP32 {row.latency_ms[b][0]:.2f} ms -> {row.latency_ms[b][1]:.2f} ms = {s:.2f}x"
        for b, s in measured.items()
    ]
    wanted = row.bar.min_speedup if row.bar else None
    if prune_case.spec.method == "unstructured":
        pytest.skip(
            f"{prune_case.slug}: {'; '.join(lines)} (recorded); no bar: dense kernels do not skip zeros"
        )
    if wanted is None:
        pytest.skip(
            f"{prune_case.slug}: {'; '.join(lines)} (recorded); no bar at ratio {prune_case.spec.ratio}"
        )
    harness_state.enforce(harness_state.pruning_speedup_checks(row, wanted))


def test_finetune_recovers(prune_case: PruneCase, harness_state: RunState) -> None:
    """Fine-tuning does not lose mAP50-95 against the pruned model before fine-tuning."""
    if prune_case.spec.finetune_epochs == 0:
        pytest.skip(f"{prune_case.slug}: no fine-tuning configured (pruning.finetune_epochs = 0)")
    row = harness_state.measure_pruning(prune_case)
    assert row.map_pruned is not None and row.map_finetuned is not None
    assert row.map_finetuned >= row.map_pruned, (
        f"{prune_case.slug}: mAP50-95 {row.map_pruned:.4f} after pruning, "
        f"{row.map_finetuned:.4f} after fine-tuning"
    )
