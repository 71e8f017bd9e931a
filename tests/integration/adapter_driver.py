"""One way to drive any callback-API adapter from a test, whatever its event loop.

A `LoopKit` says how to make, run, stop and time one kind of native loop
(the selector IOLoop, asyncio, Tornado, gevent). `AdapterDriver` builds on
a kit: it opens connections and channels and runs the loop until a
condition holds, so a behaviour test is written once and parametrized over
the kits. Every wait is bounded and raises `WaitTimeout` (an
AssertionError) when it runs out.

Tests keep their assertions out of callbacks: callbacks only record (with
`select_support.Recorder`), and the test checks the records after `until`
returns. Some loops (Tornado, gevent) log an exception raised by a
callback instead of letting it out, and it would then show up only as a
timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from pika import frame
from pika.adapters.base_connection import BaseConnection
from pika.adapters.select_connection import IOLoop, SelectConnection
from pika.channel import Channel
from pika.connection import Parameters
from tests.integration.select_support import Recorder
from tests.utils.wait import WaitTimeout

T = TypeVar("T")

DEFAULT_WAIT = 10.0
TICK = 0.01
"""How often a running loop checks the condition it waits for."""


@dataclass(frozen=True)
class LoopKit:
    """How to handle one kind of native event loop."""

    name: str
    connection_class: type[BaseConnection]
    new_loop: Callable[[], Any]
    run: Callable[[Any], None]
    """Run the loop until `stop` is called."""
    stop: Callable[[Any], None]
    call_later: Callable[[Any, float, Callable[[], None]], Any]
    cancel: Callable[[Any, Any], None]
    close: Callable[[Any], None]
    call_from_thread: Callable[[Any, Callable[[], None]], None]
    """What the adapter's ``connection.ioloop`` offers to run a callback from any thread."""
    loop_of: Callable[[Any], Any] = lambda ioloop: ioloop
    """The native loop behind a connection's ``ioloop``."""


def select_kit() -> LoopKit:
    return LoopKit(
        name="select",
        connection_class=SelectConnection,
        new_loop=IOLoop,
        run=lambda loop: loop.start(),
        stop=lambda loop: loop.stop(),
        call_later=lambda loop, delay, cb: loop.call_later(delay, cb),
        cancel=lambda loop, handle: loop.remove_timeout(handle),
        close=lambda loop: loop.close(),
        call_from_thread=lambda ioloop, cb: ioloop.add_callback_threadsafe(cb),
    )


def asyncio_kit() -> LoopKit:
    from pika.adapters.asyncio_connection import AsyncioConnection

    return LoopKit(
        name="asyncio",
        connection_class=AsyncioConnection,
        new_loop=asyncio.new_event_loop,
        run=lambda loop: loop.run_forever(),
        stop=lambda loop: loop.stop(),
        call_later=lambda loop, delay, cb: loop.call_later(delay, cb),
        cancel=lambda loop, handle: handle.cancel(),
        close=lambda loop: loop.close(),
        call_from_thread=lambda ioloop, cb: ioloop.call_soon_threadsafe(cb),
    )


def tornado_kit() -> LoopKit:
    from tornado.ioloop import IOLoop as TornadoIOLoop

    from pika.adapters.tornado_connection import TornadoConnection

    return LoopKit(
        name="tornado",
        connection_class=TornadoConnection,
        new_loop=lambda: TornadoIOLoop(make_current=False),
        run=lambda loop: loop.start(),
        stop=lambda loop: loop.stop(),
        call_later=lambda loop, delay, cb: loop.call_later(delay, cb),
        cancel=lambda loop, handle: loop.remove_timeout(handle),
        close=lambda loop: loop.close(),
        call_from_thread=lambda ioloop, cb: ioloop.add_callback(cb),
    )


def gevent_kit() -> LoopKit:
    import gevent
    import gevent.event

    from pika.adapters.gevent_connection import GeventConnection

    # The hub's loop runs while the test's greenlet waits on this event.
    stopped = gevent.event.Event()

    def run(_loop: Any) -> None:
        stopped.wait()
        stopped.clear()

    def call_later(loop: Any, delay: float, callback: Callable[[], None]) -> Any:
        timer = loop.timer(delay)
        timer.start(callback)
        return timer

    return LoopKit(
        name="gevent",
        connection_class=GeventConnection,
        new_loop=lambda: gevent.get_hub().loop,
        run=run,
        stop=lambda _loop: stopped.set(),
        call_later=call_later,
        cancel=lambda _loop, timer: timer.close(),
        close=lambda _loop: None,
        call_from_thread=lambda ioloop, cb: ioloop.add_callback_threadsafe(cb),
        loop_of=lambda ioloop: ioloop.gevent_loop,
    )


