"""Content-addressed artifact store.

Each entry lives in ``<root>/artifacts/<key[:2]>/<key>/`` and holds the built files plus
``entry.json`` (recipe, artifact file name, sha256, build time). An entry is built in a private
temporary directory and renamed into place, so a run killed mid-build leaves no half-written
entry: the next run finds nothing under the key, removes the stale temporary directory and
rebuilds. A per-key file lock makes parallel pytest-xdist workers build each artifact once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from harness.recipes import Recipe

ENTRY_FILE = "entry.json"


@dataclass(frozen=True)
class Artifact:
    """A built, verified cache entry."""

    key: str
    directory: Path
    path: Path
    sha256: str
    build_seconds: float


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ArtifactCache:
    """Build-once store of artifacts keyed by recipe hash."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def entry_dir(self, key: str) -> Path:
        """Final directory of the entry for ``key``."""
        return self.root / "artifacts" / key[:2] / key

    def get(self, recipe: Recipe) -> Artifact | None:
        """The complete entry for ``recipe``, or None when absent or damaged."""
        return self._read_entry(recipe.key())

    def get_or_build(self, recipe: Recipe, build: Callable[[Path], str]) -> Artifact:
        """Return the entry for ``recipe``, building it under a lock when missing.

        ``build(tmpdir)`` writes files into ``tmpdir`` and returns the main artifact's file name.
        """
        key = recipe.key()
        found = self._read_entry(key)
        if found is not None:
            return found
        lock_path = self.root / "locks" / f"{key}.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(lock_path)):
            found = self._read_entry(key)
            if found is not None:
                return found
            return self._build(recipe, key, build)

    def _build(self, recipe: Recipe, key: str, build: Callable[[Path], str]) -> Artifact:
        tmp_root = self.root / "tmp"
        tmp_root.mkdir(parents=True, exist_ok=True)
        for stale in tmp_root.glob(f"{key}.*"):
            shutil.rmtree(stale, ignore_errors=True)
        final = self.entry_dir(key)
        if final.exists():  # damaged entry: keep it out of the way, never half-trust it
            shutil.rmtree(final)
        tmp = tmp_root / f"{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        start = time.perf_counter()
        name = build(tmp)
        seconds = time.perf_counter() - start
        entry = {
            "recipe": recipe.to_dict(),
            "artifact": name,
            "sha256": file_sha256(tmp / name),
            "build_seconds": round(seconds, 3),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (tmp / ENTRY_FILE).write_text(json.dumps(entry, indent=2, sort_keys=True))
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        artifact = self._read_entry(key)
        if artifact is None:
            raise RuntimeError(f"cache entry {final} vanished right after it was written")
        return artifact

    def _read_entry(self, key: str) -> Artifact | None:
        directory = self.entry_dir(key)
        try:
            entry = json.loads((directory / ENTRY_FILE).read_text())
            path = directory / entry["artifact"]
            sha = entry["sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not path.is_file() or file_sha256(path) != sha:
            return None
        return Artifact(key, directory, path, sha, float(entry.get("build_seconds", 0.0)))
