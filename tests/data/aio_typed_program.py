"""A typical `pika.aio` program; tests/unit/test_aio_typing.py checks that
it passes ``mypy --strict`` without casts or ignores."""

from __future__ import annotations

import asyncio

import pika
import pika.aio
from pika import exceptions, spec


async def handle(
    channel: pika.aio.Channel,
    method: spec.Basic.Deliver,
    properties: spec.BasicProperties,
    body: bytes,
) -> None:
    print(properties.content_type, body.decode())
    await channel.basic_ack(method.delivery_tag or 0)


async def main(url: str) -> int:
    policy = pika.aio.RecoveryPolicy(max_delay=5.0)
    async with pika.aio.connect(url, recovery=policy, recovery_wait_timeout=30) as conn:
        conn.add_on_recovery_succeeded_callback(lambda connection: print("recovered"))
        async with conn.channel() as channel:
            declared = await channel.queue_declare("", exclusive=True)
            # The generated spec types reply fields as optional (str | bytes | None).
            queue = str(declared.method.queue)
            count = declared.method.message_count or 0
            await channel.basic_qos(prefetch_count=100)
            await channel.confirm_delivery()
            properties = spec.BasicProperties(content_type="text/plain", delivery_mode=2)
            try:
                await asyncio.gather(
                    *(channel.basic_publish("", queue, b"%d" % n, properties) for n in range(10))
                )
            except exceptions.NackError as error:
                print("nacked:", [message.body for message in error.messages])
            method, props, body = await channel.basic_get(queue)
            if method is not None and body is not None:
                await channel.basic_reject(method.delivery_tag or 0, requeue=True)
            tag: str = await channel.basic_consume(queue, handle)
            await channel.basic_cancel(tag)
            async with channel.consume(queue, inactivity_timeout=1.0) as messages:
                async for delivered, _props, payload in messages:
                    if delivered is None or payload is None:
                        break
                    await channel.basic_ack(delivered.delivery_tag or 0)
            flow_on: bool = await channel.flow(True)
            print(count, flow_on, props)
        other = await conn.channel()
        await other.close()
        await conn.close()
        await conn.wait_closed()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main("amqp://guest:guest@localhost:5672/")))
