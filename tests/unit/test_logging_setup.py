"""The library's logging stays silent unless the application configures it."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pika

ROOT = Path(__file__).resolve().parents[2]


def test_pika_logger_has_a_null_handler() -> None:
    handlers = logging.getLogger("pika").handlers
    assert any(isinstance(handler, logging.NullHandler) for handler in handlers)
    assert pika.__name__ == "pika"


def test_warnings_do_not_reach_stderr_unless_configured() -> None:
    # Without the NullHandler, Python's last-resort handler prints warnings
    # of an unconfigured application on stderr.
    program = (
        "import logging, pika\n"
        "logging.getLogger('pika.connection_recovery').warning('recovering')\n"
        "logging.getLogger('elsewhere').warning('shown')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "shown\n"
