"""TFLite models for the LiteRT interpreter: FP32 from Ultralytics' export, FP16 and INT8 from it.

- **FP32**: Ultralytics' public ``export(format="tflite")`` (litert-torch underneath; batch 1,
  NCHW input, boxes normalised by the image size so that one INT8 output scale keeps the class
  scores' resolution; the runner multiplies them back, as Ultralytics' own LiteRT backend does).
- **FP16**: that model's weights stored in float16 (ai-edge-quantizer's ``FLOAT_CASTING``
  weight-only config): half the file, dequantised to float when the interpreter loads it.
- **INT8**: that model quantized with ai-edge-quantizer's public API, static INT8 weights and
  activations calibrated on the calibration split (the images every backend calibrates on,
  decoded as evaluation decodes them), graph input and output kept float. ``float_scope`` says
  what else stays float: ``"decode"`` (the default of the matrix: the DFL, the box and score decode
  and the coordinate scaling, as on every other backend), ``"head"`` (also the head's output
  convolutions) or ``"none"`` (everything quantized: Ultralytics' own ``int8=True`` recipe).

The ``tflite`` extra installs what this needs (litert-torch, ai-edge-litert, ai-edge-quantizer).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from harness.builders import BuildContext, build, builder, materialize
from harness.builders.weights import load_yolo
from harness.recipes import DataRecipe, Recipe, SourceRecipe

__all__ = [
    "FLOAT_SCOPES", "TFLITE_EXTRA", "TfliteQuantRecipe", "TfliteRecipe", "float_patterns", "missing_tflite",
    "read_metadata",
]  # fmt: skip

TFLITE_EXTRA = (
    "pip install 'yolo-compression-harness[tflite]' (litert-torch, ai-edge-litert, ai-edge-quantizer)"
)
MODULES = ("litert_torch", "ai_edge_litert", "ai_edge_quantizer")
INPUT_NAME = "args_0"  # litert-torch's name of the first positional input in the serving signature
FLOAT_SCOPES = ("none", "decode", "head", "silu")

# Output tensor names carry the PyTorch module path. The decode is everything computed directly in
# the Detect module (no submodule: ``...Detect_23;16``), the DFL and the coordinate normalisation;
# the head's output convolutions are its cv2/cv3 branches' last ``Conv2d_2``.
_DECODE = (r".*Detect_\d+;\d*$", r".*DFL_dfl.*", r".*_NormalizeCoords;\d*$", r".*serving_default_output.*")
_HEAD_OUTPUTS = (
    r".*Detect_\d+/torch\.nn\.modules\.container\.Sequential_\d+/torch\.nn\.modules\.conv\.Conv2d_2;.*",
)


def missing_tflite() -> str | None:
    """Why TFLite models cannot be built and run here (``None``: they can)."""
    missing = [m for m in MODULES if importlib.util.find_spec(m) is None]
    if missing:
        return f"TFLite needs the tflite extra; {', '.join(missing)} not installed ({TFLITE_EXTRA})"
    return None


_FLOAT_OPS = {"silu": ("LOGISTIC", "MUL")}


def float_patterns(scope: str) -> tuple[str, ...]:
    """Tensor-name patterns kept in float for ``scope`` (see the module docstring)."""
    return {"decode": _DECODE, "head": _DECODE + _HEAD_OUTPUTS, "silu": _DECODE, "none": ()}[scope]


@dataclass(frozen=True)
class TfliteRecipe(Recipe):
    """A checkpoint exported by Ultralytics to an FP32 ``.tflite`` (batch 1)."""

    kind: ClassVar[str] = "tflite"
    source: SourceRecipe
    imgsz: int
    versions: tuple[tuple[str, str], ...]

    def describe(self) -> str:
        """E.g. ``export tflite (imgsz 320)``."""
        return f"export tflite (imgsz {self.imgsz})"


@dataclass(frozen=True)
class TfliteQuantRecipe(Recipe):
    """An FP32 ``.tflite`` with FP16 weights, or quantized to static INT8 on a calibration set."""

    kind: ClassVar[str] = "tflite-quant"
    model: TfliteRecipe
    precision: str  # "fp16" or "int8"
    versions: tuple[tuple[str, str], ...]
    data: DataRecipe | None = None  # INT8: the dataset whose calibration images calibrate it
    calib_size: int = 100
    float_scope: str = "decode"

    def __post_init__(self) -> None:
        if self.precision not in ("fp16", "int8"):
            raise ValueError(f"a TFLite quantization is fp16 or int8, got {self.precision!r}")
        if self.float_scope not in FLOAT_SCOPES:
            raise ValueError(f"float_scope must be one of {FLOAT_SCOPES}, got {self.float_scope!r}")
        if self.precision == "int8" and self.data is None:
            raise ValueError("a TFLite INT8 model needs calibration data")

    def describe(self) -> str:
        """E.g. ``tflite int8 (100 calibration images, decode in float)``."""
        if self.precision == "fp16":
            return "tflite fp16 weights"
        return f"tflite int8 ({self.calib_size} calibration images, {self.float_scope} in float)"


@builder(TfliteRecipe)
def _export_tflite(recipe: TfliteRecipe, ctx: BuildContext, tmp: Path) -> str:
    local = tmp / "model.pt"
    shutil.copy2(materialize(recipe.source, ctx), local)
    out = Path(
        load_yolo(local).export(format="tflite", imgsz=recipe.imgsz, batch=1, device="cpu", verbose=False)
    )
    local.unlink()
    return out.relative_to(tmp).as_posix()


@builder(TfliteQuantRecipe)
def _quantize_tflite(recipe: TfliteQuantRecipe, ctx: BuildContext, tmp: Path) -> str:
    from ai_edge_quantizer import quantizer

    source = build(recipe.model, ctx).path
    out = tmp / f"model_{recipe.precision}.tflite"
    qt = quantizer.Quantizer(str(source))
    if recipe.precision == "fp16":
        _fp16_recipe(qt)
        qt.quantize().export_model(str(out), overwrite=True)
    else:
        _int8_recipe(qt, recipe.float_scope)
        samples = _calibration(recipe, ctx)
        ctx.log(f"harness: tflite int8: calibrating on {len(samples)} images, {recipe.float_scope} in float")
        result = qt.calibrate({"serving_default": samples})
        qt.quantize(calibration_result=result).export_model(str(out), overwrite=True)
    _copy_metadata(source, out)
    return out.name


def _fp16_recipe(qt: object) -> None:
    from ai_edge_quantizer import qtyping, recipe

    qt.add_weight_only_config(  # type: ignore[attr-defined]
        regex=".*", operation_name=qtyping.TFLOperationName.ALL_SUPPORTED, num_bits=16,
        algorithm_key=recipe.AlgorithmName.FLOAT_CASTING,
    )  # fmt: skip


def _int8_recipe(qt: object, scope: str) -> None:
    """Static INT8 everywhere, then float graph I/O and the scope's tensors (later entries win)."""
    from ai_edge_quantizer import qtyping, recipe

    qt.load_quantization_recipe(recipe.static_wi8_ai8())  # type: ignore[attr-defined]
    keep = recipe.AlgorithmName.NO_QUANTIZE
    for op in (qtyping.TFLOperationName.INPUT, qtyping.TFLOperationName.OUTPUT):
        qt.update_quantization_recipe(regex=".*", operation_name=op, algorithm_key=keep)  # type: ignore[attr-defined]
    for pattern in float_patterns(scope):
        qt.update_quantization_recipe(  # type: ignore[attr-defined]
            regex=pattern, operation_name=qtyping.TFLOperationName.ALL_SUPPORTED, algorithm_key=keep
        )
    for op in _FLOAT_OPS.get(scope, ()):
        operation = getattr(qtyping.TFLOperationName, op)
        qt.update_quantization_recipe(regex=".*", operation_name=operation, algorithm_key=keep)  # type: ignore[attr-defined]


def _calibration(recipe: TfliteQuantRecipe, ctx: BuildContext) -> list[dict[str, object]]:
    from harness.builders.quantize.calibration import calibration_images

    assert recipe.data is not None
    images = calibration_images(materialize(recipe.data, ctx), recipe.model.imgsz, recipe.calib_size)
    return [{INPUT_NAME: image[None]} for image in images]


def read_metadata(path: Path) -> dict[str, object]:
    """The ``metadata.json`` Ultralytics appends to a ``.tflite`` (empty when there is none)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return dict(json.loads(archive.read("metadata.json")))
    except (zipfile.BadZipFile, KeyError):
        return {}


def _copy_metadata(source: Path, target: Path) -> None:
    """Append the source model's metadata to the quantized one, as Ultralytics' export does."""
    with zipfile.ZipFile(target, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", json.dumps(read_metadata(source)))
