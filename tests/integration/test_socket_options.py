"""Every adapter's socket to the broker has Nagle's algorithm off (TCP_NODELAY).

With Nagle on, a small frame written while an earlier one is still
unacknowledged waits for the broker's delayed ACK (up to tens of
milliseconds on Linux): a request/reply round trip would stall on it. The
sockets are found from the outside (`tests.utils.sockets`), whichever
adapter or framework made them.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest

import pika.aio
from pika.adapters.blocking_connection import BlockingConnection
from pika.adapters.thread_safe_connection import Connection as ThreadSafeConnection
from pika.connection import URLParameters
from tests.integration.adapter_driver import AdapterDriver, in_reactor
from tests.utils.sockets import nagle_off_by_local_address

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd"),
]


def made_since(before: set[tuple[object, ...]], port: int) -> dict[tuple[object, ...], bool]:
    """The sockets to ``port`` whose local address is not in ``before``
    (local address -> TCP_NODELAY on); fails if there is none, or if
    Nagle is on for one of them."""
    now = nagle_off_by_local_address(port)
    made = {address: on for address, on in now.items() if address not in before}
    assert made, "no new socket to the broker was found"
    assert all(made.values()), f"TCP_NODELAY off on {[a for a, on in made.items() if not on]}"
    return made


def sockets_now(params: URLParameters) -> set[tuple[object, ...]]:
    return set(nagle_off_by_local_address(params.port))


def test_callback_adapters(driver: AdapterDriver, params: URLParameters) -> None:
    before = sockets_now(params)
    assert driver.connect(params).is_open
    made_since(before, params.port)


def test_blocking_connection(params: URLParameters) -> None:
    before = sockets_now(params)
    with BlockingConnection(params):
        made_since(before, params.port)


def test_thread_safe_connection(params: URLParameters) -> None:
    before = sockets_now(params)
    conn = ThreadSafeConnection(params)
    try:
        made_since(before, params.port)
    finally:
        conn.close()


def test_pika_aio(params: URLParameters) -> None:
    async def scenario() -> None:
        before = sockets_now(params)
        async with pika.aio.connect(params):
            made_since(before, params.port)

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_twisted(reactor: Any, params: URLParameters) -> None:
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    from pika.adapters.twisted_connection import TwistedProtocolConnection

    async def scenario() -> dict[tuple[object, ...], bool]:
        before = sockets_now(params)
        endpoint = TCP4ClientEndpoint(reactor, params.host, params.port)
        amqp = await connectProtocol(endpoint, TwistedProtocolConnection(params, reactor))
        await amqp.ready
        try:
            return made_since(before, params.port)
        finally:
            await amqp.close()

    in_reactor(reactor, scenario)
