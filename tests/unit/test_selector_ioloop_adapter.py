"""pika.adapters.utils.selector_ioloop_adapter: readers and writers multiplexed onto handlers."""

from __future__ import annotations

import functools
import socket
import threading
from collections.abc import Iterator
from typing import Any, Callable

import pytest

from pika.adapters.select_connection import IOLoop
from pika.adapters.utils.nbio_interface import AbstractTimerReference
from pika.adapters.utils.selector_ioloop_adapter import (
    AbstractSelectorIOLoop,
    SelectorIOServicesAdapter,
)


@pytest.fixture
def nbio() -> Iterator[SelectorIOServicesAdapter]:
    services = SelectorIOServicesAdapter(IOLoop())
    yield services
    services.close()


class HandlerTable(AbstractSelectorIOLoop):
    """A loop that only records handler registrations, so a test can deliver any event."""

    READ = 1
    WRITE = 4
    ERROR = 8

    def __init__(self) -> None:
        self.handlers: dict[int, tuple[Callable[[int, int], None], int]] = {}

    def close(self) -> None:
        self.handlers.clear()

    def start(self) -> None:
        raise AssertionError("not a running loop")

    def stop(self) -> None:
        raise AssertionError("not a running loop")

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        raise AssertionError("no timers here")

    def remove_timeout(self, timeout_handle: Any) -> None:
        raise AssertionError("no timers here")

    def add_callback(self, callback: Callable[[], None]) -> None:
        raise AssertionError("no callbacks here")

    def add_callback_threadsafe(self, callback: Callable[[], None]) -> None:
        raise AssertionError("no callbacks here")

    def add_handler(self, fd: int, handler: Callable[[int, int], None], events: int) -> None:
        assert fd not in self.handlers
        self.handlers[fd] = (handler, events)

    def update_handler(self, fd: int, events: int) -> None:
        self.handlers[fd] = (self.handlers[fd][0], events)

    def remove_handler(self, fd: int) -> None:
        del self.handlers[fd]

    def deliver(self, fd: int, events: int) -> None:
        self.handlers[fd][0](fd, events)


def test_registrations_follow_readers_and_writers() -> None:
    table = HandlerTable()
    services = SelectorIOServicesAdapter(table)
    calls: list[str] = []
    services.set_reader(7, functools.partial(calls.append, "read"))
    assert table.handlers[7][1] == table.READ
    services.set_writer(7, functools.partial(calls.append, "write"))
    assert table.handlers[7][1] == table.READ | table.WRITE
    services.set_writer(7, functools.partial(calls.append, "write2"))
    assert table.handlers[7][1] == table.READ | table.WRITE
    assert services.remove_reader(7) is True
    assert services.remove_reader(7) is False
    assert table.handlers[7][1] == table.WRITE
    table.deliver(7, table.WRITE)
    assert calls == ["write2"]
    assert services.remove_writer(7) is True
    assert 7 not in table.handlers
    assert services.remove_writer(7) is False


def test_error_event_goes_to_reader_and_writer() -> None:
    table = HandlerTable()
    services = SelectorIOServicesAdapter(table)
    calls: list[str] = []
    services.set_writer(5, functools.partial(calls.append, "write"))
    services.set_reader(5, functools.partial(calls.append, "read"))
    table.deliver(5, table.ERROR)
    assert calls == ["read", "write"]


def test_reader_removing_the_watch_stops_the_writer_call() -> None:
    table = HandlerTable()
    services = SelectorIOServicesAdapter(table)
    calls: list[str] = []

    def reader() -> None:
        calls.append("read")
        services.remove_writer(5)
        services.remove_reader(5)

    services.set_reader(5, reader)
    services.set_writer(5, functools.partial(calls.append, "write"))
    table.deliver(5, table.READ | table.WRITE)
    assert calls == ["read"]


def test_argument_checks(nbio: SelectorIOServicesAdapter) -> None:
    with pytest.raises(TypeError):
        nbio.set_reader("3", lambda: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        nbio.set_writer(3, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        nbio.call_later(0, "later")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        nbio.add_callback(None)  # type: ignore[arg-type]


def test_reader_and_writer_on_a_real_socket(nbio: SelectorIOServicesAdapter) -> None:
    left, right = socket.socketpair()
    fd = left.fileno()
    calls: list[str] = []

    def on_readable() -> None:
        calls.append(left.recv(10).decode())
        nbio.remove_reader(fd)
        nbio.stop()

    def on_writable() -> None:
        calls.append("writable")
        nbio.remove_writer(fd)

    nbio.set_writer(fd, on_writable)
    nbio.set_reader(fd, on_readable)
    right.send(b"hi")
    try:
        nbio.run()
    finally:
        left.close()
        right.close()
    assert sorted(calls) == ["hi", "writable"]


def test_call_later_cancel_add_callback_and_threadsafe(nbio: SelectorIOServicesAdapter) -> None:
    calls: list[str] = []
    cancelled = nbio.call_later(0.01, functools.partial(calls.append, "cancelled"))
    assert isinstance(cancelled, AbstractTimerReference)
    cancelled.cancel()
    cancelled.cancel()
    nbio.call_later(0.02, functools.partial(calls.append, "timer"))
    nbio.add_callback(functools.partial(calls.append, "callback"))
    thread = threading.Thread(
        target=lambda: nbio.add_callback_threadsafe(functools.partial(calls.append, "thread"))
    )
    thread.start()
    thread.join()
    nbio.call_later(0.05, nbio.stop)
    nbio.run()
    assert sorted(calls) == ["callback", "thread", "timer"]


def test_native_loop_is_exposed() -> None:
    loop = IOLoop()
    services = SelectorIOServicesAdapter(loop)
    assert services.get_native_ioloop() is loop
    services.close()
    with pytest.raises(RuntimeError):
        loop.add_callback_threadsafe(lambda: None)
