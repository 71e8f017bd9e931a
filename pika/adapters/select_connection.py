"""The library's own event loop (`IOLoop`: `selectors`, or epoll on Linux) and `SelectConnection`.

One loop iteration (`IOLoop.poll`) waits for descriptor readiness, calls the
fd handlers, runs the timers that are due and then the queued callbacks.
The wait lasts until the next timer is due, or not at all when callbacks are
queued; `add_callback_threadsafe` ends a wait early from any thread by
writing to a socket pair the loop watches.

The OS mechanism is `selectors.DefaultSelector`'s unless the module-level
`POLLER_TYPE` (or its older name `SELECT_TYPE`) names another one before
the loop is created: 'select', 'poll', 'epoll' or 'kqueue'. Each is used
through its `selectors` class, except epoll (Linux's default), which
`EPollPoller` calls directly.
"""

from __future__ import annotations

import contextlib
import heapq
import select
import selectors
import socket
import threading
import time
from collections import deque
from typing import Any, Callable

from pika.adapters.base_connection import _LoopConnection
from pika.adapters.utils import nbio_interface
from pika.adapters.utils.io_services_utils import check_callback_arg, check_fd_arg
from pika.adapters.utils.selector_ioloop_adapter import (
    AbstractSelectorIOLoop,
    SelectorIOServicesAdapter,
)

POLLER_TYPE: str | None = None
"""Selector for new `IOLoop` objects (None for the platform's best), or 'select', 'poll',
'epoll', 'kqueue'."""

SELECT_TYPE: str | None = None
"""Older name of `POLLER_TYPE`, used when `POLLER_TYPE` is None."""

_COMPACT_MIN_CANCELLED = 256
"""Cancelled timers are purged from the heap once this many outnumber the live ones."""


class PollEvents:
    """Event bits of fd handlers' masks."""

    READ = 1
    WRITE = 4
    ERROR = 8
    HANGUP = 16


_READ_WRITE = PollEvents.READ | PollEvents.WRITE
_ERROR_OR_HANGUP = PollEvents.ERROR | PollEvents.HANGUP

# selectors' masks (EVENT_READ=1, EVENT_WRITE=2) as PollEvents bits, indexed by mask.
_EVENTS_OF_SELECTOR_MASK = (0, PollEvents.READ, PollEvents.WRITE, _READ_WRITE)


def _selector_mask(events: int) -> int:
    """The selectors mask for a PollEvents mask (errors are reported as readiness)."""
    mask = 0
    if events & PollEvents.READ:
        mask |= selectors.EVENT_READ
    if events & PollEvents.WRITE:
        mask |= selectors.EVENT_WRITE
    return mask


FdHandler = Callable[[int, int], None]


class _Timeout:
    """A timer handle; `callback` becomes None once it fired or was cancelled."""

    __slots__ = ("callback", "deadline")

    def __init__(self, deadline: float, callback: Callable[[], None]) -> None:
        self.deadline = deadline
        self.callback: Callable[[], None] | None = callback


