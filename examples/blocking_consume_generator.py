"""Read ten messages with the consume() generator, then stop.

    python examples/blocking_consume_generator.py [QUEUE]

Each message is printed and acknowledged. After the tenth, cancel() ends
the consumer: messages the broker had already pushed to this client but
the loop had not reached are handed back (requeued), and their number is
printed. If nothing arrives for five seconds the loop gives up early.

QUEUE defaults to "hello" (declared if missing); AMQP_URL selects the broker.
"""

from __future__ import annotations

import os
import sys

import pika
from pika.adapters.blocking_connection import BlockingChannel

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"
WANTED = 10
IDLE_SECONDS = 5.0


def handle(
    channel: BlockingChannel, method: pika.spec.Basic.Deliver, body: bytes | None, number: int
) -> None:
    print(f" [x] Received #{number}: {body!r}")
    channel.basic_ack(method.delivery_tag)


def main() -> int:
    queue = sys.argv[1] if len(sys.argv) > 1 else "hello"
    parameters = pika.URLParameters(os.environ.get("AMQP_URL", DEFAULT_URL))
    with pika.BlockingConnection(parameters) as connection:
        channel = connection.channel()
        channel.queue_declare(queue=queue)
        received = 0
        for method, _properties, body in channel.consume(queue, inactivity_timeout=IDLE_SECONDS):
            if method is None:
                print(f"Nothing for {IDLE_SECONDS:g} s; stopping early")
                break
            received += 1
            handle(channel, method, body, received)
            if received == WANTED:
                break
        requeued = channel.cancel()
        print(f"Received {received} messages; requeued {requeued} unread ones")
    return 0


if __name__ == "__main__":
    sys.exit(main())
