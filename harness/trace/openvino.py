"""OpenVINO traces: the CPU plugin's per-node performance counters, with the executed kernel."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.backends.openvino_backend import OpenVinoRunner
from harness.fsutil import atomic_write_json
from harness.trace.macs import conv_macs
from harness.trace.ops import Profile, openvino_kind, summarize

__all__ = ["profile_openvino"]


@dataclass
class _Node:
    type: str
    exec_type: str
    us: float = 0.0  # summed over the traced inferences


def profile_openvino(runner: OpenVinoRunner, x: np.ndarray, rounds: int, dest: Path) -> Profile:
    """Compile ``runner``'s model again with ``PERF_COUNT`` on (same config otherwise), run ``x``
    once untimed and ``rounds`` times; every executed node's mean time, type and executed kernel
    (``exec_type``, e.g. ``brgconv_avx512_I8``) and, for a convolution, its MACs goes to ``dest``
    (``.json`` added); the profile carries the convolutions' MACs and traced time."""
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(runner.artifact))
    macs = conv_macs(model)
    compiled = core.compile_model(model, "CPU", {**runner.config, "PERF_COUNT": True})
    request = compiled.create_infer_request()
    request.infer({0: x})
    nodes: dict[str, _Node] = {}
    for _ in range(rounds):
        request.infer({0: x})
        for info in request.get_profiling_info():
            if info.status == info.Status.EXECUTED:
                node = nodes.setdefault(info.node_name, _Node(info.node_type, info.exec_type))
                node.us += info.real_time.total_seconds() * 1e6
    final = dest.with_name(dest.name + ".json")
    ranked = sorted(nodes.items(), key=lambda item: -item[1].us)
    atomic_write_json(final, [
        {"node": name, "type": n.type, "exec_type": n.exec_type, "us_per_inference": n.us / rounds,
         "macs": macs.get(name)}
        for name, n in ranked
    ])  # fmt: skip
    events = [(n.type, openvino_kind(n.type, n.exec_type), n.us / 1e3, rounds) for n in nodes.values()]
    convs = [(macs[name], n.us) for name, n in nodes.items() if name in macs]
    conv_total = sum(m for m, _ in convs) or None
    conv_ms = sum(us for _, us in convs) / rounds / 1e3 if convs else None
    return Profile("openvino", final, summarize(events, rounds), rounds, conv_total, conv_ms)
