"""An RPC server with `pika.aio`: answers requests on a queue.

    python examples/aio_rpc_server.py [QUEUE [COUNT]]

Each request's body is a number n; the reply, sent to the request's
``reply_to`` with its ``correlation_id``, is the n-th Fibonacci number.
Requests are handled by an async callback of `basic_consume`, each in its
own task. Stops after COUNT requests (default: runs until interrupted).
QUEUE defaults to "aio_rpc". The broker is taken from the AMQP_URL
environment variable, by default amqp://guest:guest@localhost:5672/%2F.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Optional

import pika.aio
from pika import spec

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"


def fibonacci(n: int) -> int:
    current, following = 0, 1
    for _ in range(n):
        current, following = following, current + following
    return current


async def main(queue: str, count: Optional[int]) -> int:
    answered = 0
    done = asyncio.Event()

    async def on_request(
        channel: pika.aio.Channel,
        method: spec.Basic.Deliver,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        nonlocal answered
        answer = str(fibonacci(int(body))).encode()
        if properties.reply_to:
            reply = spec.BasicProperties(correlation_id=properties.correlation_id)
            await channel.basic_publish("", str(properties.reply_to), answer, reply)
        await channel.basic_ack(method.delivery_tag or 0)
        answered += 1
        print(f" [.] fib({body.decode()}) = {answer.decode()}")
        if answered == count:
            done.set()

    url = os.environ.get("AMQP_URL", DEFAULT_URL)
    async with pika.aio.connect(url) as connection, connection.channel() as channel:
        await channel.queue_declare(queue)
        await channel.basic_qos(prefetch_count=10)
        await channel.basic_consume(queue, on_request)
        print(f" [x] Awaiting RPC requests on {queue}")
        await done.wait()
    return 0


if __name__ == "__main__":
    queue_name = sys.argv[1] if len(sys.argv) > 1 else "aio_rpc"
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else None
    try:
        sys.exit(asyncio.run(main(queue_name, limit)))
    except KeyboardInterrupt:
        sys.exit(130)
