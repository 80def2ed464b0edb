"""Size figures of a variant: parameters and GFLOPs of its network, bytes of its artifact."""

from __future__ import annotations

from pathlib import Path

from harness.build import BuildContext, materialize
from harness.build.weights import load_yolo
from harness.measure.size import count_params, file_bytes, gflops
from harness.recipes import Variant


def footprint(variant: Variant, artifact: Path, ctx: BuildContext) -> dict[str, float | None]:
    """params and GFLOPs of the fused source network at the variant's imgsz; size of ``artifact``."""
    yolo = load_yolo(materialize(variant.source, ctx))
    yolo.fuse()
    net = yolo.model.eval()
    return {
        "params": float(count_params(net)),
        "gflops": gflops(net, variant.imgsz),
        "file_bytes": float(file_bytes(artifact)),
    }
