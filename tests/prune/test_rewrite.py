"""The prunable rewrites compute exactly what the Ultralytics blocks compute; blocking blocks are named."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import torch
from torch import nn
from ultralytics.nn.modules.block import C2PSA, Attention, C2f, C2fCIB, C2fPSA, C3k2
from ultralytics.nn.tasks import DetectionModel

from harness.prune.modules import C2fPrunable, C2PSAPrunable, PrunableAttention
from harness.prune.rewrite import UnprunableBlockError, rewrite_for_pruning

ATOL = 1e-5
IMGSZ = 64

Pair = tuple[DetectionModel, DetectionModel]  # (original, rewritten copy)


def _outputs(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The eval-mode output tensor, then every raw prediction tensor (boxes, scores, per head)."""
    with torch.no_grad():
        y, preds = model(x)
    raw = [preds[k] for k in ("one2many", "one2one") if k in preds] or [preds]
    return [y, *(branch[key] for branch in raw for key in ("boxes", "scores"))]


def _assert_same(original: nn.Module, rewritten: nn.Module, x: torch.Tensor) -> None:
    for a, b in zip(_outputs(original, x), _outputs(rewritten, x), strict=True):
        assert a.shape == b.shape
        torch.testing.assert_close(b, a, atol=ATOL, rtol=0)


@pytest.fixture(scope="module")
def pair(detector_name: str, make_detector: Callable[[str], DetectionModel]) -> Pair:
    """A detector and its rewritten copy."""
    original = make_detector(detector_name)
    return original, rewrite_for_pruning(copy.deepcopy(original))


def test_rewritten_outputs_equal_original(pair: Pair) -> None:
    original, rewritten = pair
    _assert_same(
        original, rewritten, torch.randn(1, 3, IMGSZ, IMGSZ, generator=torch.Generator().manual_seed(2))
    )


def test_end2end_outputs_equal_original(make_detector: Callable[[str], DetectionModel]) -> None:
    original = make_detector("yolo26n")
    original.end2end = True  # the one-to-one head and its top-k post-processing
    rewritten = rewrite_for_pruning(copy.deepcopy(original))
    y = _outputs(rewritten, torch.randn(1, 3, IMGSZ, IMGSZ))[0]
    assert y.shape == (1, 84, 6)  # min(max_det, anchors) detections of [x1, y1, x2, y2, score, class]
    _assert_same(original, rewritten, torch.randn(1, 3, IMGSZ, IMGSZ))


def test_rewrite_keeps_device_and_dtype(make_detector: Callable[[str], DetectionModel]) -> None:
    """New layers live where the model lives (float64 here; CUDA on a GPU, seen failing before)."""
    original = make_detector("yolo11n").double()
    rewritten = rewrite_for_pruning(copy.deepcopy(original))
    dtypes = {t.dtype for t in (*rewritten.parameters(), *rewritten.buffers()) if t.is_floating_point()}
    assert dtypes == {torch.float64}
    _assert_same(original, rewritten, torch.randn(1, 3, IMGSZ, IMGSZ, dtype=torch.float64))


def test_no_blocking_block_is_left(pair: Pair) -> None:
    _, rewritten = pair
    left = {type(m).__name__ for m in rewritten.modules() if isinstance(m, (C2f, C2PSA, Attention))}
    assert not left
    assert any(isinstance(m, C2fPrunable) for m in rewritten.modules())


def test_attention_is_rewritten_not_dropped(pair: Pair) -> None:
    original, rewritten = pair
    n_attn = sum(isinstance(m, Attention) for m in original.modules())
    assert sum(isinstance(m, PrunableAttention) for m in rewritten.modules()) == n_attn
    assert sum(isinstance(m, C2PSAPrunable) for m in rewritten.modules()) == sum(
        isinstance(m, C2PSA) for m in original.modules()
    )


def test_parameter_count_is_unchanged(pair: Pair) -> None:
    original, rewritten = pair
    assert sum(p.numel() for p in rewritten.parameters()) == sum(p.numel() for p in original.parameters())


def test_rewriting_twice_changes_nothing(pair: Pair) -> None:
    _, rewritten = pair
    again = rewrite_for_pruning(copy.deepcopy(rewritten))
    assert [type(m) for m in again.modules()] == [type(m) for m in rewritten.modules()]


def test_layer_routing_attributes_are_kept(pair: Pair) -> None:
    original, rewritten = pair
    assert [(m.i, m.f) for m in rewritten.model] == [(m.i, m.f) for m in original.model]


@pytest.mark.parametrize(
    "block",
    [
        pytest.param(lambda: C3k2(32, 32, 1, c3k=False, attn=True), id="C3k2-attn"),
        pytest.param(lambda: C3k2(32, 32, 2, c3k=True), id="C3k2-c3k"),
        pytest.param(lambda: C2fPSA(128, 128, 1), id="C2fPSA"),
        pytest.param(lambda: C2fCIB(32, 32, 1, lk=True), id="C2fCIB"),
        pytest.param(lambda: C2PSA(256, 256, 1), id="C2PSA-2heads"),
    ],
)
def test_block_rewrite_is_exact(
    block: Callable[[], nn.Module], randomize_bn: Callable[[nn.Module], None]
) -> None:
    torch.manual_seed(0)
    original = block()
    randomize_bn(original)
    original.eval()
    rewritten = rewrite_for_pruning(nn.Sequential(copy.deepcopy(original)))[0]
    assert type(rewritten) is not type(original)
    x = torch.randn(1, next(original.parameters()).shape[1], 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(rewritten(x), original(x), atol=ATOL, rtol=0)


def test_block_without_rewrite_is_named() -> None:
    torch.manual_seed(0)
    model = DetectionModel("yolo12n.yaml", nc=6, verbose=False)
    before = [type(m) for m in model.modules()]
    with pytest.raises(UnprunableBlockError, match=r"A2C2f at 'model\.\d+' has no prunable rewrite"):
        rewrite_for_pruning(model)
    assert [type(m) for m in model.modules()] == before  # checked before anything was changed


def test_unknown_c2f_variant_is_named() -> None:
    class C2fCustom(C2f):
        pass

    with pytest.raises(UnprunableBlockError, match="C2fCustom at '0'"):
        rewrite_for_pruning(nn.Sequential(C2fCustom(16, 16)))


@pytest.mark.parametrize("stats", [True, False])
def test_sliced_batch_norm_keeps_rows_or_names_what_it_lacks(stats: bool) -> None:
    """``take_out_channels`` copies the kept rows of the batch norm's statistics; a batch norm with
    neither affine parameters nor running statistics has nothing to slice and says so."""
    from ultralytics.nn.modules.conv import Conv

    from harness.prune.rewrite import UnsupportedLayoutError, take_out_channels

    conv = Conv(3, 8, 3)
    conv.bn = nn.BatchNorm2d(8, affine=False, track_running_stats=stats)
    rows = torch.tensor([1, 4, 6])
    if stats:
        conv.bn.running_mean.copy_(torch.arange(8.0))
        taken = take_out_channels(conv, rows)
        assert torch.equal(taken.bn.running_mean, torch.tensor([1.0, 4.0, 6.0]))
        assert taken.conv.out_channels == 3
    else:
        with pytest.raises(UnsupportedLayoutError, match="no running_mean buffer"):
            take_out_channels(conv, rows)
