"""A typical `pika.aio` program passes ``mypy --strict`` without casts.

The program (``tests/data/aio_typed_program.py``) uses connect, channels,
the generated operations, confirmed publishing, basic_get, basic_consume
with an async callback, the consume iterator and the recovery callbacks.
mypy runs from a directory outside the project, so it reads the installed
package (and its ``py.typed`` marker) the way an application's check does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROGRAM = Path(__file__).resolve().parent.parent / "data" / "aio_typed_program.py"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.timeout(240)
def test_a_typical_aio_program_passes_mypy_strict(tmp_path: Path) -> None:
    programs = [PROGRAM, *sorted(EXAMPLES.glob("aio_*.py"))]
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *map(str, programs)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=230,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_package_is_marked_typed() -> None:
    import pika

    assert (Path(pika.__file__).parent / "py.typed").is_file()
