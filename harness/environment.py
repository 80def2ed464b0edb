"""The environment fingerprint that keys stored baselines.

Two runs are compared on absolute latency only when their fingerprints are equal: same CPU
model, the instruction sets that decide INT8 and FP16 speed (AVX2, AVX-512, VNNI, AMX,
AVX512-FP16), core count, thread setting, GPU and versions of Python, the numeric libraries and
every backend (OpenVINO, NNCF, NCNN, pnnx, TensorRT).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

__all__ = [
    "ISA_FLAGS", "Fingerprint", "cpu_isa", "cpu_model", "current", "gpu_name", "int8_saturates", "package_version",
]  # fmt: skip

_CPUINFO = Path("/proc/cpuinfo")
_NOISE = re.compile(r"\((r|tm)\)|@.*$|\b(w/|with) radeon.*$|\b\d+-core\b|\b(cpu|processor)\b", re.IGNORECASE)
_BACKENDS = ("openvino", "nncf", "ncnn", "pnnx", "tensorrt", "onnx")
_OPTIONAL = ("gpu", "torch", "ultralytics", "onnxruntime", "numpy", "isa", *_BACKENDS)
ISA_FLAGS = (
    "avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16",
    "amx_tile", "amx_int8", "amx_bf16", "amx_fp16", "asimddp", "i8mm", "bf16", "sve",
)  # fmt: skip
"""The /proc/cpuinfo flags that decide INT8/FP16/BF16 speed, in report order (x86, then Arm)."""


@dataclass(frozen=True)
class Fingerprint:
    """What makes latency numbers comparable between two runs."""

    cpu: str
    cores: int
    threads: int
    gpu: str | None
    python: str
    torch: str | None
    ultralytics: str | None
    onnxruntime: str | None
    numpy: str | None
    isa: str | None = None
    openvino: str | None = None
    nncf: str | None = None
    ncnn: str | None = None
    pnnx: str | None = None
    tensorrt: str | None = None
    onnx: str | None = None

    @property
    def id(self) -> str:
        """Readable slug plus a short hash of every field, e.g. ``amd-epyc-9b14-2c-3f2a9c1d``."""
        parts = [_slug(self.cpu) or "cpu"]
        if self.gpu:
            parts.append(_slug(self.gpu))
        digest = hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()
        return "-".join([*parts, f"{self.cores}c", digest[:8]])

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Fingerprint:
        """Parse :meth:`to_dict` output; raises ValueError naming the bad field."""
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"unknown fingerprint field(s): {', '.join(unknown)}")
        values = {name: _field(data, name) for name in names}
        return cls(**values)  # type: ignore[arg-type]


def _field(data: Mapping[str, object], name: str) -> str | int | None:
    """One validated field of a fingerprint dict."""
    if name not in data:
        if name in _OPTIONAL:
            return None
        raise ValueError(f"fingerprint field '{name}' is missing")
    value = data[name]
    if name in ("cores", "threads"):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"fingerprint field '{name}' must be an integer >= 1, got {value!r}")
        return value
    if value is None and name in _OPTIONAL:
        return None
    if not isinstance(value, str):
        raise ValueError(f"fingerprint field '{name}' must be a string, got {value!r}")  # noqa: TRY004 (a stored value: callers catch ValueError)
    return value


def _slug(text: str) -> str:
    """Lower-case words of a hardware name joined by ``-``, without vendor noise."""
    cleaned = _NOISE.sub(" ", text.lower())
    return "-".join(re.findall(r"[a-z0-9]+", cleaned))[:40].strip("-")


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, else ``platform.processor()``."""
    try:
        for line in _CPUINFO.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cpu_isa() -> str | None:
    """The :data:`ISA_FLAGS` this CPU has, space-separated (``"none"`` when it has none of them);
    None where /proc/cpuinfo has no flags line (not Linux), so the fingerprint says "unknown"."""
    try:
        text = _CPUINFO.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            have = set(value.split())
            return " ".join(flag for flag in ISA_FLAGS if flag in have) or "none"
    return None


_INT8_DOT = ("avx512_vnni", "avx_vnni", "amx_int8")


@functools.cache
def int8_saturates() -> bool:
    """True on an x86 CPU whose flags show none of :data:`_INT8_DOT`: its INT8 convolutions sum u8 x s8
    pairs in 16 bits (``vpmaddubsw``), which saturate unless weights use 7 bits (ONNX Runtime's
    ``reduce_range``, NNCF's overflow fix). False elsewhere, and where the flags cannot be read."""
    if platform.machine().lower() not in ("x86_64", "amd64", "i686", "x86"):
        return False
    isa = cpu_isa()
    if isa is None:
        return False
    have = set(isa.split())
    return not any(flag in have for flag in _INT8_DOT)


def gpu_name() -> str | None:
    """Name of CUDA device 0 when torch is installed and CUDA is available."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    return str(torch.cuda.get_device_name(0))


def package_version(*names: str) -> str | None:
    """Installed version of the first distribution found among ``names``, else None."""
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def current(threads: int) -> Fingerprint:
    """The fingerprint of this machine for a run configured with ``threads`` threads."""
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    return Fingerprint(
        cpu=cpu_model(),
        cores=os.cpu_count() or 1,
        threads=threads,
        gpu=gpu_name(),
        python=platform.python_version(),
        torch=package_version("torch"),
        ultralytics=package_version("ultralytics"),
        onnxruntime=package_version("onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino"),
        numpy=package_version("numpy"),
        isa=cpu_isa(),
        openvino=package_version("openvino"),
        nncf=package_version("nncf"),
        ncnn=package_version("ncnn"),
        pnnx=package_version("pnnx"),
        tensorrt=package_version("tensorrt", "tensorrt-cu12", "tensorrt-cu13"),
        onnx=package_version("onnx"),
    )
