"""One thread-safe connection shared by publisher threads and a consumer."""

from __future__ import annotations

import threading
from typing import Optional

import pika
from pika.adapters.thread_safe_connection import Channel
from pika.frame import Method
from pika.spec import Basic, BasicProperties


def on_message(
    channel: Channel, method: Basic.Deliver, properties: BasicProperties, body: bytes
) -> None:
    print(threading.current_thread().name, properties.message_id, body)
    channel.basic_ack(method.delivery_tag)


def on_publish(error: Optional[BaseException]) -> None:
    print("confirmed" if error is None else f"failed: {error!r}")


def on_confirmation(reply: Method[Basic.Ack | Basic.Nack]) -> None:
    print(f"{reply.method.NAME} up to {reply.method.delivery_tag}")


def publish(channel: Channel, queue: str, count: int) -> None:
    for number in range(count):
        channel.basic_publish(
            "",
            queue,
            f"message {number}",
            BasicProperties(message_id=str(number)),
            on_publish=on_publish,
        )


def main() -> None:
    connection = pika.Connection(pika.URLParameters("amqp://localhost"))
    try:
        consumer = connection.channel()
        queue: str = consumer.queue_declare("", exclusive=True).method.queue
        consumer.basic_qos(prefetch_count=20)
        consumer.basic_consume(queue, on_message)
        publisher = connection.channel()
        publisher.confirm_delivery(on_confirmation)
        threads = [threading.Thread(target=publish, args=(publisher, queue, 100)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        connection.close()


if __name__ == "__main__":
    main()
