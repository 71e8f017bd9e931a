"""I/O services on top of a loop with the selector IOLoop's methods.

`AbstractSelectorIOLoop` names what such a loop offers: handlers called with
`(fd, events)` for an events mask, timers and callbacks. `IOLoop` from
`select_connection` is one; a thin shim makes Tornado's IOLoop another.
`SelectorIOServicesAdapter` turns any of them into the
`AbstractFileDescriptorIOServices` that connections use, multiplexing one
reader and one writer per descriptor onto a single handler.
"""

from __future__ import annotations

import abc
from typing import Any, Callable

from pika.adapters.utils.io_services_utils import (
    FileDescriptorIOServicesBase,
    check_callback_arg,
    check_fd_arg,
)
from pika.adapters.utils.nbio_interface import AbstractTimerReference


class AbstractSelectorIOLoop(abc.ABC):
    """The methods and event constants an fd-handler event loop provides.

    `READ`, `WRITE` and `ERROR` are the loop's bits for the events mask given
    to `add_handler`/`update_handler` and passed to handlers.
    """

    @property
    @abc.abstractmethod
    def READ(self) -> int:
        """The event bit meaning the descriptor is readable."""

    @property
    @abc.abstractmethod
    def WRITE(self) -> int:
        """The event bit meaning the descriptor is writable."""

    @property
    @abc.abstractmethod
    def ERROR(self) -> int:
        """The event bit meaning the descriptor is in error."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the loop's resources."""

    @abc.abstractmethod
    def start(self) -> None:
        """Run until `stop` is called."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Make `start` return after the current iteration."""

    @abc.abstractmethod
    def call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        """Run `callback` after `delay` seconds; returns a handle for `remove_timeout`.

        Args:
            delay: Seconds from now.
            callback: Called with no arguments.

        Returns:
            A handle for `remove_timeout`.
        """

    @abc.abstractmethod
    def remove_timeout(self, timeout_handle: Any) -> None:
        """Cancel a timer made by `call_later`.

        Args:
            timeout_handle: The handle `call_later` returned.
        """

    @abc.abstractmethod
    def add_callback(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the next iteration.

        Args:
            callback: Called with no arguments.
        """

    @abc.abstractmethod
    def add_callback_threadsafe(self, callback: Callable[[], None]) -> None:
        """Run `callback` in the loop's thread soon; callable from any thread.

        Args:
            callback: Called with no arguments, on the loop's thread.
        """

    @abc.abstractmethod
    def add_handler(self, fd: int, handler: Callable[[int, int], None], events: int) -> None:
        """Call `handler(fd, events)` when `fd` is ready for any of `events`.

        Args:
            fd: The file descriptor.
            handler: Called as ``handler(fd, events)``.
            events: A combination of `READ`, `WRITE` and `ERROR`.
        """

    @abc.abstractmethod
    def update_handler(self, fd: int, events: int) -> None:
        """Change the events watched for `fd`.

        Args:
            fd: A watched file descriptor.
            events: The events to watch from now on.
        """

    @abc.abstractmethod
    def remove_handler(self, fd: int) -> None:
        """Stop watching `fd`.

        Args:
            fd: The file descriptor.
        """


class _LoopTimer(AbstractTimerReference):
    """A timer of the underlying loop, cancelled through `remove_timeout`."""

    __slots__ = ("_handle", "_loop")

    def __init__(self, loop: AbstractSelectorIOLoop, handle: Any) -> None:
        self._loop: AbstractSelectorIOLoop | None = loop
        self._handle = handle

    def cancel(self) -> None:
        loop = self._loop
        if loop is not None:
            self._loop = None
            loop.remove_timeout(self._handle)
            self._handle = None


_READER = 0
_WRITER = 1


class SelectorIOServicesAdapter(FileDescriptorIOServicesBase):
    """`AbstractFileDescriptorIOServices` over an `AbstractSelectorIOLoop`.

    Each descriptor gets one handler on the loop, registered for the events
    that currently have a reader or writer. An ERROR event goes to both the
    reader and the writer: the next recv/send/SO_ERROR check tells them what
    happened.

    Args:
        native_loop: The loop to run on.
    """

    def __init__(self, native_loop: AbstractSelectorIOLoop) -> None:
        self._loop = native_loop
        # fd -> [reader, writer]; an entry exists while either is set.
        self._watches: dict[int, list[Callable[[], None] | None]] = {}

    def get_native_ioloop(self) -> AbstractSelectorIOLoop:
        return self._loop

    def close(self) -> None:
        self._loop.close()

    def run(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def add_callback_threadsafe(self, callback: Callable[[], None]) -> None:
        check_callback_arg(callback, "callback")
        self._loop.add_callback_threadsafe(callback)

    def add_callback(self, callback: Callable[[], None]) -> None:
        check_callback_arg(callback, "callback")
        self._loop.add_callback(callback)

    def call_later(self, delay: float, callback: Callable[[], None]) -> AbstractTimerReference:
        check_callback_arg(callback, "callback")
        return _LoopTimer(self._loop, self._loop.call_later(delay, callback))

    def set_reader(self, fd: int, on_readable: Callable[[], None]) -> None:
        check_callback_arg(on_readable, "on_readable")
        self._watch(fd, _READER, on_readable)

    def set_writer(self, fd: int, on_writable: Callable[[], None]) -> None:
        check_callback_arg(on_writable, "on_writable")
        self._watch(fd, _WRITER, on_writable)

    def remove_reader(self, fd: int) -> bool:
        return self._unwatch(fd, _READER)

    def remove_writer(self, fd: int) -> bool:
        return self._unwatch(fd, _WRITER)

    def _events_of(self, callbacks: list[Callable[[], None] | None]) -> int:
        events = 0
        if callbacks[_READER] is not None:
            events |= self._loop.READ
        if callbacks[_WRITER] is not None:
            events |= self._loop.WRITE
        return events

    def _watch(self, fd: int, slot: int, callback: Callable[[], None]) -> None:
        check_fd_arg(fd)
        callbacks = self._watches.get(fd)
        if callbacks is None:
            callbacks = self._watches[fd] = [None, None]
            callbacks[slot] = callback
            self._loop.add_handler(fd, self._on_events, self._events_of(callbacks))
            return
        newly_watched = callbacks[slot] is None
        callbacks[slot] = callback
        if newly_watched:
            self._loop.update_handler(fd, self._events_of(callbacks))

    def _unwatch(self, fd: int, slot: int) -> bool:
        check_fd_arg(fd)
        callbacks = self._watches.get(fd)
        if callbacks is None or callbacks[slot] is None:
            return False
        callbacks[slot] = None
        if callbacks[1 - slot] is None:
            del self._watches[fd]
            self._loop.remove_handler(fd)
        else:
            self._loop.update_handler(fd, self._events_of(callbacks))
        return True

    def _on_events(self, fd: int, events: int) -> None:
        loop = self._loop
        callbacks = self._watches.get(fd)
        if callbacks is None:
            return
        reader = callbacks[_READER]
        if reader is not None and events & (loop.READ | loop.ERROR):
            reader()
            # The reader may have removed or replaced this descriptor's watch.
            callbacks = self._watches.get(fd)
            if callbacks is None:
                return
        writer = callbacks[_WRITER]
        if writer is not None and events & (loop.WRITE | loop.ERROR):
            writer()
