"""Exception types. Every message names the file or field at fault and what was expected."""

from __future__ import annotations


class HarnessError(Exception):
    """Bad input or an unusable artifact; the message says what and where."""


class ConfigError(HarnessError):
    """A config file or key is invalid."""


class DatasetError(HarnessError):
    """A dataset YAML, image or label file is invalid."""


class WeightsError(HarnessError):
    """A weights file is missing or is not a usable checkpoint."""


class BaselineError(HarnessError):
    """A stored baseline file is unreadable."""


class ResultsError(HarnessError):
    """A results file is corrupt or has an unsupported schema."""


class BackendUnavailable(HarnessError):
    """A backend cannot run here (not installed, no device). Becomes a pytest skip."""


class DistillError(HarnessError):
    """A teacher that cannot teach a student: different classes or head structure."""
