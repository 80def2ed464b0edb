"""Size figures of a variant: parameters and GFLOPs of its network, bytes of its artifact."""

from __future__ import annotations

from harness.build import BuildContext, materialize
from harness.build.weights import load_yolo
from harness.measure.size import count_params, gflops
from harness.recipes import SourceRecipe


def network_size(source: SourceRecipe, imgsz: int, ctx: BuildContext) -> dict[str, float | None]:
    """params and GFLOPs of the fused source network at ``imgsz`` (the same for every backend)."""
    yolo = load_yolo(materialize(source, ctx))
    yolo.fuse()
    net = yolo.model.eval()
    return {"params": float(count_params(net)), "gflops": gflops(net, imgsz)}
