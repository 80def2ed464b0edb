"""Environment fingerprint: fields, readable id, JSON round trip, strict parsing."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import environment
from harness.environment import Fingerprint, current


def _fp(**changes: object) -> Fingerprint:
    base = Fingerprint(
        cpu="AMD EPYC 9B14 96-Core Processor", cores=2, threads=2, gpu=None, python="3.11.7",
        torch="2.5.0", ultralytics="8.4.0", onnxruntime="1.20.0", numpy="2.1.0",
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def test_current_describes_this_machine() -> None:
    fp = current(threads=3)
    assert fp.threads == 3
    assert fp.cores >= 1
    assert fp.cpu
    assert fp.python.count(".") == 2
    assert fp.numpy is not None  # installed in the dev environment


def test_current_rejects_zero_threads() -> None:
    with pytest.raises(ValueError, match="threads"):
        current(0)


def test_id_is_readable_slug_cores_and_hash() -> None:
    assert re.fullmatch(r"amd-epyc-9b14-2c-[0-9a-f]{8}", _fp().id)


def test_id_includes_gpu_name() -> None:
    assert _fp(gpu="NVIDIA H100 80GB HBM3").id.startswith("amd-epyc-9b14-nvidia-h100-80gb-hbm3-2c-")


@pytest.mark.parametrize(
    "field, value", [("threads", 4), ("torch", "2.6.0"), ("onnxruntime", None), ("gpu", "x")]
)
def test_id_changes_with_every_field(field: str, value: object) -> None:
    assert _fp(**{field: value}).id != _fp().id


@pytest.mark.parametrize(
    "cpu, slug",
    [
        ("Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz", "intel-xeon-platinum-8481c"),
        ("AMD Ryzen 7 7840U w/ Radeon  780M Graphics", "amd-ryzen-7-7840u"),
        ("Apple M2", "apple-m2"),
        ("", "cpu"),
    ],
)
def test_cpu_slugs(cpu: str, slug: str) -> None:
    assert _fp(cpu=cpu).id.startswith(f"{slug}-2c-")


_versions = st.one_of(st.none(), st.from_regex(r"[0-9]{1,2}\.[0-9]{1,2}(\.[0-9]+)?", fullmatch=True))


@given(
    cpu=st.text(min_size=1, max_size=60),
    cores=st.integers(1, 512),
    threads=st.integers(1, 512),
    gpu=st.one_of(st.none(), st.text(min_size=1, max_size=40)),
    torch=_versions,
)
def test_dict_round_trip(cpu: str, cores: int, threads: int, gpu: str | None, torch: str | None) -> None:
    fp = _fp(cpu=cpu, cores=cores, threads=threads, gpu=gpu, torch=torch)
    assert Fingerprint.from_dict(fp.to_dict()) == fp
    assert Fingerprint.from_dict(fp.to_dict()).id == fp.id


def test_from_dict_defaults_missing_optional_fields_to_none() -> None:
    data = {"cpu": "x", "cores": 1, "threads": 1, "python": "3.11.0"}
    assert Fingerprint.from_dict(data).torch is None


@pytest.mark.parametrize(
    "change, message",
    [
        ({"cpu": None}, "'cpu' must be a string"),
        ({"cores": "2"}, "'cores' must be an integer"),
        ({"threads": True}, "'threads' must be an integer"),
        ({"threads": 0}, "'threads' must be an integer >= 1"),
        ({"torch": 2.5}, "'torch' must be a string"),
        ({"os": "linux"}, "unknown fingerprint field"),
    ],
)
def test_from_dict_rejects_bad_fields(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Fingerprint.from_dict({**_fp().to_dict(), **change})


def test_from_dict_requires_cpu() -> None:
    data = _fp().to_dict()
    del data["cpu"]
    with pytest.raises(ValueError, match="'cpu' is missing"):
        Fingerprint.from_dict(data)


def test_cpu_model_reads_cpuinfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Fancy CPU 9000\n")
    monkeypatch.setattr(environment, "_CPUINFO", info)
    assert environment.cpu_model() == "Fancy CPU 9000"


def test_cpu_model_falls_back_without_cpuinfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(environment, "_CPUINFO", tmp_path / "missing")
    assert environment.cpu_model()


def test_package_version_of_absent_package_is_none() -> None:
    assert environment.package_version("surely-not-installed-pkg-xyz") is None
    assert environment.package_version("surely-not-installed-pkg-xyz", "numpy") is not None


@pytest.mark.parametrize(
    "flags, isa",
    [
        (
            "fpu avx avx2 avx512f avx512_vnni avx512_bf16 amx_tile amx_int8",
            "avx2 avx512f avx512_vnni avx512_bf16 amx_tile amx_int8",
        ),
        ("fpu sse4_2 avx avx2 fma", "avx2"),
        ("fpu sse4_2", "none"),
    ],
)  # fmt: skip
def test_cpu_isa_lists_the_flags_that_decide_int8_speed(
    flags: str, isa: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nmodel name\t: X\nflags\t\t: {flags}\n")
    monkeypatch.setattr(environment, "_CPUINFO", info)
    assert environment.cpu_isa() == isa


def test_cpu_isa_is_unknown_without_a_flags_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(environment, "_CPUINFO", tmp_path / "missing")
    assert environment.cpu_isa() is None


def test_current_records_isa_and_backend_versions() -> None:
    fp = current(threads=2).to_dict()
    for key in ("isa", "openvino", "nncf", "ncnn", "pnnx", "tensorrt", "onnx"):
        assert key in fp
    assert fp["openvino"] is not None and fp["nncf"] is not None  # installed with the harness


@pytest.mark.parametrize("field, value", [("isa", "avx2"), ("openvino", "2025.1"), ("nncf", "2.16")])
def test_id_changes_with_isa_and_backend_versions(field: str, value: str) -> None:
    assert _fp(**{field: value}).id != _fp().id


@pytest.mark.parametrize(
    ("machine", "isa", "saturates"),
    [
        ("x86_64", "avx2", True),  # AVX2 only (a 2-core EPYC here): vpmaddubsw, 16-bit pair sums
        ("x86_64", "none", True),
        ("x86_64", "avx2 avx512f avx512_vnni", False),
        ("x86_64", "avx2 avx_vnni", False),
        ("x86_64", "avx2 avx512f amx_tile amx_int8", False),
        ("x86_64", None, False),  # flags unknown: NNCF's and ONNX Runtime's defaults
        ("aarch64", "asimddp", False),
    ],
)
def test_int8_saturates_without_vnni_on_x86_only(
    machine: str, isa: str | None, saturates: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(environment.platform, "machine", lambda: machine)
    monkeypatch.setattr(environment, "cpu_isa", lambda: isa)
    environment.int8_saturates.cache_clear()
    try:
        assert environment.int8_saturates() is saturates
    finally:
        environment.int8_saturates.cache_clear()
