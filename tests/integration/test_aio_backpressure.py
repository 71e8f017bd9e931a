"""Back-pressure on `pika.aio` publishes without confirms: a publisher
waits while the broker blocks the connection, and while the transport's
buffer is above its high-water mark (here: the proxy stops forwarding),
instead of buffering without bound."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

import pika.aio
from tests.integration.aio_support import eventually, run, unique
from tests.utils.extra_node import ExtraBrokerNode
from tests.utils.proxy import TcpProxy

pytestmark = pytest.mark.broker

BODY = b"x" * 65536


def test_publishing_waits_while_the_transport_is_full(broker_url: str, proxy: TcpProxy) -> None:
    async def main() -> None:
        async with pika.aio.connect(proxy.rewrite_url(broker_url)) as conn:
            channel = await conn.channel()
            nowhere = unique("nowhere")
            published = 0
            largest_buffer = 0
            transport_size = conn._impl._adapter_get_write_buffer_size

            async def publish(count: int) -> None:
                nonlocal published, largest_buffer
                for _ in range(count):
                    await channel.basic_publish("", nowhere, BODY)
                    published += 1
                    largest_buffer = max(largest_buffer, transport_size())

            proxy.stall()
            # 64 MiB: far more than the kernel's socket buffers take.
            task = asyncio.ensure_future(publish(1024))
            await eventually(lambda: conn._impl.writing_paused, 30, "the transport to fill")
            stuck_at = published
            await asyncio.sleep(0.5)
            assert not task.done() and published == stuck_at < 1024
            # The transport's buffer stays near its high-water mark (64 KiB)
            # plus what one turn of the loop publishes (256 KiB).
            assert largest_buffer < 1024 * 1024
            proxy.resume()
            await asyncio.wait_for(task, 120)
            assert published == 1024

    run(main, timeout=150)


@pytest.fixture
def alarm_node(extra_broker: ExtraBrokerNode) -> Iterator[ExtraBrokerNode]:
    extra_broker.set_vm_memory_high_watermark(0.4)
    yield extra_broker
    extra_broker.set_vm_memory_high_watermark(0.4)


@pytest.mark.timeout(120)
def test_publishing_waits_while_the_broker_blocks_the_connection(
    alarm_node: ExtraBrokerNode,
) -> None:
    async def main() -> None:
        async with pika.aio.connect(alarm_node.url()) as conn, conn.channel() as channel:
            queue = str((await channel.queue_declare("", exclusive=True)).method.queue)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, alarm_node.set_vm_memory_high_watermark, 0.0000001)
            # A publish under the alarm makes the broker block the connection.
            await channel.basic_publish("", queue, b"sets off the block")
            await eventually(lambda: conn.blocked, 30, "Connection.Blocked")
            waiting = asyncio.ensure_future(channel.basic_publish("", queue, b"waits"))
            await asyncio.sleep(0.3)
            assert not waiting.done()
            await loop.run_in_executor(None, alarm_node.set_vm_memory_high_watermark, 0.4)
            await asyncio.wait_for(waiting, 30)
            assert not conn.blocked

    run(main, timeout=100)
