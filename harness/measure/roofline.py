"""This CPU's INT8 compute roofline, measured: the MAC rate its best INT8 kernels reach.

A model cannot run faster than its multiply-accumulates divided by the CPU's peak INT8 MAC rate.
The peak is not read from a datasheet (clock, VNNI ports and turbo differ between machines and VMs)
but measured: a stack of large 3x3 convolutions (256 channels, 40x40, compute-bound), quantized to
INT8 by NNCF and compiled by OpenVINO's CPU plugin (oneDNN's AVX-512 VNNI / AMX / AVX2 kernels, the
fastest INT8 path installed here), at the run's thread count. The probe first lets the previous
runtime's spinning threads sleep (:func:`harness.measure.latency.settle`), then times blocks of
``calls`` calls until a block no longer beats the fastest call so far by more than ``tolerance``
(at most ``max_blocks``): the fastest call gives the peak, so a noisy neighbour or a slow start
lowers the peak only if it slows every block. (One fresh-clone run on a 2-core AVX2 EPYC measured
128 GMAC/s inside the run where six idle repeats gave 187-192: a single block of 30 calls, about
0.6 s there, had been taken at face value.)

``roofline_ms(gflops, peak)`` is then the compute bound for a model of ``gflops`` (Ultralytics'
GFLOPs, two per MAC). Memory traffic is not bounded: a nano YOLO's activations fit the caches.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from harness.measure.latency import settle

__all__ = ["PEAK_SHAPE", "Peak", "missing_openvino", "peak_int8", "roofline_ms", "settled_fastest"]

PEAK_SHAPE = (256, 40, 4)
"""Channels, spatial size and depth of the probe's convolution stack."""


@dataclass(frozen=True)
class Peak:
    """The measured peak: MACs per second and how it was measured."""

    macs_per_s: float
    threads: int
    method: str

    @property
    def gmacs(self) -> float:
        """The peak in GMAC/s."""
        return self.macs_per_s / 1e9


def missing_openvino() -> str | None:
    """Why the peak cannot be measured here (OpenVINO or NNCF absent), or None."""
    for module, package in (("openvino", "openvino"), ("nncf", "nncf")):
        if importlib.util.find_spec(module) is None:
            return f"{package} is not installed: the INT8 roofline is measured with OpenVINO + NNCF"
    return None


def _probe_macs(channels: int, size: int, depth: int) -> int:
    return depth * channels * channels * 9 * size * size


def peak_int8(
    threads: int, calls: int = 30, warmup: int = 5, max_blocks: int = 8, tolerance: float = 0.01
) -> Peak:
    """Measure the INT8 MAC rate of the convolution stack at ``threads`` threads (about 3 s): the
    fastest call of blocks of ``calls``, taken until settled (:func:`settled_fastest`)."""
    import nncf
    import openvino as ov

    channels, size, depth = PEAK_SHAPE
    rng = np.random.default_rng(0)
    shape = (1, channels, size, size)
    model = _conv_stack(rng, shape, depth)
    sample = rng.random(shape, dtype=np.float32)
    quantized = nncf.quantize(
        model, nncf.Dataset([sample]), subset_size=1, target_device=nncf.TargetDevice.CPU
    )
    config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
    request = ov.Core().compile_model(quantized, "CPU", config).create_infer_request()
    settle()
    for _ in range(warmup):
        request.infer({0: sample})
    fastest, blocks = settled_fastest(lambda: _timed(request, sample), calls, max_blocks, tolerance)
    method = (
        f"NNCF INT8 {depth} x conv3x3 {channels}ch {size}x{size} on OpenVINO "
        f"{ov.get_version().split('-')[0]}, fastest of {blocks} x {calls} calls"
    )
    return Peak(_probe_macs(channels, size, depth) / fastest, threads, method)


def settled_fastest(
    timed: Callable[[], float], calls: int, max_blocks: int, tolerance: float
) -> tuple[float, int]:
    """The fastest of blocks of ``calls`` results of ``timed``, and how many blocks ran: after the
    first block, one more runs while the last one beat the fastest before it by more than
    ``tolerance`` (a fraction), up to ``max_blocks``."""
    if calls < 1 or max_blocks < 1:
        raise ValueError(
            f"settled_fastest needs calls >= 1 and max_blocks >= 1, got {calls} and {max_blocks}"
        )
    fastest = min(timed() for _ in range(calls))
    blocks = 1
    while blocks < max_blocks:
        block = min(timed() for _ in range(calls))
        blocks += 1
        improved = block < fastest * (1 - tolerance)
        fastest = min(fastest, block)
        if not improved:
            break
    return fastest, blocks


def _conv_stack(rng: np.random.Generator, shape: tuple[int, ...], depth: int) -> object:
    """An OpenVINO model of ``depth`` bias-free 3x3 convolutions, same channels in and out."""
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter(list(shape), np.float32, name="x")
    y = x
    for _ in range(depth):
        weights = (rng.standard_normal((shape[1], shape[1], 3, 3)) * 0.05).astype(np.float32)
        y = ops.convolution(y, ops.constant(weights), [1, 1], [1, 1], [1, 1], [1, 1])
    return ov.Model([y], [x], "int8-peak-probe")


def _timed(request: object, sample: np.ndarray) -> float:
    start = time.perf_counter()
    request.infer({0: sample})  # type: ignore[attr-defined]
    return time.perf_counter() - start


def roofline_ms(gflops: float, peak: Peak) -> float:
    """The compute bound in ms for a model of ``gflops`` (two FLOPs per MAC) at ``peak``."""
    if gflops <= 0 or peak.macs_per_s <= 0:
        raise ValueError(f"roofline needs positive GFLOPs and peak, got {gflops} and {peak.macs_per_s}")
    return gflops * 1e9 / 2 / peak.macs_per_s * 1e3
