#!/usr/bin/env python3
"""One entry point for a fresh machine with only python3 and pip.

    python3 dev.py bench [pytest args]   # the suites on the embedded default; writes reports/
    python3 dev.py test  [pytest args]   # the harness's own tests

On first use (and whenever pyproject.toml changes) it creates ./.venv and installs the
project with its dev and tflite extras into it. Everything else runs inside that environment.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".harness-installed"
TARGETS = {"bench": ["suites/"], "test": ["tests/"]}


def venv_python() -> Path:
    """The interpreter inside ./.venv."""
    return VENV / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def ensure_env() -> Path:
    """Create the virtual environment and install the project once per pyproject version."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.is_file() and STAMP.read_text().strip() == wanted and venv_python().is_file():
        return venv_python()
    if not venv_python().is_file():
        print(f"dev.py: creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    py = str(venv_python())
    print("dev.py: installing the harness and its dependencies (first run: a few minutes)", flush=True)
    subprocess.run([py, "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    # pip compiles bytecode on one core (about 32 s here); compileall on every core does the same
    # in about 21 s. Compiled once, up front: with PYTHONDONTWRITEBYTECODE set, as on this machine,
    # every later process would otherwise compile torch's modules again on import.
    subprocess.run(
        [py, "-m", "pip", "install", "-q", "--no-compile", "-e", f"{ROOT}[dev,tflite]"], check=True
    )
    site = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # Not checked: a few files are never importable here (torch's py312_intrinsics.py is 3.12-only
    # syntax) and make compileall exit 1; a module that fails to compile fails at import instead.
    compile_all = [py, "-m", "compileall", "-q", "-j", "0", site]
    subprocess.run(compile_all, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    STAMP.write_text(wanted)
    return venv_python()


def main(argv: list[str]) -> int:
    """Dispatch ``bench`` or ``test`` to pytest inside the environment; return pytest's exit code."""
    if not argv or argv[0] not in TARGETS:
        print(__doc__, file=sys.stderr)
        return 2
    py = ensure_env()
    cmd = [str(py), "-m", "pytest", *TARGETS[argv[0]], *argv[1:]]
    return subprocess.run(cmd, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
