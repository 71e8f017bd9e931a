"""When `pika.aio` hands a command to asyncio's transport, against the broker.

A lone publish (a request, after a quiet spell) is written before the
publishing coroutine goes on, not at the end of the loop's turn: that turn
would be on the round trip. What an RPC server sends while it handles a
message of a ``consume()`` iterator (its reply, then the message's ack)
still leaves in one write, when it asks for the next message.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import pika.aio
from pika import frame
from pika.aio import Channel, Connection
from tests.integration.aio_support import run
from tests.utils.frames import decode_all

pytestmark = pytest.mark.broker


def record_writes(conn: Connection) -> list[list[str]]:
    """What each write of ``conn`` to asyncio's transport carries from now
    on: the names of its frames (the method's name for a method frame)."""
    bridge: Any = conn._impl._transport
    writes: list[list[str]] = []

    def names(data: bytes) -> list[str]:
        return [
            f.method.NAME if isinstance(f, frame.Method) else type(f).__name__
            for f in decode_all(data)
        ]

    write, writelines = bridge.write, bridge.writelines

    def recorded_write(data: Any) -> None:
        writes.append(names(bytes(data)))
        write(data)

    def recorded_writelines(buffers: Any) -> None:
        writes.append(names(b"".join(bytes(chunk) for chunk in buffers)))
        writelines(buffers)

    bridge.write = recorded_write
    bridge.writelines = recorded_writelines
    return writes


async def _exclusive_queue(channel: Channel) -> str:
    return str((await channel.queue_declare("", exclusive=True)).method.queue)


def test_a_lone_publish_is_written_before_the_coroutine_goes_on(broker_url: str) -> None:
    async def main() -> list[list[str]]:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            queue = await _exclusive_queue(channel)
            await asyncio.sleep(0.01)  # a quiet spell
            writes = record_writes(conn)
            await channel.basic_publish("", queue, b"request")
            return list(writes)

    assert run(main) == [["Basic.Publish", "Header", "Body"]]


def test_a_reply_and_its_ack_leave_in_one_write(broker_url: str) -> None:
    async def main() -> list[list[str]]:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            requests = await _exclusive_queue(channel)
            replies = await _exclusive_queue(channel)
            await channel.basic_publish("", requests, b"ping")
            async with channel.consume(requests, inactivity_timeout=0.2) as messages:
                method, _properties, body = await messages.__anext__()
                assert method is not None and body == b"ping"
                await asyncio.sleep(0.01)  # a quiet spell: a lone reply would go at once
                writes = record_writes(conn)
                await channel.basic_publish("", replies, b"pong")
                await channel.basic_ack(method.delivery_tag or 0)
                assert writes == []  # held while the message is handled
                assert await messages.__anext__() == (None, None, None)
                return list(writes)

    assert run(main)[0] == ["Basic.Publish", "Header", "Body", "Basic.Ack"]


def test_the_held_writes_go_at_the_end_of_the_turn_anyway(broker_url: str) -> None:
    async def main() -> list[list[str]]:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            requests = await _exclusive_queue(channel)
            await channel.basic_publish("", requests, b"ping")
            async with channel.consume(requests) as messages:
                method, _properties, _body = await messages.__anext__()
                assert method is not None
                writes = record_writes(conn)
                await channel.basic_ack(method.delivery_tag or 0)
                await asyncio.sleep(0)  # the application awaits something else
                return list(writes)

    assert run(main) == [["Basic.Ack"]]
