"""Send one message to a queue with the blocking API.

    python examples/blocking_publisher.py [QUEUE]

QUEUE defaults to "hello"; it is declared (created if missing) first. The
broker is taken from the AMQP_URL environment variable, by default
amqp://guest:guest@localhost:5672/%2F.
"""

from __future__ import annotations

import os
import sys

import pika

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"


def main() -> int:
    queue = sys.argv[1] if len(sys.argv) > 1 else "hello"
    parameters = pika.URLParameters(os.environ.get("AMQP_URL", DEFAULT_URL))
    with pika.BlockingConnection(parameters) as connection:
        channel = connection.channel()
        channel.queue_declare(queue=queue)
        # The default exchange ("") routes by queue name.
        channel.basic_publish(exchange="", routing_key=queue, body=b"Hello World!")
        print(f" [x] Sent 'Hello World!' to {queue}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
