"""scripts/test_pythons.py, which CI runs to test every supported Python:
the versions it reads, the interpreters it finds, and when it fails."""

from __future__ import annotations

import importlib.util
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "test_pythons.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("test_pythons_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


script = _load()


def _fake_python(prefix: Path, prints: str) -> Path:
    """``prefix/bin/python3``: a program that prints ``prints`` whatever it is asked."""
    python = prefix / "bin" / "python3"
    python.parent.mkdir(parents=True)
    python.write_text(f"#!/bin/sh\necho {prints}\n")
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return python


@pytest.fixture
def pyenv_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pyenv tree of fake interpreters, with neither pyenv nor any
    ``python3.N`` on the PATH."""
    root = tmp_path / "pyenv"
    (root / "versions").mkdir(parents=True)
    monkeypatch.setenv("PYENV_ROOT", str(root))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    return root


def test_the_versions_are_the_classifiers_from_the_oldest_the_package_allows() -> None:
    versions = script.supported_versions()
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (minimum,) = re.findall(r'requires-python = ">=(3\.\d+)"', text)
    assert versions[0] == minimum
    assert "3.11" in versions
    as_numbers = [tuple(map(int, version.split("."))) for version in versions]
    assert as_numbers == sorted(set(as_numbers))


def test_pyenvs_newest_patch_release_is_found_without_pyenv_on_the_path(
    pyenv_root: Path,
) -> None:
    versions = pyenv_root / "versions"
    _fake_python(versions / "3.99.2", "3.99")
    newest = _fake_python(versions / "3.99.10", "3.99")
    _fake_python(versions / "3.990.1", "3.990")
    assert script.find_interpreter("3.99") == str(newest)


def test_an_interpreter_that_is_another_version_is_not_taken(pyenv_root: Path) -> None:
    _fake_python(pyenv_root / "versions" / "3.99.1", "3.98")
    assert script.find_interpreter("3.99") is None


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PATH="/nonexistent", PYENV_ROOT="/nonexistent"),
    )


def test_a_version_without_an_interpreter_is_reported_and_fails_only_when_all_are_required() -> (
    None
):
    lenient = _run("3.99")
    assert lenient.returncode == 0, lenient.stderr
    assert "Python 3.99: no interpreter found" in lenient.stdout
    strict = _run("--require-all", "3.99")
    assert strict.returncode == 1
    assert "Python 3.99: no interpreter found" in strict.stdout


def test_skip_own_leaves_out_the_running_version() -> None:
    own = f"{sys.version_info[0]}.{sys.version_info[1]}"
    done = _run("--require-all", "--skip-own", own)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Python {own}" not in done.stdout
