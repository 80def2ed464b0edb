"""TensorRT engine recipes and the builder (FP32, FP16, INT8 with entropy / min-max calibrators)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.builders import BuildContext, builder, materialize
from harness.errors import HarnessError
from harness.recipes import DataRecipe, ExportRecipe, QuantSpec, Recipe

ENGINE_FILE = "model.engine"
_WORKSPACE_BYTES = 2 << 30


@dataclass(frozen=True)
class TrtEngineRecipe(Recipe):
    """A serialized TensorRT engine for one precision (and, for INT8, one calibration)."""

    kind: ClassVar[str] = "tensorrt-engine"
    source: ExportRecipe
    precision: str
    data: DataRecipe | None
    quant: QuantSpec | None
    versions: tuple[tuple[str, str], ...]

    def describe(self) -> str:
        """E.g. ``tensorrt int8 engine (entropy, 500 images)``."""
        extra = f" ({self.quant.calibration}, {self.quant.calib_size} images)" if self.quant else ""
        return f"tensorrt {self.precision} engine{extra}"


@builder(TrtEngineRecipe)
def _build_engine(recipe: TrtEngineRecipe, ctx: BuildContext, tmp: Path) -> str:
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    trt_builder = trt.Builder(logger)
    network = trt_builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    onnx_path = materialize(recipe.source, ctx)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise HarnessError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = trt_builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, _WORKSPACE_BYTES)
    calibrator = _configure_precision(trt, config, recipe, ctx, tmp)
    serialized = trt_builder.build_serialized_network(network, config)
    del calibrator  # kept alive until the build is done
    if serialized is None:
        raise HarnessError(f"TensorRT failed to build a {recipe.precision} engine from {onnx_path}")
    (tmp / ENGINE_FILE).write_bytes(bytes(serialized))
    return ENGINE_FILE


def _configure_precision(trt: Any, config: Any, recipe: TrtEngineRecipe, ctx: BuildContext, tmp: Path) -> Any:
    """Set builder flags; for INT8 attach a calibrator over the calibration split."""
    if recipe.precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
        return None
    if recipe.precision != "int8" or recipe.quant is None or recipe.data is None:
        return None
    from harness.builders.quantize.calibration import calibration_images

    images = calibration_images(materialize(recipe.data, ctx), recipe.source.imgsz, recipe.quant.calib_size)
    config.set_flag(trt.BuilderFlag.INT8)
    config.set_flag(trt.BuilderFlag.FP16)  # layers TensorRT keeps out of INT8 may still use FP16
    calibrator = make_calibrator(
        trt, recipe.quant.calibration, images, recipe.source.batch, tmp / "calib.cache"
    )
    config.int8_calibrator = calibrator
    return calibrator


def make_calibrator(trt: Any, method: str, images: np.ndarray, batch: int, cache: Path) -> Any:
    """An ``IInt8EntropyCalibrator2`` or ``IInt8MinMaxCalibrator`` feeding ``images`` in batches."""
    bases = {"entropy": trt.IInt8EntropyCalibrator2, "minmax": trt.IInt8MinMaxCalibrator}

    class Calibrator(bases[method]):  # type: ignore[misc,valid-type]
        def __init__(self) -> None:
            super().__init__()
            import torch

            self._batches = [images[i : i + batch] for i in range(0, len(images) - batch + 1, batch)]
            self._device = torch.empty(images[:batch].shape, dtype=torch.float32, device="cuda")
            self._next = 0

        def get_batch_size(self) -> int:
            return batch

        def get_batch(self, names: list[str]) -> list[int] | None:
            import torch

            if self._next >= len(self._batches):
                return None
            self._device.copy_(torch.from_numpy(self._batches[self._next]))
            self._next += 1
            return [int(self._device.data_ptr())]

        def read_calibration_cache(self) -> bytes | None:
            return cache.read_bytes() if cache.is_file() else None

        def write_calibration_cache(self, data: bytes) -> None:
            cache.write_bytes(bytes(data))

    return Calibrator()
