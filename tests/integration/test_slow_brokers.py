"""Slow and silent servers, on every connection type: a server that accepts
and never answers, one that trickles the handshake a byte a second, one
that stops in the middle of the handshake, one that blocks the connection
and stays silent, and a port that never accepts. Each must end within the
timeout that covers it (``stack_timeout``, ``blocked_connection_timeout``,
``socket_timeout``) with an `AMQPConnectionError` saying which one.

The servers are `ScriptedServer` scripts; no broker is needed.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable, Optional

import pytest

import pika
from pika import exceptions, spec
from pika.connection import ConnectionParameters
from tests.integration.adapter_driver import KITS, AdapterDriver, in_reactor
from tests.integration.fake_broker import PROTOCOL_HEADER, START, frames, handshake, method_bytes
from tests.integration.select_support import Recorder
from tests.utils.fake_server import Script, ScriptedServer

pytestmark = pytest.mark.timeout(90)

STACK_TIMEOUT = 2.0
SOCKET_TIMEOUT = 1.0
BLOCKED_TIMEOUT = 1.0
#: Scheduling slack on a loaded machine, on top of the timeout that applies.
SLACK = 10.0

TUNE = method_bytes(0, spec.Connection.Tune(2047, 131072, 0))


@dataclass(frozen=True)
class Scenario:
    """A server's behaviour, the timeout that must end the connection, and
    what the error must say."""

    script: Optional[Callable[[], Script]]
    timeout_name: str
    timeout: float
    expected: str


SCENARIOS = {
    "never_answers": Scenario(
        lambda: Script().expect(PROTOCOL_HEADER), "stack_timeout", STACK_TIMEOUT, "stack_timeout"
    ),
    "trickles_the_handshake": Scenario(
        lambda: Script().expect(PROTOCOL_HEADER).trickle(method_bytes(0, START), 1.0),
        "stack_timeout",
        STACK_TIMEOUT,
        "stack_timeout",
    ),
    "stops_mid_handshake": Scenario(
        lambda: (
            Script()
            .expect(PROTOCOL_HEADER)
            .send(method_bytes(0, START))
            .expect(frames(1))
            .send(TUNE[:9])
        ),
        "stack_timeout",
        STACK_TIMEOUT,
        "stack_timeout",
    ),
    "blocks_and_stays_silent": Scenario(
        lambda: handshake(Script()).send(method_bytes(0, spec.Connection.Blocked("low on memory"))),
        "blocked_connection_timeout",
        BLOCKED_TIMEOUT,
        "blocked",
    ),
    "never_accepts": Scenario(None, "socket_timeout", SOCKET_TIMEOUT, "timed out"),
}

SURFACES = [*sorted(KITS), "blocking", "thread_safe", "twisted"]


@dataclass
class Outcome:
    error: BaseException
    opened: bool
    elapsed: float
    """From the start (or, once opened, from the open) to the end."""


def unanswered_port() -> Iterator[tuple[str, int]]:
    """A loopback port whose listener never accepts and whose backlog is
    full, so a new TCP connect to it gets no answer at all."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    filler = socket.create_connection(address, timeout=2)
    try:
        yield address
    finally:
        filler.close()
        listener.close()


@pytest.fixture(params=sorted(SCENARIOS))
def scenario(request: pytest.FixtureRequest) -> Scenario:
    return SCENARIOS[request.param]


@pytest.fixture
def address(scenario: Scenario) -> Iterator[tuple[str, int]]:
    if scenario.script is None:
        yield from unanswered_port()
        return
    with ScriptedServer(scenario.script()) as server:
        yield server.address


@pytest.fixture(params=SURFACES)
def surface(request: pytest.FixtureRequest, scenario: Scenario) -> str:
    if request.param in ("tornado", "gevent", "twisted"):
        pytest.importorskip(request.param)
    if request.param == "twisted" and scenario.script is None:
        pytest.skip("Twisted's endpoint makes the TCP connection, with its own timeout")
    return str(request.param)


