"""NCNN models through the ``pnnx`` and ``ncnn`` wheels from PyPI: FP32/FP16 export and INT8 scales.

Ultralytics' own ``export(format="ncnn")`` pins and pip-installs another ``pnnx`` release at run
time, so the harness traces the fused model itself (as Ultralytics' exporter prepares it) and runs
the ``pnnx`` converter shipped inside the wheel, in the build directory (it writes debug files to
its working directory).

The ``ncnn`` wheel ships neither ``ncnn2table`` nor ``ncnn2int8``. INT8 is produced here with
what ncnn documents for those tools' output: a Convolution / ConvolutionDepthWise layer with
``8=1`` (``int8_scale_term``) followed in the ``.bin`` by its per-output-channel weight scales and
its input-blob scale. ncnn quantizes the float32 weights itself when the model is loaded with
``opt.use_int8_inference``. Input scales come from the calibration split run through ncnn.
"""

from __future__ import annotations

import struct
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from harness.builders import BuildContext, builder, materialize
from harness.builders.weights import load_net
from harness.errors import HarnessError
from harness.recipes import DataRecipe, Recipe, SourceRecipe

if TYPE_CHECKING:
    from torch import nn

PARAM = "model.ncnn.param"
BIN = "model.ncnn.bin"
INPUT_BLOB = "in0"
OUTPUT_BLOB = "out0"
CALIBRATIONS = ("minmax", "percentile", "entropy")
_PERCENTILE = 99.99
_BINS = 2048
_LEVELS = 128  # int8 magnitudes that the entropy search maps a clipped histogram onto
_QUANTIZABLE = ("Convolution", "ConvolutionDepthWise")


@dataclass(frozen=True)
class NcnnRecipe(Recipe):
    """A checkpoint converted by pnnx to ``model.ncnn.param`` + ``model.ncnn.bin`` (batch 1).

    ``half`` stores the weights as float16 in the ``.bin`` (pnnx ``fp16=1``).
    """

    kind: ClassVar[str] = "ncnn"
    source: SourceRecipe
    imgsz: int
    versions: tuple[tuple[str, str], ...]
    half: bool = False

    def describe(self) -> str:
        """E.g. ``pnnx -> ncnn (imgsz 320, fp16 weights)``."""
        return f"pnnx -> ncnn (imgsz {self.imgsz}{', fp16 weights' if self.half else ''})"


@dataclass(frozen=True)
class NcnnInt8Recipe(Recipe):
    """An FP32 NCNN model with INT8 scales calibrated on the first ``calib_size`` calibration images.

    ``calibration``: "minmax" (largest |x|), "percentile" (99.99th percentile of |x|) or "entropy"
    (the clipping threshold whose 128-level quantized histogram has the least KL divergence from
    the clipped one, the method of ncnn2table and TensorRT).
    ``per_channel``: one weight scale per output channel, else one per layer.
    """

    kind: ClassVar[str] = "ncnn-int8"
    model: NcnnRecipe
    data: DataRecipe
    calibration: str
    calib_size: int
    per_channel: bool = True
    versions: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f"ncnn int8 calibration must be one of {CALIBRATIONS}, got {self.calibration!r}")
        if self.model.half:
            raise ValueError("ncnn int8 scales are added to the float32 model (model.half must be False)")

    def describe(self) -> str:
        """E.g. ``ncnn int8 scales (minmax, 100 calibration images)``."""
        return f"ncnn int8 scales ({self.calibration}, {self.calib_size} calibration images)"


def companion_bin(param: Path) -> Path:
    """The ``.bin`` that lies beside a built ``.param``."""
    return param.with_name(BIN)


# --- FP32 / FP16 export --------------------------------------------------------------------------


