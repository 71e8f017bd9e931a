"""The observer seam of the callback layer (`pika.telemetry`), without a broker."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pika.telemetry as telemetry


def test_no_observer_is_installed_by_default_and_core_imports_no_opentelemetry() -> None:
    code = (
        "import sys, pika, pika.adapters.blocking_connection, pika.telemetry\n"
        "assert pika.telemetry.installed() is None\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_install_sets_the_observer_and_uninstall_removes_it() -> None:
    observer: Any = object()
    try:
        telemetry.install(observer)
        assert telemetry.installed() is observer and telemetry.observer is observer
    finally:
        telemetry.uninstall()
    assert telemetry.installed() is None and telemetry.observer is None


def test_hand_off_marks_a_callback() -> None:
    def queue_it(*args: Any) -> None:
        pass

    def call_it(*args: Any) -> None:
        pass

    assert telemetry.hand_off(queue_it) is queue_it
    assert telemetry.is_hand_off(queue_it)
    assert not telemetry.is_hand_off(call_it)
