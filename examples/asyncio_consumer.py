"""Publish and consume on asyncio's event loop with `AsyncioConnection`.

    python examples/asyncio_consumer.py QUEUE COUNT

`AsyncioConnection` is the callback API on an asyncio loop. This program
turns each callback into a future it can ``await``: it opens a connection
and a channel, declares QUEUE, publishes COUNT messages with publisher
confirms and waits until the broker has confirmed them all, then consumes
COUNT messages, acknowledging each, and closes the connection. Other
coroutines of the program keep running meanwhile: a heartbeat task prints
a line each second.

AMQP_URL selects the broker.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from typing import Any, TypeVar

import pika
from pika.adapters.asyncio_connection import AsyncioConnection
from pika.channel import Channel
from pika.connection import Connection
from pika.exceptions import AMQPConnectionError
from pika.frame import Method
from pika.spec import Basic, BasicProperties

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"
T = TypeVar("T")


class Resolver:
    """Callbacks that settle futures of the running loop."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()

    def future(self) -> asyncio.Future[Any]:
        return self.loop.create_future()

    @staticmethod
    def settle(future: asyncio.Future[T], value: T) -> None:
        if not future.done():
            future.set_result(value)

    @staticmethod
    def fail(future: asyncio.Future[Any], error: BaseException) -> None:
        if not future.done():
            future.set_exception(error)


@dataclass
class Session:
    connection: AsyncioConnection
    channel: Channel
    closed: asyncio.Future[BaseException]
    """Resolves with the reason once the connection has closed."""


async def open_session(parameters: pika.URLParameters) -> Session:
    resolver = Resolver()
    opened: asyncio.Future[Connection] = resolver.future()
    closed: asyncio.Future[BaseException] = resolver.future()
    connection = AsyncioConnection(
        parameters,
        on_open_callback=lambda conn: resolver.settle(opened, conn),
        on_open_error_callback=lambda _conn, error: resolver.fail(opened, error),
        on_close_callback=lambda _conn, reason: resolver.settle(closed, reason),
        custom_ioloop=resolver.loop,
    )
    await opened
    channel_ready: asyncio.Future[Channel] = resolver.future()
    connection.channel(on_open_callback=lambda chan: resolver.settle(channel_ready, chan))
    return Session(connection, await channel_ready, closed)


async def request(resolver: Resolver, start: Any) -> Method[Any]:
    """Run a channel request whose ``callback`` gets the reply; await the reply."""
    reply: asyncio.Future[Method[Any]] = resolver.future()
    start(lambda frame: resolver.settle(reply, frame))
    return await reply


async def publish_confirmed(channel: Channel, queue: str, count: int) -> None:
    resolver = Resolver()
    all_confirmed: asyncio.Future[None] = resolver.future()
    unconfirmed = set(range(1, count + 1))  # publish sequence numbers start at 1
    nacked = 0

    def on_confirm(frame: Method[Basic.Ack | Basic.Nack]) -> None:
        nonlocal nacked
        tag = frame.method.delivery_tag
        # With multiple=True one Ack or Nack settles every message up to its tag.
        settled = {n for n in unconfirmed if n <= tag} if frame.method.multiple else {tag}
        unconfirmed.difference_update(settled)
        if isinstance(frame.method, Basic.Nack):
            nacked += len(settled)
        if not unconfirmed:
            resolver.settle(all_confirmed, None)

    await request(resolver, lambda done: channel.confirm_delivery(on_confirm, callback=done))
    for number in range(count):
        channel.basic_publish(
            "", queue, f"message {number}", BasicProperties(content_type="text/plain")
        )
    await all_confirmed
    print(f"published {count} messages: {count - nacked} confirmed, {nacked} nacked", flush=True)


async def consume(channel: Channel, queue: str, count: int) -> None:
    resolver = Resolver()
    incoming: asyncio.Queue[tuple[Basic.Deliver, bytes]] = asyncio.Queue()

    def on_message(
        _channel: Channel, method: Basic.Deliver, _properties: BasicProperties, body: bytes
    ) -> None:
        incoming.put_nowait((method, body))

    await request(resolver, lambda done: channel.basic_qos(prefetch_count=10, callback=done))
    tag = channel.basic_consume(queue, on_message)
    for number in range(1, count + 1):
        method, body = await incoming.get()
        print(f"received #{number}: {body.decode()}", flush=True)
        channel.basic_ack(method.delivery_tag)
    await request(resolver, lambda done: channel.basic_cancel(tag, callback=done))


async def heartbeat() -> None:
    while True:
        await asyncio.sleep(1)
        print("(the event loop is free for other work)", flush=True)


async def main(queue: str, count: int) -> int:
    parameters = pika.URLParameters(os.environ.get("AMQP_URL", DEFAULT_URL))
    try:
        session = await open_session(parameters)
    except AMQPConnectionError as error:
        print(f"connection failed: {error!r}", flush=True)
        return 1
    print("connected", flush=True)
    channel = session.channel
    ticking = asyncio.create_task(heartbeat())
    try:
        declared = await request(
            Resolver(), lambda done: channel.queue_declare(queue, callback=done)
        )
        print(f"queue {declared.method.queue} declared", flush=True)
        await publish_confirmed(channel, queue, count)
        await consume(channel, queue, count)
    finally:
        ticking.cancel()
        if session.connection.is_open:
            session.connection.close()
        reason = await session.closed
    print(f"closed: {reason!r}", flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    sys.exit(asyncio.run(main(sys.argv[1], int(sys.argv[2]))))
