"""The plumbing of the thread-safe connection: calls handed to its I/O thread.

Other threads never touch the callback layer. They queue work for the I/O
thread in a `CallQueue` (bounded: a thread that finds it full waits, which
is the back-pressure of a slow socket) and, for a request that has a reply,
wait on a `CallResult` that the I/O thread resolves or fails. `ReplyTimeout`
is what a wait past its ``timeout`` raises. The defaults of the connection's
limits (Pika's values) are here too, so the generated operations module can
name them in signatures.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Optional

from pika import exceptions

__all__ = [
    "DEFAULT_RPC_TIMEOUT",
    "DEFAULT_WORK_QUEUE_MAXSIZE",
    "DEFAULT_WORK_QUEUE_PUT_TIMEOUT",
    "MAX_PENDING_CALLS",
    "WRITE_BUFFER_HIGH_WATER",
    "CallQueue",
    "CallResult",
    "ReplyTimeout",
]

LOGGER = logging.getLogger("pika.adapters.thread_safe_connection")

#: Seconds a synchronous call waits for the broker's reply by default.
DEFAULT_RPC_TIMEOUT = 10

#: Callbacks a channel's worker thread may have waiting before the I/O thread blocks.
DEFAULT_WORK_QUEUE_MAXSIZE = 1000

#: Seconds the I/O thread waits for room in a full work queue before giving up.
DEFAULT_WORK_QUEUE_PUT_TIMEOUT = 30.0

MAX_PENDING_CALLS = 10_000
"""Calls waiting for the I/O thread beyond which other threads block until it catches up."""

WRITE_BUFFER_HIGH_WATER = 4 * 1024 * 1024
"""Bytes waiting for the socket beyond which queued calls are held back."""

WRITE_BUFFER_RECHECK = 0.005
"""Seconds between looks at the socket's backlog while calls are held back."""

Function = Callable[..., Any]
Call = tuple[Function, tuple[Any, ...]]


class ReplyTimeout(exceptions.AMQPError, TimeoutError):
    """A synchronous call got no answer within its ``timeout``.

    The request may still have reached the broker and take effect later.
    """


_PENDING, _DONE, _ABANDONED = 0, 1, 2


class CallResult:
    """The one-shot answer a waiting thread expects from the I/O thread."""

    __slots__ = ("_done", "_error", "_lock", "_state", "_value")

    def __init__(self) -> None:
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._state = _PENDING
        self._value: Any = None
        self._error: Optional[BaseException] = None

    def resolve(self, value: Any = None) -> bool:
        """Deliver ``value``; False if already settled or nobody waits any more.

        Args:
            value: The result.

        Returns:
            False if already settled or nobody waits any more.
        """
        return self._settle(value, None)

    def fail(self, error: BaseException) -> bool:
        """Deliver ``error``, to be raised in the waiting thread.

        Args:
            error: The exception.

        Returns:
            False if already settled or nobody waits any more.
        """
        return self._settle(None, error)

    def _settle(self, value: Any, error: Optional[BaseException]) -> bool:
        with self._lock:
            if self._state != _PENDING:
                return False
            self._state = _DONE
            self._value = value
            self._error = error
        self._done.set()
        return True

    @property
    def abandoned(self) -> bool:
        """True once the waiting thread has given up (its timeout expired)."""
        return self._state == _ABANDONED

    def wait(self, timeout: Optional[float], what: str) -> Any:
        """The value, or raise the error; `ReplyTimeout` after ``timeout`` s.

        Args:
            timeout: Seconds to wait; None for no limit.
            what: What is waited for, for the timeout's message.

        Returns:
            The value delivered.

        Raises:
            ReplyTimeout: Nothing came within ``timeout`` (also a `TimeoutError`).
        """
        if not self._done.wait(timeout):
            with self._lock:
                if self._state == _PENDING:
                    self._state = _ABANDONED
                    raise ReplyTimeout(f"{what}: no reply within {timeout:g} s")
        if self._error is not None:
            raise self._error
        return self._value


class CallQueue:
    """Calls for the I/O thread, run there in the order they were submitted.

    At most one wake-up (``wake()``, which must lead to `run` on the I/O
    thread) is outstanding: the thread that makes the list non-empty calls
    it, under the lock, so calls submitted later by any thread cannot
    overtake the ones already listed.

    Args:
        wake: Called (once per batch) to have the I/O thread run the queue.
        limit: Most calls queued before submitting threads wait.
    """

    def __init__(self, wake: Callable[[], None], limit: int) -> None:
        self._wake = wake
        self._limit = limit
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)
        self._items: list[Call] = []
        self._scheduled = False
        self._closed_reason: Optional[BaseException] = None
        self._closed = False
        # Threads that never wait for room: the I/O thread (it makes the
        # room) and the callback workers (the I/O thread may be waiting for
        # them to take a delivery).
        self.exempt: set[int] = set()

    def submit(
        self, function: Function, args: tuple[Any, ...], deadline: Optional[float] = None
    ) -> None:
        """Queue ``function(*args)``; ConnectionWrongStateError once closed.

        A thread that finds the queue full waits for room, until the
        ``deadline`` (`time.monotonic` value; None: no limit), then raises
        `ReplyTimeout`. If the connection ends while it waits, it raises the
        connection's final error.

        Args:
            function: The call.
            args: Its positional arguments.
            deadline: `time.monotonic` value to wait for room until; None for no limit.

        Raises:
            ConnectionWrongStateError: The queue is closed.
            ReplyTimeout: No room before ``deadline``.
        """
        with self._lock:
            waited = False
            if len(self._items) >= self._limit and threading.get_ident() not in self.exempt:
                waited = True
                while len(self._items) >= self._limit and not self._closed:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise ReplyTimeout("no room in the call queue before the timeout")
                    self._drained.wait(remaining)
            if self._closed:
                reason = self._closed_reason
                if waited and isinstance(reason, Exception):
                    raise reason
                raise exceptions.ConnectionWrongStateError(f"the connection is closed: {reason!r}")
            self._items.append((function, args))
            if not self._scheduled:
                self._scheduled = True
                self._wake()

    def run(self) -> None:
        """Run every queued call (on the I/O thread)."""
        with self._lock:
            items, self._items = self._items, []
            self._scheduled = False
            self._drained.notify_all()
        self._run_all(items)

    def close(self, reason: Optional[BaseException]) -> None:
        """Refuse new calls and run the queued ones (which then fail as the connection is gone).

        Args:
            reason: The connection's final error, or None.
        """
        with self._lock:
            self._closed = True
            self._closed_reason = reason
            items, self._items = self._items, []
            self._drained.notify_all()
        self._run_all(items)

    @staticmethod
    def _run_all(items: list[Call]) -> None:
        failures = 0
        first: Optional[Exception] = None
        for function, args in items:
            try:
                function(*args)
            except Exception as error:
                failures += 1
                if first is None:
                    first = error
        if first is not None:
            LOGGER.warning(
                "%d call(s) made from other threads failed on the I/O thread; first: %r",
                failures,
                first,
            )
