"""Publishes with BlockingConnection: plain, confirmed and pipelined."""

from __future__ import annotations

import json

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.delivery_mode import DeliveryMode
from pika.exceptions import NackError, UnroutableError


def declare(channel: BlockingChannel) -> str:
    reply = channel.queue_declare("", exclusive=True)
    name: str = reply.method.queue
    waiting: int = reply.method.message_count
    print(f"{name} holds {waiting} messages")
    channel.exchange_declare("events", exchange_type="topic", durable=True)
    channel.queue_bind(name, "events", routing_key="order.*")
    return name


def main() -> None:
    parameters = pika.URLParameters("amqp://guest:guest@localhost:5672/%2F")
    with pika.BlockingConnection(parameters) as connection:
        channel = connection.channel()
        queue = declare(channel)
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=DeliveryMode.Persistent,
            headers={"source": "typing"},
        )
        channel.basic_publish("", queue, json.dumps({"id": 1}), properties)
        channel.basic_publish("events", "order.created", b"\x00\x01")
        channel.confirm_delivery()
        try:
            channel.basic_publish("", queue, "confirmed", mandatory=True)
        except UnroutableError as error:
            for message in error.messages:
                print("returned:", message.body)
        except NackError as error:
            print(f"{len(error.messages)} nacked")
        with channel.publisher(window=100) as publisher:
            tags: list[int] = [publisher.publish("", queue, f"n{n}") for n in range(10)]
        print(f"last tag {tags[-1]}")


if __name__ == "__main__":
    main()
