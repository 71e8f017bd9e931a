"""A consumer that reconnects after losing its connection.

    python examples/blocking_recovery_loop.py QUEUE

The queue must already exist. Messages are printed and acknowledged; a
message whose body is "stop" ends the program. What happens on an error
depends on its kind:

- ConnectionClosedByBroker: the broker (or an operator) closed the
  connection, e.g. a node restart: reconnect at once;
- AMQPChannelError: the channel failed, e.g. the queue does not exist. That
  is a problem to fix, not to retry: exit;
- any other AMQPConnectionError: the network or the broker is unreachable.
  Every failure to connect is one, so a single except clause covers them.
  Retry after a pause, and give up after a few failures in a row.

AMQP_URL selects the broker.
"""

from __future__ import annotations

import os
import sys
import time

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPChannelError, AMQPConnectionError, ConnectionClosedByBroker

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"
RETRY_DELAY = 1.0
MAX_FAILURES = 3


def on_message(
    channel: BlockingChannel,
    method: pika.spec.Basic.Deliver,
    properties: pika.BasicProperties,
    body: bytes,
) -> None:
    print(f" [x] Received {body!r}", flush=True)
    channel.basic_ack(method.delivery_tag)
    if body == b"stop":
        channel.stop_consuming()


def consume(parameters: pika.URLParameters, queue: str) -> None:
    """Consume until a "stop" message; errors propagate to the caller."""
    with pika.BlockingConnection(parameters) as connection:
        channel = connection.channel()
        channel.queue_declare(queue, passive=True)
        channel.basic_qos(prefetch_count=10)
        channel.basic_consume(queue, on_message)
        print(f"Consuming from {queue}", flush=True)
        channel.start_consuming()


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    queue = sys.argv[1]
    parameters = pika.URLParameters(os.environ.get("AMQP_URL", DEFAULT_URL))
    # A name makes this connection easy to find in `rabbitmqctl list_connections`.
    parameters.client_properties = {"connection_name": f"recovery-example {queue}"}
    failures = 0
    while True:
        try:
            consume(parameters, queue)
        except ConnectionClosedByBroker as error:
            print(f"Connection closed by the broker ({error}); reconnecting", flush=True)
            failures = 0
            continue
        except AMQPChannelError as error:
            print(f"Channel error ({error}); not retrying", flush=True)
            return 1
        except AMQPConnectionError as error:
            failures += 1
            print(f"Connection failed ({error!r}); failure {failures} in a row", flush=True)
            if failures >= MAX_FAILURES:
                print("Giving up", flush=True)
                return 1
            time.sleep(RETRY_DELAY)
            continue
        print("Stopped by a 'stop' message", flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
