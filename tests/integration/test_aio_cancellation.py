"""Cancelling `pika.aio` calls at each point where they await.

The proxy between client and broker is stalled while a call awaits, so its
reply is certainly late; the task is cancelled, the proxy resumes, and the
late reply must be dropped: the channel stays usable and the next call
gets its own reply. A cancelled ``basic_get`` requeues what it fetched; a
cancelled ``basic_consume`` leaves no consumer behind.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import pika.aio
from pika import spec
from pika.aio import Channel
from tests.integration.aio_support import eventually, ready_and_consumers, run, unique, until_counts
from tests.utils.proxy import TcpProxy

pytestmark = pytest.mark.broker


async def _cancel_while_stalled(proxy: TcpProxy, call: Any) -> None:
    """Start ``call`` with the link stalled, cancel it, resume the link."""
    proxy.stall()
    task = asyncio.ensure_future(call)
    await asyncio.sleep(0.1)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    proxy.resume()


async def _queue(channel: Channel) -> str:
    return str((await channel.queue_declare("", exclusive=True)).method.queue)


def test_a_cancelled_request_leaves_the_channel_usable(broker_url: str, proxy: TcpProxy) -> None:
    async def main() -> None:
        async with pika.aio.connect(proxy.rewrite_url(broker_url)) as conn:
            channel = await conn.channel()
            first, second = unique("first"), unique("second")
            await _cancel_while_stalled(proxy, channel.queue_declare(first, auto_delete=True))
            # The late DeclareOk of the first is dropped; this gets its own.
            ok = await channel.queue_declare(second, auto_delete=True)
            assert ok.method.queue == second
            # Both requests reached the broker.
            assert (await channel.queue_declare(first, passive=True)).method.queue == first
            # wait_for's timeout cancels the same way.
            proxy.stall()
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(channel.queue_purge(second), 0.1)
            proxy.resume()
            assert (await channel.queue_delete(second)).method.message_count == 0
            await channel.queue_delete(first)
            await channel.close()

    run(main)


def test_a_cancelled_get_requeues_its_message(broker_url: str, proxy: TcpProxy) -> None:
    async def main() -> None:
        async with (
            pika.aio.connect(proxy.rewrite_url(broker_url)) as conn,
            conn.channel() as channel,
        ):
            queue = await _queue(channel)
            await channel.basic_publish("", queue, b"kept")
            await until_counts(channel, queue, (1, 0))
            await _cancel_while_stalled(proxy, channel.basic_get(queue))
            # Its late GetOk was rejected with requeue.
            await until_counts(channel, queue, (1, 0))
            method, _props, body = await channel.basic_get(queue)
            assert body == b"kept" and method is not None and method.redelivered
            assert await channel.basic_get(queue) == (None, None, None)

    run(main)


def test_a_cancelled_basic_consume_leaves_no_consumer(broker_url: str, proxy: TcpProxy) -> None:
    async def main() -> None:
        async with (
            pika.aio.connect(proxy.rewrite_url(broker_url)) as conn,
            conn.channel() as channel,
        ):
            queue = await _queue(channel)
            received: list[bytes] = []

            def on_message(_ch: Channel, _m: spec.Basic.Deliver, _p: Any, body: bytes) -> None:
                received.append(body)

            await _cancel_while_stalled(proxy, channel.basic_consume(queue, on_message))
            await until_counts(channel, queue, (0, 0))
            assert channel.consumer_tags == []
            await channel.basic_publish("", queue, b"nobody")
            await until_counts(channel, queue, (1, 0))
            assert received == []

    run(main)


def test_a_cancelled_confirmed_publish_was_sent(broker_url: str, proxy: TcpProxy) -> None:
    async def main() -> None:
        async with (
            pika.aio.connect(proxy.rewrite_url(broker_url)) as conn,
            conn.channel() as channel,
        ):
            await channel.confirm_delivery()
            queue = await _queue(channel)
            await _cancel_while_stalled(proxy, channel.basic_publish("", queue, b"one"))
            await channel.basic_publish("", queue, b"two")
            assert (await ready_and_consumers(channel, queue))[0] == 2

    run(main)


def test_cancelled_channel_open_and_connect(broker_url: str, proxy: TcpProxy) -> None:
    async def main() -> None:
        url = proxy.rewrite_url(broker_url)
        async with pika.aio.connect(url) as conn:
            await _cancel_while_stalled(proxy, conn.channel())
            async with conn.channel() as channel:
                await _queue(channel)
        await _cancel_while_stalled(proxy, pika.aio.connect(url))
        await eventually(lambda: proxy.connection_count == 0, what="the aborted connection")

    run(main)


def test_a_cancelled_wait_for_the_next_message_keeps_the_iterator(broker_url: str) -> None:
    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            queue = await _queue(channel)
            async with channel.consume(queue, auto_ack=True) as messages:
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(messages.__anext__(), 0.1)
                await channel.basic_publish("", queue, b"after")
                _method, _props, body = await messages.__anext__()
                assert body == b"after"

    run(main)
