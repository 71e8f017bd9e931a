"""`CallbackWorker`: a daemon thread that runs user callbacks one at a time.

The thread-safe connection gives every channel one (and itself one, for its
own callbacks) so that a slow callback never holds up the I/O thread. The
I/O thread hands callbacks over through a bounded queue: `CallbackWorker.put`
waits for room at most ``put_timeout`` seconds, and not at all once
`CallbackWorker.stop_waiting` was called (the connection is closing, and
nothing should wait on a callback that may never return).

A callback that never returns cannot be stopped: Python threads cannot be
killed. `CallbackWorker.join` bounds the wait for one, and `describe` says
what it is stuck in, for the log; being a daemon thread, it does not keep
the process alive.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
import weakref
from typing import Any, Callable, Optional

LOGGER = logging.getLogger(__name__)

Function = Callable[..., Any]


def run_callback(function: Function, args: tuple[Any, ...]) -> None:
    """Call a user callback; what it raises is logged, never propagated."""
    try:
        function(*args)
    except Exception:
        LOGGER.exception("callback %r raised", function)


class CallbackWorker:
    """A thread that runs callbacks one at a time, in the order handed over.

    ``maxsize`` bounds the queue (0 or less: unbounded). The thread's id is
    in ``exempt`` while it runs (the owner's set of threads that must never
    block on its call queue). After `close` the thread finishes what is
    queued and ends; a `put` after that runs the callback at once on the
    calling thread (only failure reports arrive that late).
    """

    def __init__(
        self, name: str, maxsize: int, put_timeout: Optional[float], exempt: set[int]
    ) -> None:
        self._exempt = exempt
        self._maxsize = maxsize
        self._put_timeout = put_timeout
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._work = threading.Condition(self._lock)
        self._items: collections.deque[tuple[Function, tuple[Any, ...]]] = collections.deque()
        self._closed = False
        self._no_waiting = False
        # What the thread runs now, and since when (time.monotonic()).
        self._current: Optional[tuple[Function, float]] = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def name(self) -> str:
        """The thread's name."""
        return self._thread.name

    @property
    def thread_id(self) -> Optional[int]:
        """The thread's identifier."""
        return self._thread.ident

    def _full(self) -> bool:
        return 0 < self._maxsize <= len(self._items)

    def put(self, function: Function, args: tuple[Any, ...]) -> bool:
        """Queue ``function(*args)``; True once queued (or run, after `close`).

        Waits up to ``put_timeout`` seconds (None: no limit) for room and
        raises `queue.Full` past it. Returns False, queueing nothing, when
        there is no room and waiting was stopped (`stop_waiting`).
        """
        with self._lock:
            if not self._closed:
                timeout = self._put_timeout
                deadline = None if timeout is None else time.monotonic() + timeout
                while self._full():
                    if self._no_waiting:
                        return False
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise queue.Full
                    self._room.wait(remaining)
                self._items.append((function, args))
                self._work.notify()
                return True
        run_callback(function, args)
        return True

    def put_nowait(self, function: Function, args: tuple[Any, ...]) -> None:
        """Queue ``function(*args)`` if there is room, else raise `queue.Full`."""
        with self._lock:
            if not self._closed:
                if self._full():
                    raise queue.Full
                self._items.append((function, args))
                self._work.notify()
                return
        run_callback(function, args)

    def stop_waiting(self) -> None:
        """From now on `put` never waits for room; one waiting gives up now."""
        with self._lock:
            self._no_waiting = True
            self._room.notify_all()

    def close(self) -> None:
        """Take no more work: the thread ends once the queue is empty."""
        with self._lock:
            self._closed = True
            self._work.notify_all()

    def join(self, timeout: Optional[float]) -> bool:
        """Wait up to ``timeout`` seconds (None: no limit) for the thread to
        end (after `close`); True if it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def describe(self) -> str:
        """What the thread is busy with, for a log message."""
        current = self._current
        if current is None:
            return f"callback thread {self.name!r} is idle"
        function, started = current
        return (
            f"callback thread {self.name!r} has been running {function!r} "
            f"for {time.monotonic() - started:.1f} s"
        )

    def _run(self) -> None:
        me = threading.get_ident()
        self._exempt.add(me)
        try:
            while True:
                with self._lock:
                    while not self._items and not self._closed:
                        self._work.wait()
                    if not self._items:
                        return
                    function, args = self._items.popleft()
                    self._room.notify()
                    self._current = (function, time.monotonic())
                run_callback(function, args)
                self._current = None
        finally:
            self._exempt.discard(me)


class CallbackWorkerGroup:
    """The callback workers of one connection, for what concerns them all.

    Workers are held weakly: one whose channel is gone and whose thread has
    ended drops out by itself.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workers: weakref.WeakSet[CallbackWorker] = weakref.WeakSet()

    def add(self, worker: CallbackWorker) -> CallbackWorker:
        """Count ``worker`` in; returns it."""
        with self._lock:
            self._workers.add(worker)
        return worker

    def _members(self) -> list[CallbackWorker]:
        with self._lock:
            return list(self._workers)

    def stop_waiting(self) -> None:
        """`CallbackWorker.stop_waiting` on every worker."""
        for worker in self._members():
            worker.stop_waiting()

    def join(self, timeout: Optional[float]) -> bool:
        """Wait, ``timeout`` seconds in all (None: no limit), for every
        worker's thread to end, except the calling thread's own. Those still
        running then are abandoned, and logged with what they are stuck in.
        True if none was abandoned."""
        deadline = None if timeout is None else time.monotonic() + timeout
        me = threading.get_ident()
        abandoned = []
        for worker in self._members():
            if worker.thread_id == me:
                continue
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not worker.join(remaining):
                abandoned.append(worker)
        for worker in abandoned:
            LOGGER.warning(
                "%s; abandoning it after waiting %s s (a daemon thread: it does not "
                "keep the process alive)",
                worker.describe(),
                timeout,
            )
        return not abandoned
