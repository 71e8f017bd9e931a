#!/usr/bin/env python3
"""Run the unit tests (no broker needed) on every Python version the
package says it supports (``make test`` runs the whole suite on one).

The versions are the ``Programming Language :: Python :: 3.N`` classifiers
of ``pyproject.toml``. For each one, the script finds an interpreter
(``python3.N`` on the PATH, or pyenv's ``3.N``, with or without pyenv on
the PATH), keeps a virtualenv for it in ``.venv-3.N`` with the project and
its ``dev`` extras installed (again only when ``pyproject.toml`` is newer
than the virtualenv's stamp file, as the Makefile does for ``.venv``), and
runs ``pytest tests/unit`` there.

    python3 scripts/test_pythons.py             # every supported version
    python3 scripts/test_pythons.py 3.9 3.13    # only these

A version without an interpreter on this machine is reported and skipped,
unless ``--require-all`` is given (CI passes it: its machine has them all).
``--skip-own`` leaves out the version running the script, whose whole
suite ``make test`` runs (the Makefile makes ``.venv`` with the same
``python3``). Exits non-zero when a version's tests or installation
failed. Runs with any Python 3.9 or newer, standard library only.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
CLASSIFIER = re.compile(r'"Programming Language :: Python :: (3\.\d+)"')
STAMP = ".installed-from-pyproject"
TIMEOUT_SECONDS = 1800
NOT_FOUND = "no interpreter found"


def supported_versions() -> list[str]:
    """The ``3.N`` versions named by the package's classifiers, oldest first."""
    found = CLASSIFIER.findall(PYPROJECT.read_text(encoding="utf-8"))
    return sorted(set(found), key=lambda version: tuple(map(int, version.split("."))))


def _answers(python: str, version: str) -> bool:
    """Whether ``python`` runs and is Python ``version``."""
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == version


def find_interpreter(version: str) -> str | None:
    """An interpreter of Python ``version`` on this machine, or None."""
    on_path = shutil.which(f"python{version}")
    if on_path is not None and _answers(on_path, version):
        return on_path
    candidates = []
    pyenv = shutil.which("pyenv")
    if pyenv is not None:
        asked = [pyenv, "prefix", version]
        done = subprocess.run(asked, capture_output=True, text=True, timeout=60)
        if done.returncode == 0 and done.stdout.strip():
            candidates.append(Path(done.stdout.strip().splitlines()[-1]))
    # pyenv's versions without pyenv on the PATH: the newest patch release first.
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    installed = (pyenv_root / "versions").glob(f"{version}.*")
    candidates.extend(sorted(installed, key=_patch_level, reverse=True))
    for prefix in candidates:
        python = str(prefix / "bin" / "python3")
        if _answers(python, version):
            return python
    return None


def _patch_level(prefix: Path) -> int:
    """The patch number of a pyenv version directory such as ``3.9.18`` (-1 if none)."""
    patch = prefix.name.split(".")[-1]
    return int(patch) if patch.isdigit() else -1


def ensure_venv(interpreter: str, version: str) -> Path | None:
    """``.venv-<version>`` with the project and its dev extras; its python,
    or None when making it failed (pip's output is shown)."""
    venv = ROOT / f".venv-{version}"
    python = venv / "bin" / "python"
    stamp = venv / STAMP
    if not python.exists() and subprocess.run([interpreter, "-m", "venv", str(venv)]).returncode:
        return None
    if not stamp.exists() or stamp.stat().st_mtime < PYPROJECT.stat().st_mtime:
        install = [str(python), "-m", "pip", "install", "--quiet", "-e", ".[dev]"]
        if subprocess.run(install, cwd=ROOT).returncode != 0:
            return None
        stamp.touch()
    return python


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("versions", nargs="*", help="3.N versions (default: every supported)")
    parser.add_argument(
        "--require-all", action="store_true", help="a missing interpreter is a failure"
    )
    parser.add_argument(
        "--skip-own",
        action="store_true",
        help="skip the version running this script (make test has run the whole suite on it)",
    )
    options = parser.parse_args(argv)
    versions = options.versions or supported_versions()
    if options.skip_own:
        own = f"{sys.version_info[0]}.{sys.version_info[1]}"
        versions = [version for version in versions if version != own]
    results: list[tuple[str, str]] = []
    for version in versions:
        interpreter = find_interpreter(version)
        if interpreter is None:
            results.append((version, NOT_FOUND))
            continue
        print(f"== Python {version}: {interpreter}", flush=True)
        python = ensure_venv(interpreter, version)
        if python is None:
            results.append((version, "FAILED to install the project"))
            continue
        command = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit"]
        try:
            status = subprocess.run(command, cwd=ROOT, timeout=TIMEOUT_SECONDS).returncode
        except subprocess.TimeoutExpired:
            status = -1
        outcome = "passed" if status == 0 else f"FAILED (pytest exit {status})"
        results.append((version, f"unit tests {outcome}"))
    print()
    for version, outcome in results:
        print(f"Python {version}: {outcome}")
    failed = [
        outcome
        for _version, outcome in results
        if "FAILED" in outcome or (options.require_all and outcome == NOT_FOUND)
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
