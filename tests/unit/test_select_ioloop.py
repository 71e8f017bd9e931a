"""pika.adapters.select_connection.IOLoop: timers, callbacks, wake-ups, handlers, poller choice."""

from __future__ import annotations

import functools
import os
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from typing import Callable

import pytest

from pika.adapters import select_connection
from pika.adapters.select_connection import (
    EPollPoller,
    IOLoop,
    KQueuePoller,
    PollEvents,
    PollPoller,
    SelectPoller,
)


@pytest.fixture
def loop() -> Iterator[IOLoop]:
    ioloop = IOLoop()
    yield ioloop
    ioloop.close()


@pytest.fixture
def socket_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    left, right = socket.socketpair()
    left.setblocking(False)
    yield left, right
    left.close()
    right.close()


def _boom() -> None:
    raise ValueError("boom")


def _noop() -> None:
    return None


# Timers


def test_timers_fire_in_deadline_order(loop: IOLoop) -> None:
    fired: list[str] = []
    for delay, name in ((0.03, "c"), (0.01, "a"), (0.02, "b")):
        loop.call_later(delay, functools.partial(fired.append, name))
    loop.call_later(0.05, loop.stop)
    loop.start()
    assert fired == ["a", "b", "c"]


def test_timers_with_the_same_delay_fire_in_creation_order(loop: IOLoop) -> None:
    fired: list[int] = []
    for index in range(50):
        loop.call_later(0, functools.partial(fired.append, index))
    loop.call_later(0.01, loop.stop)
    loop.start()
    assert fired == list(range(50))


def test_timer_does_not_fire_early(loop: IOLoop) -> None:
    started = time.monotonic()
    fired_at: list[float] = []

    def fire() -> None:
        fired_at.append(time.monotonic())
        loop.stop()

    loop.call_later(0.05, fire)
    loop.start()
    assert fired_at[0] - started >= 0.05


def test_remove_timeout_cancels_and_is_idempotent(loop: IOLoop) -> None:
    fired: list[int] = []
    handle = loop.call_later(0.01, functools.partial(fired.append, 1))
    loop.remove_timeout(handle)
    loop.remove_timeout(handle)
    loop.call_later(0.03, loop.stop)
    loop.start()
    assert fired == []


def test_removing_a_fired_timer_is_harmless(loop: IOLoop) -> None:
    fired: list[int] = []
    handle = loop.call_later(0, functools.partial(fired.append, 1))
    loop.poll()
    loop.remove_timeout(handle)
    assert fired == [1]


def test_mass_cancellation_leaves_the_rest_firing_in_order(loop: IOLoop) -> None:
    fired: list[int] = []
    handles = [
        loop.call_later(0.001 * (i % 20), functools.partial(fired.append, i)) for i in range(2000)
    ]
    kept = set(range(0, 2000, 97))
    for index, handle in enumerate(handles):
        if index not in kept:
            loop.remove_timeout(handle)
    loop.call_later(0.05, loop.stop)
    loop.start()
    assert sorted(fired) == sorted(kept)
    assert fired == sorted(kept, key=lambda i: (handles[i].deadline, i))


def test_only_cancelled_timers_do_not_keep_the_loop_waiting(loop: IOLoop) -> None:
    for _ in range(10):
        loop.remove_timeout(loop.call_later(0.01, _boom))
    loop.call_later(0.02, loop.stop)
    loop.start()


def test_zero_delay_timer_rearming_itself_runs_once_per_iteration(loop: IOLoop) -> None:
    runs: list[int] = []

    def rearm() -> None:
        runs.append(1)
        loop.call_later(0, rearm)

    loop.call_later(0, rearm)
    loop.poll()
    assert len(runs) == 1
    loop.poll()
    assert len(runs) == 2


def test_exception_in_timer_propagates_and_loop_stays_usable(loop: IOLoop) -> None:
    loop.call_later(0, _boom)
    with pytest.raises(ValueError, match="boom"):
        loop.start()
    fired: list[int] = []
    loop.call_later(0, functools.partial(fired.append, 1))
    loop.call_later(0.01, loop.stop)
    loop.start()
    assert fired == [1]


