"""TensorRT: FP32/FP16 engines and INT8 engines calibrated on the calibration split.

Written against TensorRT's Python API (10.x: named I/O tensors, ``execute_async_v3``). Device
buffers and the stream come from torch, so no pycuda is needed. Where ``tensorrt`` or a CUDA
device is missing, every variant is unsupported with that reason (a pytest skip), never a row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.backends.base import LoadRequest, ensure_supported
from harness.builders import build
from harness.builders.quantize import ops_unsupported, overflow_fix_unsupported
from harness.builders.tensorrt import TrtEngineRecipe
from harness.cache import file_sha256
from harness.errors import HarnessError
from harness.planning import tensorrt_recipe
from harness.recipes import Variant

_PRECISIONS = ("fp32", "fp16", "int8")
_CALIBRATORS = ("entropy", "minmax")


class TrtRunner:
    """A deserialized engine with one input and one output tensor on a CUDA device."""

    def __init__(self, path: Path, device: str) -> None:
        import tensorrt as trt
        import torch

        self.device = torch.device(device)
        self._logger = trt.Logger(trt.Logger.WARNING)
        runtime = trt.Runtime(self._logger)
        engine = runtime.deserialize_cuda_engine(path.read_bytes())
        if engine is None:
            raise HarnessError(f"TensorRT could not deserialize the engine it built: {path}")
        self.engine = engine
        self.context = engine.create_execution_context()
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        self.input = next(n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self.output = next(n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
        shape = tuple(engine.get_tensor_shape(self.output))
        self._out = torch.empty(shape, dtype=torch.float32, device=self.device)
        self._stream = torch.cuda.Stream(self.device)
        self.artifact = path
        self.artifact_sha256 = file_sha256(path)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Copy in, enqueue, copy out; ``.cpu()`` waits for the stream."""
        import torch

        x = torch.from_numpy(batch).to(self.device)
        with torch.cuda.stream(self._stream):
            self.context.set_tensor_address(self.input, x.data_ptr())
            self.context.set_tensor_address(self.output, self._out.data_ptr())
            if not self.context.execute_async_v3(self._stream.cuda_stream):
                raise HarnessError(f"TensorRT execution failed for {self.artifact}")
        self._stream.synchronize()
        return self._out.cpu().numpy()


class TensorRTBackend:
    """Native TensorRT engines built from the FP32 ONNX export."""

    def unsupported(self, variant: Variant, device: str) -> str | None:
        """Missing package or device, or a precision / calibrator TensorRT has no path for."""
        try:
            import tensorrt  # noqa: F401
        except ImportError:
            return "tensorrt is not installed (pip install tensorrt; needs a CUDA device)"
        import torch

        if not device.startswith("cuda") or not torch.cuda.is_available():
            return f"TensorRT needs a CUDA device; device is {device!r}"
        if variant.precision not in _PRECISIONS:
            return f"TensorRT backend has no {variant.precision} path (supported: {', '.join(_PRECISIONS)})"
        quant = variant.quant
        if quant is not None and (quant.method != "static" or quant.calibration not in _CALIBRATORS):
            return f"TensorRT INT8 uses static calibration with {' or '.join(_CALIBRATORS)} calibrators"
        return ops_unsupported(quant, "TensorRT") or overflow_fix_unsupported(quant, "TensorRT")

    def load(self, request: LoadRequest) -> TrtRunner:
        """Build (cached) and deserialize the engine."""
        ensure_supported(self, request)
        recipe: TrtEngineRecipe = tensorrt_recipe(request.variant, request.batch)
        artifact = build(recipe, request.ctx)
        return self.open(artifact.path, artifact.sha256, request)

    def open(self, path: Path, sha256: str, request: LoadRequest) -> TrtRunner:
        """Deserialize the engine at ``path``."""
        return TrtRunner(path, request.ctx.device)
