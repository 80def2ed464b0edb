"""Backends registered lazily as ``"module:Class"`` strings: importing the harness imports none.

The name table itself lives in :mod:`harness.config.backends` (so that the config can check
backend names without importing this package); ``register`` and ``known_backends`` are
re-exported here for existing callers.
"""

from __future__ import annotations

import difflib
import importlib

from harness.backends.base import Backend
from harness.config.backends import backend_target, known_backends, register
from harness.errors import ConfigError

__all__ = ["get_backend", "known_backends", "register"]


def get_backend(name: str) -> Backend:
    """Instantiate the backend ``name``; an unknown name fails with a suggestion."""
    target = backend_target(name)
    if target is None:
        names = known_backends()
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown backend {name!r} (known: {', '.join(names)}){hint}")
    module_name, _, cls_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls()
