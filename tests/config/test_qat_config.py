"""The ``[studies.qat]`` table: defaults, and errors that name the key."""

from __future__ import annotations

import pytest

from harness.config.qat import QDQ_BACKENDS, QatSpec
from harness.config.reader import Where
from harness.errors import ConfigError

WHERE = Where("harness.toml", "studies.qat")


def test_an_empty_table_takes_every_default() -> None:
    spec = QatSpec.from_table({}, WHERE)
    assert spec == QatSpec() and spec.backends == QDQ_BACKENDS and spec.epochs == 2 and spec.recover == 0.5


def test_values_are_read() -> None:
    spec = QatSpec.from_table({"epochs": 3, "backends": ["openvino"], "models": ["m"], "lr0": 0.001}, WHERE)
    assert (spec.epochs, spec.backends, spec.models, spec.lr0) == (3, ("openvino",), ("m",), 0.001)


@pytest.mark.parametrize("backend", ["ncnn", "torch", "tensorrt"])
def test_a_backend_without_qdq_int8_is_refused_by_name(backend: str) -> None:
    with pytest.raises(ConfigError, match=rf"studies.qat.backends in harness.toml: backend '{backend}' cannot "
                                          r"run the QDQ INT8 graph QAT exports \(QAT runs on onnxruntime, openvino\)"):  # fmt: skip
        QatSpec.from_table({"backends": ["onnxruntime", backend]}, WHERE)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"epoch": 2}, "unknown key 'studies.qat.epoch'"),
        ({"epochs": 0}, "studies.qat.epochs in harness.toml: expected an integer >= 1"),
        ({"recover": 1.5}, "studies.qat.recover in harness.toml: expected a number in"),
        ({"backends": "openvino"}, "studies.qat.backends in harness.toml: expected a list"),
    ],
)
def test_bad_values_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        QatSpec.from_table(table, WHERE)