def settings(address: tuple[str, int]) -> ConnectionParameters:
    host, port = address
    return ConnectionParameters(
        host=host,
        port=port,
        socket_timeout=SOCKET_TIMEOUT,
        stack_timeout=STACK_TIMEOUT,
        blocked_connection_timeout=BLOCKED_TIMEOUT,
        connection_attempts=1,
        heartbeat=0,
    )


def run_callback_adapter(kit: str, params: ConnectionParameters) -> Outcome:
    driver = AdapterDriver(KITS[kit]())
    try:
        rec = Recorder()
        started = time.monotonic()
        driver.attempt(params, rec, timeout=STACK_TIMEOUT + SLACK)
        if rec.get("open_error"):
            return Outcome(rec.one("open_error")[1], False, time.monotonic() - started)
        opened = time.monotonic()
        driver.until(rec.has("closed"), timeout=BLOCKED_TIMEOUT + SLACK, what="the close")
        return Outcome(rec.one("closed")[1], True, time.monotonic() - opened)
    finally:
        driver.close()


def run_blocking(params: ConnectionParameters) -> Outcome:
    started = time.monotonic()
    try:
        conn = pika.BlockingConnection(params)
    except exceptions.AMQPConnectionError as error:
        return Outcome(error, False, time.monotonic() - started)
    opened = time.monotonic()
    try:
        while time.monotonic() - opened < BLOCKED_TIMEOUT + SLACK:
            conn.process_data_events(time_limit=0.2)
    except exceptions.AMQPConnectionError as error:
        return Outcome(error, True, time.monotonic() - opened)
    raise AssertionError("the blocked connection did not end")


def run_thread_safe(params: ConnectionParameters) -> Outcome:
    closed: list[BaseException] = []
    ended = threading.Event()

    def on_close(_conn: Any, error: BaseException) -> None:
        closed.append(error)
        ended.set()

    started = time.monotonic()
    try:
        conn = pika.Connection(params, on_close_callback=on_close)
    except exceptions.AMQPConnectionError as error:
        return Outcome(error, False, time.monotonic() - started)
    opened = time.monotonic()
    assert ended.wait(BLOCKED_TIMEOUT + SLACK), "the blocked connection did not end"
    assert conn.is_closed
    return Outcome(closed[0], True, time.monotonic() - opened)


def run_twisted(reactor: Any, params: ConnectionParameters) -> Outcome:
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    from pika.adapters.twisted_connection import TwistedProtocolConnection

    async def scenario() -> Outcome:
        endpoint = TCP4ClientEndpoint(reactor, params.host, params.port, SOCKET_TIMEOUT)
        started = time.monotonic()
        amqp = await connectProtocol(endpoint, TwistedProtocolConnection(params, reactor))
        try:
            await amqp.ready
        except exceptions.AMQPConnectionError as error:
            return Outcome(error, False, time.monotonic() - started)
        opened = time.monotonic()
        reason = await amqp.closed
        return Outcome(reason, True, time.monotonic() - opened)

    return in_reactor(reactor, scenario, timeout=STACK_TIMEOUT + BLOCKED_TIMEOUT + SLACK)


def test_slow_or_silent_server_ends_within_its_timeout(
    surface: str, scenario: Scenario, address: tuple[str, int], request: pytest.FixtureRequest
) -> None:
    params = settings(address)
    if surface == "blocking":
        outcome = run_blocking(params)
    elif surface == "thread_safe":
        outcome = run_thread_safe(params)
    elif surface == "twisted":
        outcome = run_twisted(request.getfixturevalue("reactor"), params)
    else:
        outcome = run_callback_adapter(surface, params)
    error = outcome.error
    assert isinstance(error, exceptions.AMQPConnectionError), repr(error)
    assert scenario.expected in str(error), str(error)
    # Blocked after the open; every other scenario before it.
    assert outcome.opened == (scenario.timeout_name == "blocked_connection_timeout")
    # The timeout that covers the scenario ended it, not something sooner.
    assert 0.9 * scenario.timeout <= outcome.elapsed < scenario.timeout + SLACK, (
        f"{scenario.timeout_name}={scenario.timeout:g} s, ended after {outcome.elapsed:.2f} s"
    )