# Callbacks


def test_add_callback_runs_next_iteration_in_order(loop: IOLoop) -> None:
    ran: list[str] = []

    def first() -> None:
        ran.append("first")
        loop.add_callback(functools.partial(ran.append, "queued by first"))

    loop.add_callback(first)
    loop.add_callback(functools.partial(ran.append, "second"))
    assert ran == []
    loop.poll()
    assert ran == ["first", "second"]
    loop.poll()
    assert ran == ["first", "second", "queued by first"]


def test_exception_in_callback_keeps_later_callbacks_queued(loop: IOLoop) -> None:
    ran: list[int] = []
    loop.add_callback(functools.partial(ran.append, 1))
    loop.add_callback(_boom)
    loop.add_callback(functools.partial(ran.append, 3))
    with pytest.raises(ValueError):
        loop.poll()
    assert ran == [1]
    loop.poll()
    assert ran == [1, 3]


def test_callbacks_must_be_callable(loop: IOLoop) -> None:
    with pytest.raises(TypeError):
        loop.add_callback(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        loop.add_callback_threadsafe("stop")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        loop.call_later(1, 42)  # type: ignore[arg-type]


def _start_later(seconds: float, target: Callable[[], None]) -> threading.Thread:
    def run() -> None:
        time.sleep(seconds)
        target()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_add_callback_threadsafe_from_8_threads_wakes_a_blocked_loop(loop: IOLoop) -> None:
    threads, per_thread = 8, 250
    total = threads * per_thread
    received: list[tuple[int, int]] = []

    def record(worker: int, serial: int) -> None:
        received.append((worker, serial))
        if len(received) == total:
            loop.stop()

    barrier = threading.Barrier(threads)

    def produce(worker: int) -> None:
        time.sleep(0.1)
        barrier.wait()
        for serial in range(per_thread):
            loop.add_callback_threadsafe(functools.partial(record, worker, serial))

    # Producers start once the loop sits in a wait with no timer and no callback.
    workers = [
        threading.Thread(target=produce, args=(worker,), daemon=True) for worker in range(threads)
    ]
    for worker in workers:
        worker.start()
    loop.start()
    for worker in workers:
        worker.join()
    assert len(received) == total
    for worker_index in range(threads):
        serials = [serial for worker, serial in received if worker == worker_index]
        assert serials == list(range(per_thread))


def test_add_callback_from_another_thread_wakes_the_loop(loop: IOLoop) -> None:
    loop.add_callback(_noop)
    loop.poll()
    thread = _start_later(0.05, lambda: loop.add_callback(loop.stop))
    loop.start()
    thread.join()


def test_stop_from_another_thread(loop: IOLoop) -> None:
    loop.add_callback(_noop)
    loop.poll()
    thread = _start_later(0.05, loop.stop)
    loop.start()
    thread.join()


def test_stop_before_start_runs_one_iteration(loop: IOLoop) -> None:
    ran: list[int] = []
    loop.add_callback(functools.partial(ran.append, 1))
    loop.stop()
    loop.start()
    assert ran == [1]
    loop.call_later(0.01, loop.stop)
    loop.start()


@pytest.mark.parametrize("method", ["start", "close"])
def test_start_and_close_are_refused_while_running(loop: IOLoop, method: str) -> None:
    errors: list[BaseException] = []

    def call_inside() -> None:
        try:
            getattr(loop, method)()
        except RuntimeError as exc:
            errors.append(exc)
        loop.stop()

    loop.add_callback(call_inside)
    loop.start()
    assert len(errors) == 1


def test_closed_loop_refuses_work() -> None:
    ioloop = IOLoop()
    ioloop.close()
    ioloop.close()
    with pytest.raises(RuntimeError):
        ioloop.add_callback_threadsafe(_noop)
    with pytest.raises(RuntimeError):
        ioloop.start()


# Descriptor handlers


def test_read_handler_gets_fd_and_read_event(
    loop: IOLoop, socket_pair: tuple[socket.socket, socket.socket]
) -> None:
    left, right = socket_pair
    seen: list[tuple[int, int]] = []

    def on_events(fd: int, events: int) -> None:
        seen.append((fd, events))
        left.recv(100)
        loop.stop()

    loop.add_handler(left.fileno(), on_events, loop.READ)
    right.send(b"x")
    loop.start()
    assert seen == [(left.fileno(), PollEvents.READ)]


def test_update_handler_changes_the_events_watched(
    loop: IOLoop, socket_pair: tuple[socket.socket, socket.socket]
) -> None:
    left, right = socket_pair
    seen: list[int] = []
    fd = left.fileno()
    loop.add_handler(fd, lambda _fd, events: seen.append(events), loop.READ)
    loop.update_handler(fd, loop.WRITE)
    loop.poll()
    assert seen == [PollEvents.WRITE]
    right.send(b"x")
    loop.update_handler(fd, loop.READ | loop.WRITE)
    loop.poll()
    assert seen[-1] == PollEvents.READ | PollEvents.WRITE
    loop.update_handler(fd, loop.ERROR)
    loop.call_later(0.01, _noop)
    loop.poll()
    assert len(seen) == 2
    loop.update_handler(fd, loop.READ)
    loop.poll()
    assert seen[-1] == PollEvents.READ


def test_remove_handler_stops_events(
    loop: IOLoop, socket_pair: tuple[socket.socket, socket.socket]
) -> None:
    left, right = socket_pair
    seen: list[int] = []
    loop.add_handler(left.fileno(), lambda _fd, events: seen.append(events), loop.READ)
    right.send(b"x")
    loop.remove_handler(left.fileno())
    loop.remove_handler(left.fileno())
    loop.call_later(0.02, loop.stop)
    loop.start()
    assert seen == []


def test_handler_bookkeeping_errors(
    loop: IOLoop, socket_pair: tuple[socket.socket, socket.socket]
) -> None:
    left, _ = socket_pair
    loop.add_handler(left.fileno(), lambda _fd, _events: None, loop.READ)
    with pytest.raises(ValueError):
        loop.add_handler(left.fileno(), lambda _fd, _events: None, loop.READ)
    with pytest.raises(ValueError):
        loop.update_handler(left.fileno() + 1000, loop.READ)
    with pytest.raises(TypeError):
        loop.add_handler("3", lambda _fd, _events: None, loop.READ)  # type: ignore[arg-type]


def test_handler_removed_by_an_earlier_handler_is_not_called(loop: IOLoop) -> None:
    pairs = [socket.socketpair() for _ in range(2)]
    calls: list[int] = []
    try:
        fds = [pair[0].fileno() for pair in pairs]

        def on_events(fd: int, _events: int) -> None:
            calls.append(fd)
            for other in fds:
                if other != fd:
                    loop.remove_handler(other)

        for pair in pairs:
            loop.add_handler(pair[0].fileno(), on_events, loop.READ)
            pair[1].send(b"x")
        loop.poll()
        assert len(calls) == 1
    finally:
        for pair in pairs:
            pair[0].close()
            pair[1].close()


def test_deactivated_poller_keeps_handlers(
    loop: IOLoop, socket_pair: tuple[socket.socket, socket.socket]
) -> None:
    left, right = socket_pair
    seen: list[int] = []
    loop.add_handler(left.fileno(), lambda _fd, events: seen.append(events), loop.READ)
    loop.deactivate_poller()
    loop.deactivate_poller()
    right.send(b"x")
    loop.activate_poller()
    loop.poll()
    assert seen == [PollEvents.READ]
    loop.deactivate_poller()
    loop.poll()
    assert seen == [PollEvents.READ, PollEvents.READ]


# Poller choice

_POLLER_OF_TYPE = {
    "select": (SelectPoller, "SelectSelector"),
    "poll": (PollPoller, "PollSelector"),
    "epoll": (EPollPoller, "EpollSelector"),
    "kqueue": (KQueuePoller, "KqueueSelector"),
}


@pytest.fixture(params=sorted(_POLLER_OF_TYPE))
def each_poller_loop(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[IOLoop]:
    """An IOLoop on each poller type this platform has."""
    kind = request.param
    poller_class, selector_name = _POLLER_OF_TYPE[kind]
    if not hasattr(selectors, selector_name):
        pytest.skip(f"{kind} is not available on this platform")
    monkeypatch.setattr(select_connection, "POLLER_TYPE", kind)
    ioloop = IOLoop()
    assert type(ioloop._poller) is poller_class
    yield ioloop
    ioloop.close()


def test_each_available_poller_type_runs_handlers_timers_and_wake_ups(
    each_poller_loop: IOLoop,
) -> None:
    ioloop = each_poller_loop
    left, right = socket.socketpair()
    try:
        seen: list[str] = []
        threads: list[threading.Thread] = []

        def on_readable(_fd: int, _events: int) -> None:
            left.recv(10)
            seen.append("read")
            # The loop now waits with nothing due: only the wake-up can end it.
            threads.append(_start_later(0.05, lambda: ioloop.add_callback_threadsafe(ioloop.stop)))

        ioloop.add_handler(left.fileno(), on_readable, ioloop.READ)
        ioloop.call_later(0.01, functools.partial(right.sendall, b"x"))
        ioloop.start()
        threads[0].join()
        assert seen == ["read"]
    finally:
        left.close()
        right.close()


def test_a_hang_up_alone_reaches_a_reader_as_readiness(each_poller_loop: IOLoop) -> None:
    # An empty pipe whose writer is gone reports a hang-up and no data
    # (POLLHUP without POLLIN): the reader must still run, to find the end.
    ioloop = each_poller_loop
    reader, writer = os.pipe()
    try:
        seen: list[int] = []
        ioloop.add_handler(reader, lambda _fd, events: seen.append(events), ioloop.READ)
        ioloop.add_handler(writer, lambda _fd, events: seen.append(-events), ioloop.WRITE)
        ioloop.remove_handler(writer)
        os.close(writer)
        writer = -1
        ioloop.call_later(5, ioloop.stop)
        ioloop.poll()
        assert seen == [ioloop.READ]
        assert os.read(reader, 1) == b""
    finally:
        os.close(reader)
        if writer >= 0:
            os.close(writer)


def test_removing_the_handler_of_a_closed_descriptor_is_harmless(loop: IOLoop) -> None:
    left, right = socket.socketpair()
    right.close()
    loop.add_handler(left.fileno(), lambda _fd, _events: None, loop.READ)
    fd = left.fileno()
    left.close()
    loop.remove_handler(fd)
    loop.call_later(0, loop.stop)
    loop.start()


def test_kqueue_on_a_platform_without_it_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    if hasattr(selectors, "KqueueSelector"):
        pytest.skip("kqueue is available here")
    monkeypatch.setattr(select_connection, "POLLER_TYPE", "kqueue")
    with pytest.raises(ValueError, match="kqueue"):
        IOLoop()


def test_unknown_poller_type_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select_connection, "POLLER_TYPE", "io_uring")
    with pytest.raises(ValueError, match="io_uring"):
        IOLoop()


def test_default_poller_uses_the_default_selector(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select_connection, "POLLER_TYPE", None)
    monkeypatch.setattr(select_connection, "SELECT_TYPE", None)
    ioloop = IOLoop()
    try:
        assert selectors.DefaultSelector.__name__ == ioloop._poller._SELECTOR_NAME
    finally:
        ioloop.close()


def test_select_type_is_the_legacy_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select_connection, "SELECT_TYPE", "select")
    ioloop = IOLoop()
    try:
        assert type(ioloop._poller) is SelectPoller
    finally:
        ioloop.close()
    monkeypatch.setattr(select_connection, "POLLER_TYPE", "poll")
    ioloop = IOLoop()
    try:
        assert type(ioloop._poller) is PollPoller
    finally:
        ioloop.close()


def test_poller_timeout_multipliers() -> None:
    assert SelectPoller.POLL_TIMEOUT_MULT == 1
    assert PollPoller.POLL_TIMEOUT_MULT == 1000
    assert EPollPoller.POLL_TIMEOUT_MULT == 1
    assert (IOLoop.READ, IOLoop.WRITE, IOLoop.ERROR) == (1, 4, 8)
    assert PollEvents.HANGUP == 16
