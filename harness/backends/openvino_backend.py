"""OpenVINO on the CPU plugin: FP32 (forced), FP16 IR, the CPU's automatic BF16, INT8 through NNCF.

What each precision compiles to (``INFERENCE_PRECISION_HINT``) and what the plugin then executes
(read back from the compiled model's runtime graph, :attr:`OpenVinoRunner.execution_precisions`):

- ``fp32``: FP32 IR, hint ``f32`` forced, so a BF16/FP16-capable CPU does not down-convert.
- ``fp16``: FP16 IR (weights stored in half), hint ``f16``; needs ``FP16`` in the CPU plugin's
  ``OPTIMIZATION_CAPABILITIES`` (AVX512-FP16 / AMX-FP16), where the convolutions then run in f16.
- ``bf16``: FP32 IR with the plugin's default hint, which is ``bf16`` on a CPU that reports
  ``BF16`` (AVX512-BF16 / AMX): the CPU's automatic BF16.
- ``int8``: NNCF IR with the default hint: quantized layers in int8, the float ones (the decode
  tail) at the plugin's default float precision (``bf16`` on a BF16-capable CPU, else ``f32``).

``openvino`` is imported only when a variant is checked or loaded.
"""

from __future__ import annotations

import functools
import importlib.util
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.backends.base import LoadRequest, ensure_supported
from harness.builders import build
from harness.errors import HarnessError
from harness.planning import OPENVINO_NO_DATA, openvino_recipe
from harness.recipes import Variant, source_data

if TYPE_CHECKING:
    import openvino as ov

PRECISIONS = ("fp32", "fp16", "bf16", "int8")
_HINTS = {"fp32": "f32", "fp16": "f16", "bf16": None, "int8": None}  # None: the plugin's default
_CAPABILITY = {"fp16": "FP16", "bf16": "BF16"}
_DEVICE = "CPU"


@functools.cache
def _core() -> ov.Core:
    import openvino as ov

    return ov.Core()


def cpu_capabilities() -> tuple[str, ...]:
    """The CPU plugin's ``OPTIMIZATION_CAPABILITIES`` (e.g. FP32, BF16, FP16, INT8)."""
    return tuple(_core().get_property(_DEVICE, "OPTIMIZATION_CAPABILITIES"))


class OpenVinoRunner:
    """A model compiled for the CPU plugin, with one reusable infer request."""

    def __init__(self, path: Path, sha256: str, config: dict[str, Any]) -> None:
        core = _core()
        try:
            model = core.read_model(path)
            self.compiled = core.compile_model(model, _DEVICE, config)
        except RuntimeError as exc:
            raise HarnessError(f"OpenVINO failed to load {path} it built: {exc}") from exc
        self.request = self.compiled.create_infer_request()
        self.artifact = path
        self.artifact_sha256 = sha256
        self.config = dict(config)

    @property
    def inference_precision(self) -> str:
        """The compiled model's ``INFERENCE_PRECISION_HINT`` (e.g. ``f32``, ``bf16``)."""
        return self.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()

    @property
    def execution_precisions(self) -> dict[str, int]:
        """How many convolutions the plugin executes in each precision (from its runtime graph)."""
        counts: Counter[str] = Counter()
        for op in self.compiled.get_runtime_model().get_ops():
            info = op.get_rt_info()
            if str(info["layerType"].astype(str)) in ("Convolution", "GroupConvolution"):
                counts[str(info["runtimePrecision"].astype(str))] += 1
        return dict(counts)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Run one batch synchronously; the output is copied out of the reused request buffer."""
        self.request.infer({0: batch})
        return np.array(self.request.get_output_tensor(0).data, dtype=np.float32, copy=True)


class OpenVinoBackend:
    """OpenVINO IR on the CPU plugin, at ``ctx.threads`` inference threads, latency hint."""

    def unsupported(self, variant: Variant, device: str) -> str | None:
        """Missing packages, a non-CPU device, a precision or quantization this CPU / NNCF lacks."""
        try:
            import openvino  # noqa: F401
        except ImportError as exc:
            return f"openvino is not installed or fails to import (pip install openvino): {exc}"
        if not device.startswith("cpu"):
            return f"the OpenVINO backend runs on its CPU plugin only; device is {device!r}"
        if variant.precision not in PRECISIONS:
            return f"OpenVINO has no {variant.precision} path (supported: {', '.join(PRECISIONS)})"
        needed = _CAPABILITY.get(variant.precision)
        if needed and needed not in cpu_capabilities():
            return (
                f"the OpenVINO CPU plugin reports no {needed} support on this CPU "
                f"(OPTIMIZATION_CAPABILITIES: {', '.join(cpu_capabilities())})"
            )
        if variant.quant is not None:
            return _int8_unsupported(variant)
        return None

    def load(self, request: LoadRequest) -> OpenVinoRunner:
        """Build the IR (cached) and compile it for the CPU."""
        ensure_supported(self, request)
        artifact = build(openvino_recipe(request.variant, request.batch), request.ctx)
        return self.open(artifact.path, artifact.sha256, request)

    def open(self, path: Path, sha256: str, request: LoadRequest) -> OpenVinoRunner:
        """Compile the IR at ``path`` for the CPU as ``request``'s precision asks."""
        return OpenVinoRunner(path, sha256, compile_config(request.variant, request.ctx.threads))


def compile_config(variant: Variant, threads: int) -> dict[str, Any]:
    """CPU plugin properties for ``variant``: threads, latency hint, and the precision hint if forced."""
    config: dict[str, Any] = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
    hint = _HINTS[variant.precision]
    if hint is not None:
        config["INFERENCE_PRECISION_HINT"] = hint
    return config


def _int8_unsupported(variant: Variant) -> str | None:
    if importlib.util.find_spec("nncf") is None:  # not imported: nncf pulls in torch at import
        return "nncf is not installed (pip install nncf)"
    from harness.builders.quantize.openvino import nncf_unsupported

    if variant.quant is not None and (reason := nncf_unsupported(variant.quant)):
        return reason
    if source_data(variant.source) is None:
        return OPENVINO_NO_DATA
    return None