KITS: dict[str, Callable[[], LoopKit]] = {
    "select": select_kit,
    "asyncio": asyncio_kit,
    "tornado": tornado_kit,
    "gevent": gevent_kit,
}


class AdapterDriver:
    """Connections of one adapter on one native loop, run from a test."""

    def __init__(self, kit: LoopKit) -> None:
        self.kit = kit
        self.loop = kit.new_loop()
        self.connections: list[BaseConnection] = []

    def until(
        self, condition: Callable[[], Any], timeout: float = DEFAULT_WAIT, what: str = "condition"
    ) -> Any:
        """Run the loop until ``condition()`` is truthy; return that value."""
        result = condition()
        if result:
            return result
        kit, loop = self.kit, self.loop
        deadline = time.monotonic() + timeout
        outcome: list[Any] = []

        def check() -> None:
            value = condition()
            if value or time.monotonic() >= deadline:
                outcome.append(value)
                kit.stop(loop)
            else:
                handles[0] = kit.call_later(loop, TICK, check)

        handles = [kit.call_later(loop, TICK, check)]
        try:
            kit.run(loop)
        finally:
            if not outcome:
                kit.cancel(loop, handles[0])
        if not outcome or not outcome[0]:
            raise WaitTimeout(f"{self.kit.name}: {what} did not hold within {timeout:g} s")
        return outcome[0]

    def sleep(self, seconds: float) -> None:
        """Run the loop for ``seconds``."""
        end = time.monotonic() + seconds
        self.until(lambda: time.monotonic() >= end, seconds + DEFAULT_WAIT, "sleep")

    def attempt(
        self, params: Parameters, rec: Recorder, timeout: float = DEFAULT_WAIT
    ) -> BaseConnection:
        """Start a connection and run the loop until it opens or fails to:
        ``rec`` records ``"open"``, ``"open_error"`` and ``"closed"``."""
        # Each adapter adds ``custom_ioloop`` to BaseConnection's parameters.
        make: Any = self.kit.connection_class
        conn = make(
            params,
            on_open_callback=rec.cb("open"),
            on_open_error_callback=rec.cb("open_error"),
            on_close_callback=rec.cb("closed"),
            custom_ioloop=self.loop,
        )
        self.connections.append(conn)
        self.until(
            lambda: rec.get("open") or rec.get("open_error"), timeout, what="connection open"
        )
        return conn

    def connect(self, params: Parameters, rec: Recorder | None = None) -> BaseConnection:
        """Open a connection; its close callback records ``"closed"`` in ``rec``."""
        rec = rec if rec is not None else Recorder()
        conn = self.attempt(params, rec)
        if rec.get("open_error"):
            raise AssertionError(f"connection failed to open: {rec.get('open_error')[0][1]!r}")
        return conn

    def channel(self, conn: BaseConnection) -> Channel:
        opened: list[Channel] = []
        conn.channel(on_open_callback=opened.append)
        return self.until(lambda: opened, what="channel open")[0]

    def call(self, request: Callable[[Callable[..., None]], Any], what: str = "reply") -> Any:
        """``request(callback)``, then wait for the callback; returns its argument(s)."""
        rec = Recorder()
        request(rec.cb("reply"))
        self.until(rec.has("reply"), what=what)
        return rec.one("reply")

    def method(self, request: Callable[[Callable[..., None]], Any], what: str = "reply") -> Any:
        """Like `call` for a reply frame; returns the frame's method."""
        reply = self.call(request, what)
        assert isinstance(reply, frame.Method), reply
        return reply.method

    def close(self) -> None:
        """Close what is still open and release the loop."""
        for conn in self.connections:
            if conn.is_open:
                conn.close()
        self.until(
            lambda: all(conn.is_closed for conn in self.connections), what="connections closed"
        )
        # Some transports (asyncio's) close their socket on the next loop turn.
        self.sleep(0.05)
        self.kit.close(self.loop)


def in_reactor(
    reactor: Any, scenario: Callable[[], Coroutine[Any, Any, T]], timeout: float = 20
) -> T:
    """Run the coroutine ``scenario()`` in the reactor thread and return its result."""
    from twisted.internet import defer, threads

    def start() -> Any:
        running: Any = scenario()
        return defer.ensureDeferred(running).addTimeout(timeout, reactor)

    result: T = threads.blockingCallFromThread(reactor, start)
    return result
