"""Driving a `SelectConnection` from a test: run its loop until something holds.

The callback API is a chain of callbacks; a test records what they receive
in a `Recorder` and runs the loop with `pump` until the records it waits for
are there. Every wait is bounded: a wait that runs out raises `WaitTimeout`
(an AssertionError), so a hung client fails the test instead of hanging it.
Exceptions raised by callbacks propagate out of `pump`, as they do out of
``ioloop.start()``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Callable, Optional

from pika.adapters.select_connection import IOLoop, SelectConnection
from pika.channel import Channel
from pika.connection import Parameters
from tests.utils import broker
from tests.utils.wait import WaitTimeout

DEFAULT_WAIT = 10.0


def unique(prefix: str) -> str:
    """A name no other test (or earlier run) uses."""
    return f"pika-test-{prefix}-{uuid.uuid4().hex[:10]}"


def pump(
    ioloop: IOLoop,
    condition: Callable[[], Any],
    timeout: float = DEFAULT_WAIT,
    message: str = "condition",
) -> None:
    """Run ``ioloop`` iterations until ``condition()`` is truthy."""
    deadline = time.monotonic() + timeout
    # A timer bounds each wait of the loop, which has none when idle.
    guard = ioloop.call_later(timeout, lambda: None)
    try:
        while not condition():
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"{message} did not hold within {timeout:g} s")
            ioloop.poll()
    finally:
        ioloop.remove_timeout(guard)


def run_loop(ioloop: IOLoop, timeout: float = DEFAULT_WAIT) -> None:
    """``ioloop.start()`` until something calls ``ioloop.stop()``; fails past ``timeout``."""
    expired: list[bool] = []

    def expire() -> None:
        expired.append(True)
        ioloop.stop()

    guard = ioloop.call_later(timeout, expire)
    try:
        ioloop.start()
    finally:
        ioloop.remove_timeout(guard)
    if expired:
        raise WaitTimeout(f"nothing stopped the loop within {timeout:g} s")


class Recorder:
    """Collects callback invocations by name: ``rec.cb("name")`` is a callback
    that appends its arguments (one argument alone, several as a tuple)."""

    def __init__(self) -> None:
        self.calls: dict[str, list[Any]] = {}

    def cb(self, name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.calls.setdefault(name, []).append(args[0] if len(args) == 1 else args)

        return record

    def get(self, name: str) -> list[Any]:
        return self.calls.get(name, [])

    def has(self, name: str, count: int = 1) -> Callable[[], bool]:
        return lambda: len(self.get(name)) >= count

    def one(self, name: str) -> Any:
        values = self.get(name)
        assert len(values) == 1, f"{name}: expected one call, got {values!r}"
        return values[0]


def open_connection(
    params: Parameters,
    ioloop: Optional[IOLoop] = None,
    timeout: float = DEFAULT_WAIT,
    **callbacks: Any,
) -> SelectConnection:
    """A `SelectConnection` run until its open (or open error) callback."""
    rec = Recorder()
    conn = SelectConnection(
        params,
        on_open_callback=rec.cb("open"),
        on_open_error_callback=rec.cb("error"),
        custom_ioloop=ioloop,
        **callbacks,
    )
    pump(conn.ioloop, lambda: rec.get("open") or rec.get("error"), timeout, "connection open")
    if rec.get("error"):
        raise AssertionError(f"connection failed to open: {rec.get('error')[0][1]!r}")
    return conn


def loop_of(chan: Channel) -> IOLoop:
    """The `IOLoop` running ``chan``'s `SelectConnection`."""
    conn = chan.connection
    assert isinstance(conn, SelectConnection)
    loop = conn.ioloop
    assert isinstance(loop, IOLoop)
    return loop


def open_channel(conn: SelectConnection, timeout: float = DEFAULT_WAIT) -> Channel:
    opened: list[Channel] = []
    conn.channel(on_open_callback=opened.append)
    pump(conn.ioloop, lambda: opened, timeout, "channel open")
    return opened[0]


def close_connection(conn: SelectConnection, timeout: float = DEFAULT_WAIT) -> None:
    """Close ``conn`` (if still open) and run its loop until it is closed."""
    if conn.is_open:
        conn.close()
    pump(conn.ioloop, lambda: conn.is_closed, timeout, "connection closed")


def broker_pid_of(connection_name: str, node: Optional[str] = None) -> str:
    """The broker's pid for the connection whose client_properties carry
    ``connection_name`` (for ``rabbitmqctl close_connection``)."""
    for row in broker.list_connections(("pid", "client_properties"), node=node):
        if connection_name in row.get("client_properties", ""):
            return row["pid"]
    raise AssertionError(f"the broker lists no connection named {connection_name}")


def acking_consumer(received: list[bytes]) -> Callable[[Any, Any, Any, bytes], None]:
    """An ``on_message_callback`` that appends each body to ``received`` and acks it."""

    def on_message(channel: Any, method: Any, _properties: Any, body: bytes) -> None:
        received.append(body)
        channel.basic_ack(method.delivery_tag)

    return on_message
