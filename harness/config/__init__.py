"""The harness config: the loader, the profiles, the typed TOML reader and one module per table.

``from harness.config import HarnessConfig, load_config`` is the public entry point; each table's
spec lives in its own module (``harness.config.budgets``, ``harness.config.pruning``, ...).
"""

from harness.config.dataset import DatasetSpec
from harness.config.latency import LatencySpec
from harness.config.loader import (
    FALLBACK_BACKENDS,
    HarnessConfig,
    build_config,
    default_known_backends,
    find_config,
    load_config,
)
from harness.config.matrix import PRECISIONS, MatrixSpec, QuantChoice
from harness.config.mixed_precision import MixedPrecisionSpec
from harness.config.models import ModelSpec

__all__ = [
    "FALLBACK_BACKENDS",
    "PRECISIONS",
    "DatasetSpec",
    "HarnessConfig",
    "LatencySpec",
    "MatrixSpec",
    "MixedPrecisionSpec",
    "ModelSpec",
    "QuantChoice",
    "build_config",
    "default_known_backends",
    "find_config",
    "load_config",
]
