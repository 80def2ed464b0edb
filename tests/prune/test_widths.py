"""Per-layer widths: recorded per convolution, combined across steps, summarised."""

from __future__ import annotations

from torch import nn

from harness.prune.widths import across_steps, conv_widths, paired, summary


def test_conv_widths_name_every_convolution_but_the_skipped() -> None:
    model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Conv2d(16, 8, 1))
    assert conv_widths(model) == {"0": 16, "2": 8}
    assert conv_widths(model, skip=[model[2]]) == {"0": 16}
    assert paired({"0": 16, "2": 8}, {"0": 8}) == {"0": (16, 8)}


def test_steps_combine_from_the_first_before_to_the_last_after() -> None:
    steps = [{"widths": {"a": [64, 48], "b": [32, 32]}}, {"widths": {"a": [48, 32], "b": [32, 16]}}]
    assert across_steps(steps) == {"a": (64, 32), "b": (32, 16)}
    assert across_steps([{"widths": {"a": [64, 48]}}, {"sparsity": 0.3}]) is None  # a step without them
    assert across_steps([]) is None


def test_summary_counts_whole_layers_and_the_spread_of_kept_shares() -> None:
    assert summary({"a": (64, 16), "b": (32, 32), "c": (16, 8)}) == {
        "layers_whole": 1.0,
        "layer_kept_min": 0.25,
        "layer_kept_max": 1.0,
    }
    assert summary(None) == {"layers_whole": None, "layer_kept_min": None, "layer_kept_max": None}