class _PollerBase:
    """Descriptor handlers over one `selectors` class, and the thread-safe wake-up.

    `poll()` is one loop iteration: wait up to `get_wait_seconds()` (None is
    no limit), call the handlers of ready descriptors, then
    `process_timeouts()`. A subclass may wait on its OS mechanism directly
    instead: it overrides `_open`, `_close`, `_watch` and `poll`.
    """

    POLL_TIMEOUT_MULT = 1
    """Multiplier from seconds to the native call's timeout unit (informative only)."""

    _SELECTOR_NAME = "DefaultSelector"

    def __init__(
        self,
        get_wait_seconds: Callable[[], float | None],
        process_timeouts: Callable[[], None],
    ) -> None:
        self._get_wait_seconds = get_wait_seconds
        self._process_timeouts = process_timeouts
        self._handlers: dict[int, tuple[FdHandler, int]] = {}
        self._selector: selectors.BaseSelector | None = None
        self._active = False
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._handlers[self._wake_reader.fileno()] = (self._drain_wake_ups, PollEvents.READ)
        self.activate_poller()

    # The OS mechanism: a `selectors` class here.

    def _open(self) -> None:
        """Create the OS mechanism, watching nothing yet."""
        self._selector = getattr(selectors, self._SELECTOR_NAME)()

    def _close(self) -> None:
        """Release the OS mechanism."""
        selector, self._selector = self._selector, None
        if selector is not None:
            selector.close()

    def _watch(self, fd: int, before: int, after: int) -> None:
        """Make the OS mechanism watch ``fd`` for ``after`` instead of
        ``before`` (PollEvents masks; 0 is not watched)."""
        selector = self._selector
        assert selector is not None
        old_mask, new_mask = _selector_mask(before), _selector_mask(after)
        if old_mask == new_mask:
            return
        if not old_mask:
            selector.register(fd, new_mask)
        elif not new_mask:
            selector.unregister(fd)
        else:
            selector.modify(fd, new_mask)

    def activate_poller(self) -> None:
        """Create the OS selector (if needed) and register every handler's descriptor."""
        if self._active:
            return
        self._open()
        for fd, (_, events) in self._handlers.items():
            self._watch(fd, 0, events)
        self._active = True

    def deactivate_poller(self) -> None:
        """Close the OS selector; handlers are kept for the next `activate_poller`."""
        if self._active:
            self._active = False
            self._close()

    def add_handler(self, fd: int, handler: FdHandler, events: int) -> None:
        if fd in self._handlers:
            raise ValueError(f"fd {fd} already has a handler; use update_handler")
        if self._active:
            self._watch(fd, 0, events)
        self._handlers[fd] = (handler, events)

    def update_handler(self, fd: int, events: int) -> None:
        entry = self._handlers.get(fd)
        if entry is None:
            raise ValueError(f"fd {fd} has no handler")
        handler, previous = entry
        self._handlers[fd] = (handler, events)
        if self._active:
            self._watch(fd, previous, events)

    def remove_handler(self, fd: int) -> None:
        entry = self._handlers.pop(fd, None)
        if entry is not None and self._active:
            self._watch(fd, entry[1], 0)

    def poll(self) -> None:
        """Wait for I/O readiness or the next timer, up to the loop's wait time,
        and dispatch what is ready."""
        if not self._active:
            self.activate_poller()
        selector = self._selector
        assert selector is not None
        ready = selector.select(self._get_wait_seconds())
        handlers = self._handlers
        for key, mask in ready:
            # An earlier handler of this iteration may have removed or changed this one.
            entry = handlers.get(key.fd)
            if entry is not None:
                events = _EVENTS_OF_SELECTOR_MASK[mask] & entry[1]
                if events:
                    entry[0](key.fd, events)
        self._process_timeouts()

    def wake_threadsafe(self) -> None:
        """Make the current or next wait return at once; callable from any thread."""
        try:
            self._wake_writer.send(b"\0")
        except OSError:
            # Full buffer: a wake-up is pending anyway. Closed: the loop is gone.
            return

    def _drain_wake_ups(self, fd: int, events: int) -> None:
        try:
            self._wake_reader.recv(4096)
        except BlockingIOError:
            return

    def close(self) -> None:
        self.deactivate_poller()
        self._handlers.clear()
        self._wake_reader.close()
        self._wake_writer.close()


class SelectPoller(_PollerBase):
    """select(2): available everywhere, limited to FD_SETSIZE descriptors."""

    POLL_TIMEOUT_MULT = 1
    _SELECTOR_NAME = "SelectSelector"


class PollPoller(_PollerBase):
    """poll(2)."""

    POLL_TIMEOUT_MULT = 1000
    _SELECTOR_NAME = "PollSelector"