@builder(NcnnRecipe)
def _export_ncnn(recipe: NcnnRecipe, ctx: BuildContext, tmp: Path) -> str:
    import pnnx
    import torch

    net = _export_ready(materialize(recipe.source, ctx))
    example = torch.zeros(1, 3, recipe.imgsz, recipe.imgsz)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the head's shape check, fixed here
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.trace: pnnx reads TorchScript
        net(example)  # the head caches its anchors for this shape before tracing
        torch.jit.trace(net, example).save(str(tmp / "model.pt"))
    command = [
        pnnx.EXEC_PATH,
        "model.pt",
        f"inputshape=[1,3,{recipe.imgsz},{recipe.imgsz}]f32",
        f"ncnnparam={PARAM}",
        f"ncnnbin={BIN}",
        f"fp16={int(recipe.half)}",
        "device=cpu",
    ]
    done = subprocess.run(command, cwd=tmp, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not (tmp / PARAM).is_file():
        raise HarnessError(
            f"pnnx failed (exit {done.returncode}) converting {recipe.describe()}: {done.stderr[-2000:]}"
        )
    for extra in tmp.iterdir():
        if extra.name not in (PARAM, BIN):
            extra.unlink()
    return PARAM


def _export_ready(checkpoint: Path) -> nn.Module:
    """The fused float32 detection model in eval mode, its head set up as Ultralytics exports it."""
    from ultralytics.nn.modules import C2f, Detect

    model = load_net(checkpoint)
    for p in model.parameters():
        p.requires_grad = False
    model = model.eval().float().fuse()
    for m in model.modules():
        if isinstance(m, Detect):
            m.dynamic, m.export, m.shape = False, True, None
            m.format = "ncnn"  # type: ignore[assignment]  # Detect declares ``format = None``
        elif isinstance(m, C2f):
            m.forward = m.forward_split  # type: ignore[method-assign]  # as Ultralytics' exporter does
    return model


# --- INT8 scales ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """One line of an ncnn ``.param``: type, name, blob names and ``key=value`` parameters."""

    type: str
    name: str
    bottoms: tuple[str, ...]
    tops: tuple[str, ...]
    params: tuple[str, ...]

    @classmethod
    def parse(cls, line: str) -> Layer:
        """Split ``Type name nbottom ntop bottoms... tops... k=v...``."""
        parts = line.split()
        n_in, n_out = int(parts[2]), int(parts[3])
        blobs = parts[4 : 4 + n_in + n_out]
        return cls(
            parts[0], parts[1], tuple(blobs[:n_in]), tuple(blobs[n_in:]), tuple(parts[4 + n_in + n_out :])
        )

    def get(self, key: int, default: int = 0) -> int:
        """Integer parameter ``key`` (ncnn's ``pd.get(key, default)``)."""
        for item in self.params:
            k, _, v = item.partition("=")
            if k == str(key):
                return int(v)
        return default

    def line(self) -> str:
        """The ``.param`` line for this layer."""
        counts = f"{len(self.bottoms)} {len(self.tops)}"
        return " ".join(
            [f"{self.type:<24}", f"{self.name:<24}", counts, *self.bottoms, *self.tops, *self.params]
        )


def read_param(path: Path) -> tuple[str, list[Layer]]:
    """Magic line and layers of an ncnn ``.param`` (the counts line is recomputed on write)."""
    lines = path.read_text().splitlines()
    return lines[0], [Layer.parse(line) for line in lines[2:] if line.strip()]


def quantizable(layers: list[Layer]) -> list[Layer]:
    """Convolutions to run in INT8: every one except those fed by a Softmax (the DFL box decode).

    The decode that turns distributions into boxes stays in float: quantizing it is the known
    cause of a collapsed detection head.
    """
    producer = {top: layer for layer in layers for top in layer.tops}
    return [
        layer
        for layer in layers
        if layer.type in _QUANTIZABLE and producer[layer.bottoms[0]].type != "Softmax"
    ]


@builder(NcnnInt8Recipe)
def _calibrate_ncnn(recipe: NcnnInt8Recipe, ctx: BuildContext, tmp: Path) -> str:
    from harness.builders.quantize.calibration import calibration_images

    param = materialize(recipe.model, ctx)
    images = calibration_images(materialize(recipe.data, ctx), recipe.model.imgsz, recipe.calib_size)
    magic, layers = read_param(param)
    chosen = quantizable(layers)
    ctx.log(f"harness: ncnn int8: calibrating {len(chosen)} convolutions on {len(images)} images")
    ranges = activation_ranges(
        param, [layer.bottoms[0] for layer in chosen], images, recipe.calibration, ctx.threads
    )
    input_scales = {layer.name: _scale(ranges[layer.bottoms[0]]) for layer in chosen}
    _write_int8(companion_bin(param), layers, input_scales, recipe.per_channel, tmp)
    marked = [_mark_int8(layer) if layer.name in input_scales else layer for layer in layers]
    blobs = len({blob for layer in layers for blob in layer.tops})
    (tmp / PARAM).write_text("\n".join([magic, f"{len(layers)} {blobs}", *(x.line() for x in marked)]) + "\n")
    return PARAM


def activation_ranges(
    param: Path, blobs: list[str], images: np.ndarray, method: str, threads: int
) -> dict[str, float]:
    """Per blob, the |activation| range on ``images`` through the float32 ncnn model.

    "minmax": the largest |x|. "percentile" and "entropy" read a 2048-bin histogram over
    [0, max] filled in a second pass (nothing is kept per image).
    """
    net = _float_net(param, threads)
    wanted = sorted(set(blobs))
    absmax = dict.fromkeys(wanted, 0.0)
    for acts in _activations(net, wanted, images):
        for blob, values in acts.items():
            absmax[blob] = max(absmax[blob], float(values.max()))
    if method == "minmax":
        return absmax
    hist = {blob: np.zeros(_BINS, np.int64) for blob in wanted}
    for acts in _activations(net, wanted, images):
        for blob, values in acts.items():
            hist[blob] += np.histogram(values, _BINS, (0.0, absmax[blob] or 1.0))[0]
    pick = _percentile if method == "percentile" else _entropy_threshold
    return {blob: pick(hist[blob], absmax[blob]) for blob in wanted}


def _float_net(param: Path, threads: int) -> object:
    import ncnn

    net = ncnn.Net()
    set_precision(net.opt, "fp32", threads)
    net.opt.lightmode = False  # keep intermediate blobs so that every one can be extracted
    net.load_param(str(param))
    net.load_model(str(companion_bin(param)))
    return net


def _activations(net: object, blobs: list[str], images: np.ndarray) -> Iterator[dict[str, np.ndarray]]:
    """|activation| of each blob, one image at a time."""
    import ncnn

    for image in images:
        extractor = net.create_extractor()  # type: ignore[attr-defined]
        extractor.input(INPUT_BLOB, ncnn.Mat(np.ascontiguousarray(image)))
        out: dict[str, np.ndarray] = {}
        for blob in blobs:
            code, mat = extractor.extract(blob)
            if code != 0:
                raise HarnessError(f"ncnn could not extract blob {blob!r} (code {code})")
            out[blob] = np.abs(np.array(mat))
        yield out


def _percentile(hist: np.ndarray, absmax: float) -> float:
    cumulative = np.cumsum(hist) / max(int(hist.sum()), 1)
    edge = int(np.searchsorted(cumulative, _PERCENTILE / 100.0))
    return absmax * min(edge + 1, _BINS) / _BINS


def set_precision(opt: object, precision: str, threads: int) -> None:
    """ncnn options for ``fp32``, ``fp16`` (fp16 storage, packing and arithmetic) or ``int8``."""
    half = precision == "fp16"
    opt.num_threads = threads  # type: ignore[attr-defined]
    opt.use_vulkan_compute = False  # type: ignore[attr-defined]
    # Idle OpenMP workers must not spin (ncnn's default is 20 ms): they would steal the cores from
    # whatever is timed next (the interleaved reference) and distort same-run ratios.
    opt.openmp_blocktime = 0  # type: ignore[attr-defined]
    opt.use_fp16_storage = opt.use_fp16_packed = opt.use_fp16_arithmetic = half  # type: ignore[attr-defined]
    opt.use_bf16_storage = False  # type: ignore[attr-defined]
    opt.use_int8_inference = precision == "int8"  # type: ignore[attr-defined]


def _entropy_threshold(hist: np.ndarray, absmax: float) -> float:
    """The |x| threshold minimizing KL(clipped histogram || its 128-level quantization)."""
    counts = hist.astype(np.float64)
    best, best_kl = _BINS, np.inf
    for edge in range(_LEVELS, _BINS + 1):
        p = counts[:edge].copy()
        p[-1] += counts[edge:].sum()
        used = counts[:edge] > 0
        level = np.arange(edge) * _LEVELS // edge
        total = np.bincount(level, counts[:edge], _LEVELS)
        filled = np.bincount(level, used, _LEVELS)
        q = np.where(used, total[level] / np.maximum(filled[level], 1), 0.0)
        kl = _kl(p, q)
        if kl < best_kl:
            best, best_kl = edge, kl
    return absmax * (best + 0.5) / _BINS


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    p = p / max(p.sum(), 1e-30)
    q = np.maximum(q / max(q.sum(), 1e-30), 1e-12)
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def _scale(absmax: float) -> float:
    """ncnn's int8 scale: 127 / |x|max (1 for an all-zero tensor)."""
    return 127.0 / absmax if absmax > 0 else 1.0


def _mark_int8(layer: Layer) -> Layer:
    params = tuple(p for p in layer.params if not p.startswith("8=")) + ("8=1",)
    return Layer(layer.type, layer.name, layer.bottoms, layer.tops, params)


def _write_int8(
    src: Path, layers: list[Layer], input_scales: dict[str, float], per_channel: bool, tmp: Path
) -> None:
    """Copy the float32 ``.bin``, appending weight and input scales after each chosen layer."""
    data = src.read_bytes()
    out = bytearray()
    for layer, start, end, weights in _walk_bin(data, layers):
        out += data[start:end]
        if layer.name in input_scales:
            out += _weight_scales(layer, weights, per_channel).astype("<f4").tobytes()
            out += struct.pack("<f", input_scales[layer.name])
    (tmp / BIN).write_bytes(bytes(out))


def _weight_scales(layer: Layer, weights: np.ndarray, per_channel: bool) -> np.ndarray:
    groups = layer.get(0) if layer.type == "Convolution" else layer.get(7, 1)
    absmax = np.abs(weights.reshape(groups, -1)).max(axis=1)
    if not per_channel:
        absmax = np.full_like(absmax, absmax.max())
    return np.where(absmax > 0, 127.0 / np.maximum(absmax, 1e-30), 1.0)


def _walk_bin(data: bytes, layers: list[Layer]) -> Iterator[tuple[Layer, int, int, np.ndarray]]:
    """Each weighted layer's byte span in a float32 ``.bin`` (and its weights, for convolutions)."""
    offset = 0
    for layer in layers:
        start = offset
        weights = np.empty(0, np.float32)
        if layer.type in _QUANTIZABLE:
            tag = struct.unpack_from("<I", data, offset)[0]
            if tag != 0:
                raise HarnessError(f"ncnn layer {layer.name}: weights are not raw float32 (tag {tag:#x})")
            n = layer.get(6)
            weights = np.frombuffer(data, "<f4", n, offset + 4)
            offset += 4 + 4 * n + 4 * layer.get(0) * layer.get(5)
        elif layer.type == "MemoryData":
            offset += 4 * int(np.prod([max(layer.get(k), 1) for k in (0, 1, 11, 2)]))
        elif layer.type in ("InnerProduct", "Deconvolution", "DeconvolutionDepthWise", "Gemm", "Embed"):
            raise HarnessError(f"ncnn int8: layer type {layer.type} ({layer.name}) is not handled yet")
        if offset != start:
            yield layer, start, offset, weights
    if offset != len(data):
        raise HarnessError(
            f"ncnn int8: walked {offset} bytes of a {len(data)}-byte .bin; layer layout not understood"
        )
