"""The distributions built from this checkout carry what users and tools
read: the typing marker, the licence, the classifiers, the project URLs and
the supported Python versions.

The wheel is built the way a user builds it (``pip wheel . --no-deps``,
without build isolation so no network is needed: the ``dev`` extra installs
hatchling), the sdist with hatchling's own command; both into a temporary
directory.
"""

from __future__ import annotations

import email.parser
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 300

pytestmark = pytest.mark.timeout(BUILD_TIMEOUT + 60)


def _build(args: list[str], out: Path) -> Path:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.iterdir()
    return built


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    path = _build(
        ["-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        out,
    )
    assert path.name.endswith("-py3-none-any.whl")
    return zipfile.ZipFile(path)


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> tarfile.TarFile:
    out = tmp_path_factory.mktemp("sdist")
    path = _build(["-m", "hatchling", "build", "-t", "sdist", "-d", str(out)], out)
    return tarfile.open(path)


def _metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return email.parser.Parser().parsestr(wheel.read(name).decode("utf-8"))


def test_wheel_ships_the_typing_marker_and_no_tests(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    assert "pika/py.typed" in names
    assert "pika/spec.py" in names and "pika/cli/main.py" in names
    assert not [n for n in names if n.startswith(("tests/", "examples/"))]


def test_wheel_carries_the_license(wheel: zipfile.ZipFile) -> None:
    (name,) = [n for n in wheel.namelist() if n.endswith("dist-info/licenses/LICENSE")]
    text = wheel.read(name).decode("utf-8")
    assert text == (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "BSD 3-Clause License" in text
    meta = _metadata(wheel)
    assert meta["License-Expression"] == "BSD-3-Clause"
    assert meta.get_all("License-File") == ["LICENSE"]


def test_wheel_metadata(wheel: zipfile.ZipFile) -> None:
    meta = _metadata(wheel)
    classifiers = set(meta.get_all("Classifier") or [])
    assert {
        "Typing :: Typed",
        "Operating System :: OS Independent",
        "Programming Language :: Python :: 3 :: Only",
    } <= classifiers
    versions = sorted(
        c.rsplit(":: ", 1)[1]
        for c in classifiers
        if c.startswith("Programming Language :: Python :: 3.")
    )
    assert versions == ["3.10", "3.11", "3.12", "3.13", "3.9"]
    assert meta["Requires-Python"] == ">=3.9"
    urls = meta.get_all("Project-URL") or []
    assert urls and all(", https://" in url for url in urls)
    assert meta["Name"] == "pika"


def test_sdist_has_license_sources_and_tests(sdist: tarfile.TarFile) -> None:
    names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {"LICENSE", "README.md", "pyproject.toml", "pika/py.typed", "pika/__init__.py"} <= names
    assert "codegen/generate_spec.py" in names and "codegen/amqp-rabbitmq-0.9.1.json" in names
    assert any(name.startswith("tests/") for name in names)
    assert not any(name.startswith(".venv/") for name in names)
