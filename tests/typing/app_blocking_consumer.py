"""Consumes with BlockingConnection: a callback, the generator, basic_get."""

from __future__ import annotations

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties


def on_message(
    channel: BlockingChannel, method: Basic.Deliver, properties: BasicProperties, body: bytes
) -> None:
    text = body.decode()
    if properties.content_type == "text/plain" and method.redelivered:
        print("again:", text)
    routing_key: str = method.routing_key
    print(routing_key, text)
    if text == "bad":
        channel.basic_nack(method.delivery_tag, requeue=False)
    else:
        channel.basic_ack(method.delivery_tag)
    if text == "stop":
        channel.stop_consuming()


def main() -> None:
    with pika.BlockingConnection(pika.ConnectionParameters("localhost")) as connection:
        channel = connection.channel()
        channel.queue_declare("tasks", durable=True, arguments={"x-queue-type": "quorum"})
        channel.basic_qos(prefetch_count=10)
        tag: str = channel.basic_consume("tasks", on_message)
        channel.start_consuming()
        channel.basic_cancel(tag)

        method, properties, body = channel.basic_get("tasks")
        if method is not None and properties is not None and body is not None:
            channel.basic_ack(method.delivery_tag)
            print(method.message_count, properties.content_type, body)

        for delivery, _props, payload in channel.consume("tasks", inactivity_timeout=1.0):
            if delivery is None:
                break
            print(delivery.consumer_tag, delivery.exchange, payload)
            channel.basic_ack(delivery.delivery_tag)
        requeued: int = channel.cancel()
        print(f"{requeued} requeued")

        # Without an inactivity timeout every item is a message.
        for method_frame, _props, payload in channel.consume("tasks"):
            print(method_frame.routing_key, payload.decode())
            channel.basic_ack(method_frame.delivery_tag)
            if payload == b"last":
                break
        channel.cancel()
        timeout: float | None = 2.0
        for maybe, _props, _payload in channel.consume("tasks", inactivity_timeout=timeout):
            if maybe is None:
                break
            channel.basic_ack(maybe.delivery_tag)


if __name__ == "__main__":
    main()