class EPollPoller(PollPoller):
    """Linux epoll, called directly rather than through `selectors`: a
    blocking wait turns the loop once per reply, and the selectors layer
    (its timeout rounding, key objects and mask translation) was a tenth of
    the Python an RPC round trip runs. PollEvents' bits are epoll's own."""

    POLL_TIMEOUT_MULT = 1
    _SELECTOR_NAME = "EpollSelector"

    _epoll: select.epoll | None = None

    def _open(self) -> None:
        self._epoll = select.epoll()

    def _close(self) -> None:
        epoll, self._epoll = self._epoll, None
        if epoll is not None:
            epoll.close()

    def _watch(self, fd: int, before: int, after: int) -> None:
        epoll = self._epoll
        assert epoll is not None
        before &= _READ_WRITE
        after &= _READ_WRITE
        if before == after:
            return
        if not before:
            epoll.register(fd, after)
        elif not after:
            # As `selectors` does: the descriptor may be closed already.
            with contextlib.suppress(OSError):
                epoll.unregister(fd)
        else:
            epoll.modify(fd, after)

    def poll(self) -> None:
        if not self._active:
            self.activate_poller()
        epoll = self._epoll
        assert epoll is not None
        timeout = self._get_wait_seconds()
        # (epoll_wait counts in milliseconds: CPython rounds the timeout up.)
        ready = epoll.poll(-1 if timeout is None else timeout)
        handlers = self._handlers
        for fd, occurred in ready:
            # An earlier handler of this iteration may have removed or changed this one.
            entry = handlers.get(fd)
            if entry is not None:
                if occurred & _ERROR_OR_HANGUP:
                    # Reported as readiness: the next recv or send finds the error.
                    occurred |= _READ_WRITE
                events = occurred & entry[1]
                if events:
                    entry[0](fd, events)
        self._process_timeouts()


class KQueuePoller(_PollerBase):
    """BSD and macOS kqueue."""

    _SELECTOR_NAME = "KqueueSelector"


_POLLERS: dict[str, type[_PollerBase]] = {
    "select": SelectPoller,
    "poll": PollPoller,
    "epoll": EPollPoller,
    "kqueue": KQueuePoller,
}


def _chosen_poller() -> type[_PollerBase]:
    """The poller class `POLLER_TYPE`/`SELECT_TYPE` ask for; ValueError if unusable."""
    kind = POLLER_TYPE if POLLER_TYPE is not None else SELECT_TYPE
    if kind is None:
        default_name = selectors.DefaultSelector.__name__
        for poller in _POLLERS.values():
            if default_name == poller._SELECTOR_NAME:
                return poller
        return _PollerBase
    poller_class = _POLLERS.get(kind) if isinstance(kind, str) else None
    if poller_class is None:
        raise ValueError(f"unknown POLLER_TYPE {kind!r}; use None or one of {sorted(_POLLERS)}")
    if not hasattr(selectors, poller_class._SELECTOR_NAME):
        raise ValueError(f"POLLER_TYPE {kind!r} is not available on this platform")
    return poller_class


