"""Bodies around and well beyond frame_max, end to end through the broker,
on the blocking connection, every callback-API event loop, Twisted and `pika.aio`:
each arrives whole and unchanged, also when several are in flight at once."""

from __future__ import annotations

from typing import Any

import pytest

import pika
import pika.aio
from pika import spec
from pika.connection import URLParameters
from tests.integration.adapter_driver import AdapterDriver, in_reactor
from tests.integration.aio_support import run
from tests.integration.select_support import Recorder

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]

FRAME_MAX = 131072
BODY_MAX = FRAME_MAX - 8
SIZES = [
    BODY_MAX - 1,
    BODY_MAX,
    BODY_MAX + 1,
    2 * BODY_MAX,
    3 * BODY_MAX + 17,
    1024 * 1024 + 1,
    3 * 1024 * 1024,
]


def bodies() -> list[bytes]:
    """One body per size, each with its own content."""
    return [
        bytes((seed * 31 + i) % 256 for i in range(256)) * (size // 256)
        + bytes([seed] * (size % 256))
        for seed, size in enumerate(SIZES)
    ]


def with_frame_max(url: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}frame_max={FRAME_MAX}"


def test_blocking_connection(broker_url: str) -> None:
    expected = bodies()
    with pika.BlockingConnection(URLParameters(with_frame_max(broker_url))) as conn:
        channel = conn.channel()
        queue = str(channel.queue_declare("", exclusive=True).method.queue)
        for body in expected:
            channel.basic_publish("", queue, body)
        received = []
        for method, _properties, body in channel.consume(queue, inactivity_timeout=30):
            assert method is not None, "a delivery did not arrive"
            received.append(body)
            channel.basic_ack(method.delivery_tag)
            if len(received) == len(expected):
                break
        channel.cancel()
    assert [len(body) for body in received] == SIZES
    assert received == expected


def test_callback_adapters(driver: AdapterDriver, broker_url: str) -> None:
    expected = bodies()
    chan = driver.channel(driver.connect(URLParameters(with_frame_max(broker_url))))
    declare_ok = driver.method(lambda done: chan.queue_declare("", exclusive=True, callback=done))
    queue = str(declare_ok.queue)
    received: list[bytes] = []

    def on_message(channel: Any, method: Any, _props: Any, body: bytes) -> None:
        received.append(body)
        channel.basic_ack(method.delivery_tag)

    rec = Recorder()
    chan.basic_consume(queue, on_message, callback=rec.cb("consume_ok"))
    driver.until(lambda: rec.get("consume_ok"), what="ConsumeOk")
    for body in expected:
        chan.basic_publish("", queue, body, spec.BasicProperties(content_type="x/y"))
    driver.until(lambda: len(received) == len(expected), what="every delivery", timeout=60)
    assert [len(body) for body in received] == SIZES
    assert received == expected


def test_pika_aio(broker_url: str) -> None:
    expected = bodies()

    async def main() -> list[bytes]:
        async with pika.aio.connect(with_frame_max(broker_url)) as conn, conn.channel() as channel:
            queue = str((await channel.queue_declare("", exclusive=True)).method.queue)
            for body in expected:
                await channel.basic_publish("", queue, body)
            received: list[bytes] = []
            async with channel.consume(queue) as messages:
                async for method, _properties, body in messages:
                    assert method is not None and body is not None
                    received.append(body)
                    await channel.basic_ack(method.delivery_tag or 0)
                    if len(received) == len(expected):
                        break
            return received

    received = run(main, timeout=90)
    assert [len(body) for body in received] == SIZES
    assert received == expected


def test_twisted(reactor: Any, broker_url: str) -> None:
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    from pika.adapters.twisted_connection import TwistedProtocolConnection

    expected = bodies()
    params = URLParameters(with_frame_max(broker_url))

    async def scenario() -> list[bytes]:
        endpoint = TCP4ClientEndpoint(reactor, params.host, params.port)
        amqp = await connectProtocol(endpoint, TwistedProtocolConnection(params, reactor))
        await amqp.ready
        chan = await amqp.channel()
        queue = (await chan.queue_declare("", exclusive=True)).method.queue
        for body in expected:
            await chan.basic_publish("", queue, body)
        messages, _tag = await chan.basic_consume(queue)
        received = []
        for _ in expected:
            message = await messages.get()
            chan.basic_ack(message.method.delivery_tag)
            received.append(message.body)
        await amqp.close()
        return received

    received = in_reactor(reactor, scenario)
    assert [len(body) for body in received] == SIZES
    assert received == expected
