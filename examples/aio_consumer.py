"""Consume a queue with `pika.aio`'s ``consume()`` iterator.

    python examples/aio_consumer.py [QUEUE [COUNT]]

Declares QUEUE (default "aio_tasks") and prints each message's body,
acknowledging it after it is handled; stops after COUNT messages (default:
runs until interrupted), and after 5 idle seconds when COUNT is given.
Leaving the ``async with`` block cancels the consumer, and messages
received but not handled go back to the queue. If the connection breaks,
it recovers by itself and the iteration goes on (messages delivered but not
acknowledged before the loss are delivered again). The broker is taken
from the AMQP_URL environment variable, by default
amqp://guest:guest@localhost:5672/%2F.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Optional

import pika.aio

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"


async def main(queue: str, count: Optional[int]) -> int:
    handled = 0
    async with pika.aio.connect(os.environ.get("AMQP_URL", DEFAULT_URL)) as connection:
        connection.add_on_recovery_succeeded_callback(lambda _conn: print(" [!] recovered"))
        async with connection.channel() as channel:
            await channel.queue_declare(queue, durable=True)
            await channel.basic_qos(prefetch_count=100)
            idle = 5.0 if count is not None else None
            async with channel.consume(queue, inactivity_timeout=idle) as messages:
                async for method, _properties, body in messages:
                    if method is None or body is None:
                        print(" [ ] idle: stopping")
                        break
                    print(f" [x] {body.decode()}")
                    await channel.basic_ack(method.delivery_tag or 0)
                    handled += 1
                    if handled == count:
                        break
    print(f"Handled {handled} messages")
    return 0


if __name__ == "__main__":
    queue_name = sys.argv[1] if len(sys.argv) > 1 else "aio_tasks"
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else None
    try:
        sys.exit(asyncio.run(main(queue_name, limit)))
    except KeyboardInterrupt:
        sys.exit(130)
