"""Polling until a condition holds, for tests that watch another process."""

from __future__ import annotations

import time
from typing import Callable, Optional, TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The condition did not hold in time (an AssertionError, so tests fail, not error)."""


def wait_until(
    condition: Callable[[], Optional[T]],
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str = "condition",
) -> T:
    """Call ``condition`` until it returns something truthy, and return that.

    Raises ``WaitTimeout`` naming ``message`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"{message} did not hold within {timeout:g} s")
        time.sleep(interval)
