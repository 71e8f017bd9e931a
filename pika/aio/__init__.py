"""`pika.aio`: a native async/await client on the library's engine.

::

    import pika.aio

    async def main() -> None:
        async with pika.aio.connect("amqp://guest:guest@localhost/") as conn:
            async with conn.channel() as channel:
                await channel.queue_declare("tasks")
                await channel.confirm_delivery()
                await channel.basic_publish("", "tasks", b"hello")
                async with channel.consume("tasks") as messages:
                    async for method, properties, body in messages:
                        await channel.basic_ack(method.delivery_tag)
                        break

The connection is an `AsyncioConnection` with automatic recovery on by
default (`pika.aio.connect`); each `Channel` wraps the callback
`pika.channel.Channel`, with futures instead of callbacks.
"""

from pika.aio.channel import Channel
from pika.aio.connection import Connection, connect
from pika.aio.consumer import MessageIterator
from pika.recovery import RecoveryPolicy

__all__ = ["Channel", "Connection", "MessageIterator", "RecoveryPolicy", "connect"]
