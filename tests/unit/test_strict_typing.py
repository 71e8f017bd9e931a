"""Programs using the library pass ``mypy --strict`` with no cast.

The programs are copied into an empty directory (inside this checkout,
mypy would find the package's sources next to them and never look at the
installed package) and mypy runs there in a subprocess, as in an
application's own checkout, with the configuration such an application would have:
``strict``, and only gevent (which ships no type information) exempt from
the missing-imports check. It finds ``pika`` installed in the environment
(the ``dev`` install), so the package's ``py.typed`` marker is what makes
it read the library's annotations (without it every import is
``import-untyped``). Checked: every program under ``examples/`` and the
typical user programs under ``tests/typing/``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = sorted(
    [*ROOT.joinpath("examples").glob("*.py"), *ROOT.joinpath("tests", "typing").glob("*.py")]
)
MYPY_TIMEOUT = 600

pytestmark = pytest.mark.timeout(MYPY_TIMEOUT + 60)


def test_the_programs_are_there() -> None:
    names = {path.name for path in PROGRAMS}
    assert {
        "app_blocking_publisher.py",
        "app_blocking_consumer.py",
        "app_select_consumer.py",
        "app_thread_safe.py",
        "app_recovery.py",
        "asyncio_consumer.py",
        "tornado_consumer.py",
        "twisted_consumer.py",
        "gevent_consumer.py",
    } <= names


def test_no_casts_or_ignores() -> None:
    for path in PROGRAMS:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\bcast\(|type:\s*ignore", text), path


def test_the_package_is_marked_typed() -> None:
    import pika

    assert Path(pika.__file__).with_name("py.typed").is_file()


USER_CONFIG = """\
[mypy]
strict = True

[mypy-gevent.*]
ignore_missing_imports = True
"""


def test_mypy_strict_passes(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in ("MYPYPATH", "PYTHONPATH")}
    config = tmp_path / "mypy.ini"
    config.write_text(USER_CONFIG, encoding="utf-8")
    programs = tmp_path / "programs"
    programs.mkdir()
    for path in PROGRAMS:
        shutil.copy(path, programs / path.name)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(config),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--python-executable",
            sys.executable,
            str(programs),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=MYPY_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"no issues found in {len(PROGRAMS)} source files" in done.stdout
