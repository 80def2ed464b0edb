"""Installed library versions, for recipe hashes and fingerprints."""

from __future__ import annotations

from importlib import metadata


def version_of(package: str) -> str | None:
    """Installed version of ``package``, or None when it is not installed."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def versions(*packages: str) -> tuple[tuple[str, str], ...]:
    """``((package, version), ...)`` for the installed ones, in the given order."""
    found = ((name, version_of(name)) for name in packages)
    return tuple((name, v) for name, v in found if v is not None)
