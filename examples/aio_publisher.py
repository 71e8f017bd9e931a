"""Publish messages with publisher confirms, many in flight at once, with
`pika.aio`.

    python examples/aio_publisher.py [QUEUE [COUNT]]

Declares QUEUE (default "aio_tasks"), then publishes COUNT messages
(default 1000), each from its own task: the publishes are pipelined and
each task awaits the broker's confirm of its own message. A nacked message
(say the queue is full) is reported, not lost silently. The connection
recovers by itself if it breaks; messages unconfirmed at the loss are
reported as nacked. The broker is taken from the AMQP_URL environment
variable, by default amqp://guest:guest@localhost:5672/%2F.
"""

from __future__ import annotations

import asyncio
import os
import sys

import pika.aio
from pika import exceptions, spec

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"


async def publish_one(channel: pika.aio.Channel, queue: str, number: int) -> bool:
    """Publish message ``number``; True once confirmed, False if nacked."""
    properties = spec.BasicProperties(
        content_type="text/plain", delivery_mode=2, message_id=str(number)
    )
    try:
        await channel.basic_publish("", queue, f"task {number}".encode(), properties)
    except exceptions.NackError:
        return False
    return True


async def main(queue: str, count: int) -> int:
    url = os.environ.get("AMQP_URL", DEFAULT_URL)
    async with pika.aio.connect(url) as connection, connection.channel() as channel:
        await channel.queue_declare(queue, durable=True)
        await channel.confirm_delivery()
        outcomes = await asyncio.gather(
            *(publish_one(channel, queue, number) for number in range(count))
        )
    confirmed = sum(outcomes)
    print(f" [x] {confirmed} messages confirmed, {count - confirmed} nacked, to {queue}")
    return 0 if confirmed == count else 3


if __name__ == "__main__":
    queue_name = sys.argv[1] if len(sys.argv) > 1 else "aio_tasks"
    how_many = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    sys.exit(asyncio.run(main(queue_name, how_many)))
