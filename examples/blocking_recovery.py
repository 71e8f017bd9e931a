"""A publisher and a consumer on one connection that recovers by itself.

    python examples/blocking_recovery.py QUEUE COUNT

Publishes COUNT numbered messages to QUEUE (declared here) with publisher
confirms, one every 50 ms, and consumes them on the same connection. The
connection is opened with ``recovery=RecoveryPolicy()``: if it is lost
(network failure, broker restart, an operator closing it), pika reconnects,
reopens the channels, redeclares the queue and restarts the consumer, and
the program carries on. A message whose confirm was lost with the
connection raises NackError: it is published again. The program ends once
every number was received at least once. AMQP_URL selects the broker.
"""

from __future__ import annotations

import os
import sys

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import NackError
from pika.recovery import RecoveryPolicy

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"
INTERVAL = 0.05


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    queue, count = sys.argv[1], int(sys.argv[2])
    parameters = pika.URLParameters(os.environ.get("AMQP_URL", DEFAULT_URL))
    parameters.client_properties = {"connection_name": f"blocking-recovery {queue}"}
    received: set[int] = set()
    with pika.BlockingConnection(parameters, recovery=RecoveryPolicy()) as connection:
        connection.add_on_recovery_started_callback(
            lambda _conn, error: print(f"Connection lost ({error!r}), recovering", flush=True)
        )
        connection.add_on_recovery_succeeded_callback(lambda _conn: print("Recovered", flush=True))
        consumer = connection.channel()
        consumer.queue_declare(queue, auto_delete=True)
        publisher = connection.channel()
        publisher.confirm_delivery()

        def on_message(
            channel: BlockingChannel,
            method: pika.spec.Basic.Deliver,
            properties: pika.BasicProperties,
            body: bytes,
        ) -> None:
            number = int(body)
            print(f"Received {number}", flush=True)
            received.add(number)
            channel.basic_ack(method.delivery_tag)
            if len(received) == count:
                channel.stop_consuming()

        def publish(number: int) -> None:
            try:
                publisher.basic_publish("", queue, str(number).encode())
            except NackError:
                print(f"Message {number} not confirmed, publishing it again", flush=True)
                connection.call_later(INTERVAL, lambda: publish(number))
                return
            if number + 1 < count:
                connection.call_later(INTERVAL, lambda: publish(number + 1))

        consumer.basic_consume(queue, on_message)
        connection.call_later(0, lambda: publish(0))
        consumer.start_consuming()
    print(f"All {count} messages received", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