class IOLoop(AbstractSelectorIOLoop):
    """A single-threaded event loop: fd handlers, timers and callbacks.

    Only `add_callback_threadsafe` (and `stop`, which uses it when called
    from another thread) may be called from outside the loop's thread. An
    exception raised by a handler, timer or callback propagates out of
    `poll`/`start`; the loop stays usable.
    """

    READ = PollEvents.READ
    WRITE = PollEvents.WRITE
    ERROR = PollEvents.ERROR

    def __init__(self) -> None:
        self._timer_heap: list[tuple[float, int, _Timeout]] = []
        self._timers_made = 0
        self._cancelled_timers = 0
        self._callbacks: list[Callable[[], None]] = []
        self._threadsafe_callbacks: deque[Callable[[], None]] = deque()
        self._threadsafe_lock = threading.Lock()
        self._wake_pending = False
        self._closed = False
        self._running = False
        self._stopping = False
        self._thread_id: int | None = None
        #: A `time.monotonic` time the next waits end by even with no timer
        #: due then: set by a caller turning the loop with a time limit of
        #: its own (`BlockingConnection`), instead of a timer made and
        #: cancelled for every wait.
        self._wait_until: float | None = None
        self._poller = _chosen_poller()(self._get_wait_seconds, self.process_timeouts)

    # Timers

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Timeout:
        """Run `callback` once, `delay` seconds from now; returns a handle for `remove_timeout`.

        Args:
            delay: Seconds from now (0 or more).
            callback: Called with no arguments.

        Returns:
            A handle to pass to `remove_timeout`.
        """
        check_callback_arg(callback, "callback")
        timeout = _Timeout(time.monotonic() + delay, callback)
        heapq.heappush(self._timer_heap, (timeout.deadline, self._timers_made, timeout))
        self._timers_made += 1
        return timeout

    def remove_timeout(self, timeout_handle: _Timeout) -> None:
        """Cancel a timer; harmless once it fired or was cancelled.

        Args:
            timeout_handle: The handle `call_later` returned.
        """
        if timeout_handle.callback is None:
            return
        timeout_handle.callback = None
        self._cancelled_timers += 1
        cancelled = self._cancelled_timers
        if cancelled >= _COMPACT_MIN_CANCELLED and cancelled * 2 > len(self._timer_heap):
            live = [entry for entry in self._timer_heap if entry[2].callback is not None]
            heapq.heapify(live)
            self._timer_heap = live
            self._cancelled_timers = 0

    def process_timeouts(self) -> None:
        """Run the timers that are due, then the queued callbacks."""
        now = time.monotonic()
        # Timers made while this runs wait for the next iteration, so a timer
        # that keeps re-arming itself with no delay cannot hold the loop here.
        made_before = self._timers_made
        while self._timer_heap:
            heap = self._timer_heap
            deadline, serial, timeout = heap[0]
            if deadline > now or serial >= made_before:
                break
            heapq.heappop(heap)
            callback = timeout.callback
            if callback is None:
                self._cancelled_timers -= 1
                continue
            timeout.callback = None
            callback()
        self._run_callbacks()

    def _get_wait_seconds(self) -> float | None:
        if self._callbacks or self._threadsafe_callbacks or self._stopping:
            return 0.0
        heap = self._timer_heap
        while heap and heap[0][2].callback is None:
            heapq.heappop(heap)
            self._cancelled_timers -= 1
        due = self._wait_until
        if heap and (due is None or heap[0][0] < due):
            due = heap[0][0]
        if due is None:
            return None
        return max(0.0, due - time.monotonic())

    # Callbacks

    def add_callback(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the next iteration.

        From the loop's thread this only appends to a list. From another
        thread it falls back to `add_callback_threadsafe`, which wakes the loop.

        Args:
            callback: Called with no arguments.
        """
        check_callback_arg(callback, "callback")
        if self._thread_id is not None and self._thread_id != threading.get_ident():
            self.add_callback_threadsafe(callback)
            return
        self._callbacks.append(callback)

    def add_callback_threadsafe(self, callback: Callable[[], None]) -> None:
        """Run `callback` in the loop's thread soon; callable from any thread.

        Raises RuntimeError once the loop is closed.

        Args:
            callback: Called with no arguments, on the loop's thread.

        Raises:
            RuntimeError: The loop is closed.
        """
        check_callback_arg(callback, "callback")
        with self._threadsafe_lock:
            if self._closed:
                raise RuntimeError("add_callback_threadsafe() called on a closed IOLoop")
            self._threadsafe_callbacks.append(callback)
            if self._wake_pending:
                return
            self._wake_pending = True
        self._poller.wake_threadsafe()

    def _run_callbacks(self) -> None:
        if self._threadsafe_callbacks:
            with self._threadsafe_lock:
                self._callbacks.extend(self._threadsafe_callbacks)
                self._threadsafe_callbacks.clear()
                self._wake_pending = False
        callbacks = self._callbacks
        if not callbacks:
            return
        # Callbacks queued from here on run in the next iteration.
        self._callbacks = []
        for index, callback in enumerate(callbacks):
            try:
                callback()
            except BaseException:
                self._callbacks[:0] = callbacks[index + 1 :]
                raise

    # Descriptors

    def add_handler(self, fd: int, handler: FdHandler, events: int) -> None:
        """Call `handler(fd, events)` when `fd` is ready for READ and/or WRITE in `events`.

        Errors and hang-ups show up as readiness, found by the next recv/send.

        Args:
            fd: The file descriptor to watch.
            handler: Called as ``handler(fd, events)`` with the events that occurred.
            events: What to watch for: `READ`, `WRITE` or both (``READ | WRITE``).
        """
        check_fd_arg(fd)
        check_callback_arg(handler, "handler")
        self._poller.add_handler(fd, handler, events)

    def update_handler(self, fd: int, events: int) -> None:
        """Change the events watched for `fd`.

        Args:
            fd: A file descriptor watched with `add_handler`.
            events: The events to watch for from now on.
        """
        check_fd_arg(fd)
        self._poller.update_handler(fd, events)

    def remove_handler(self, fd: int) -> None:
        """Stop watching `fd`; harmless if it has no handler.

        Args:
            fd: The file descriptor to stop watching.
        """
        check_fd_arg(fd)
        self._poller.remove_handler(fd)

    def activate_poller(self) -> None:
        """Create the OS selector if `deactivate_poller` closed it (done by `poll` anyway)."""
        self._poller.activate_poller()

    def deactivate_poller(self) -> None:
        """Close the OS selector, keeping every handler for later iterations."""
        self._poller.deactivate_poller()

    # Running

    def poll(self) -> None:
        """Run one iteration: wait for I/O, call handlers, timers and callbacks."""
        self._thread_id = threading.get_ident()
        self._poller.poll()

    def start(self) -> None:
        """Run iterations until `stop`; a `stop` made before runs one iteration."""
        if self._closed:
            raise RuntimeError("start() called on a closed IOLoop")
        if self._running:
            raise RuntimeError("IOLoop is already running")
        self._running = True
        try:
            while True:
                self.poll()
                if self._stopping:
                    break
        finally:
            self._running = False
            self._stopping = False

    def stop(self) -> None:
        """Make `start` return after the current iteration.

        From another thread this goes through `add_callback_threadsafe`.
        """
        if self._thread_id is not None and self._thread_id != threading.get_ident():
            self.add_callback_threadsafe(self.stop)
            return
        self._stopping = True

    def close(self) -> None:
        """Release the selector and the wake-up sockets; drops pending timers and callbacks."""
        if self._running:
            raise RuntimeError("close() called on a running IOLoop")
        with self._threadsafe_lock:
            if self._closed:
                return
            self._closed = True
            self._threadsafe_callbacks.clear()
        self._poller.close()
        self._timer_heap.clear()
        self._callbacks.clear()


# =============================================================================
# SelectConnection: the connection class that runs on IOLoop.
# =============================================================================


class SelectConnection(_LoopConnection["IOLoop"]):
    """An asynchronous connection driven by `IOLoop` (the standard
    `selectors` module). Run ``connection.ioloop.start()``.

    An exception raised by one of your callbacks propagates out of
    ``ioloop.start()``; the connection is left consistent, and starting the
    loop again carries on with the frames that were already received.

    ``custom_ioloop`` is an `IOLoop` to run on (or ready-made I/O services);
    None gives the connection a new `IOLoop` of its own (``connection.ioloop``).
    """

    @classmethod
    def _loop_services(cls, custom_ioloop: Any) -> nbio_interface.AbstractIOServices:
        return SelectorIOServicesAdapter(custom_ioloop if custom_ioloop is not None else IOLoop())
