"""An RPC client with `pika.aio`, over RabbitMQ's direct reply-to.

    python examples/aio_rpc_client.py [QUEUE [N ...]]

Sends each N (default 10, 20, 30) as a request to QUEUE (default
"aio_rpc", see aio_rpc_server.py) and prints the replies. The requests go
out concurrently; each awaits the reply carrying its correlation id. The
replies come on the pseudo-queue ``amq.rabbitmq.reply-to``, consumed (with
automatic acks, as RabbitMQ requires) on the channel that publishes the
requests. The broker is taken from the AMQP_URL environment variable, by
default amqp://guest:guest@localhost:5672/%2F.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

import pika.aio
from pika import spec

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"
REPLY_TO = "amq.rabbitmq.reply-to"


class RpcClient:
    """Sends requests on one channel and matches replies to them."""

    def __init__(self, channel: pika.aio.Channel) -> None:
        self.channel = channel
        self.pending: dict[str, asyncio.Future[bytes]] = {}

    async def start(self) -> None:
        await self.channel.basic_consume(REPLY_TO, self.on_reply, auto_ack=True)

    def on_reply(
        self,
        _channel: pika.aio.Channel,
        _method: spec.Basic.Deliver,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        future = self.pending.pop(str(properties.correlation_id), None)
        if future is not None and not future.done():
            future.set_result(body)

    async def call(self, queue: str, request: bytes, timeout: float = 30.0) -> bytes:
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.pending[correlation_id] = future
        properties = spec.BasicProperties(reply_to=REPLY_TO, correlation_id=correlation_id)
        try:
            await self.channel.basic_publish("", queue, request, properties)
            return await asyncio.wait_for(future, timeout)
        finally:
            self.pending.pop(correlation_id, None)


async def main(queue: str, numbers: list[int]) -> int:
    url = os.environ.get("AMQP_URL", DEFAULT_URL)
    async with pika.aio.connect(url) as connection, connection.channel() as channel:
        client = RpcClient(channel)
        await client.start()
        replies = await asyncio.gather(
            *(client.call(queue, str(number).encode()) for number in numbers)
        )
    for number, reply in zip(numbers, replies):
        print(f" [.] fib({number}) = {reply.decode()}")
    return 0


if __name__ == "__main__":
    queue_name = sys.argv[1] if len(sys.argv) > 1 else "aio_rpc"
    requests = [int(arg) for arg in sys.argv[2:]] or [10, 20, 30]
    sys.exit(asyncio.run(main(queue_name, requests)))
