"""Publisher threads and a consumer sharing one connection that recovers by itself.

    python examples/thread_safe_recovery.py QUEUE COUNT

`pika.Connection` may be used from any number of threads. Created with a
`RecoveryPolicy`, it reconnects after a network failure or a broker restart,
reopens its channels, redeclares QUEUE and restarts the consumer, while the
threads carry on: a publish made during the recovery waits and goes out
afterwards.

Two threads publish COUNT messages each with publisher confirms; each
message's ``on_publish`` callback learns whether the broker confirmed it.
With ``republish_unconfirmed`` the messages that were unconfirmed when the
connection broke are published again, so every message is confirmed in
the end. The consumer acknowledges each message on its channel's worker
thread and counts the ones delivered twice (a message can be redelivered
when its ack was lost with the connection). The program ends once every
message is confirmed and consumed, or when the recovery gives up.

AMQP_URL selects the broker.
"""

from __future__ import annotations

import collections
import functools
import os
import sys
import threading
import time
from typing import Optional

import pika
from pika.adapters.thread_safe_connection import Channel
from pika.exceptions import AMQPError
from pika.recovery import RecoveryPolicy

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"
PUBLISHERS = 2
PAUSE = 0.005  # seconds between two publishes of one thread
TIMEOUT = 120.0


class Tally:
    """What the publishers and the consumer have seen, from any thread."""

    def __init__(self, expected: set[str]) -> None:
        self.expected = expected
        self.confirmed: set[str] = set()
        self.consumed: collections.Counter[str] = collections.Counter()
        self.failures: list[BaseException] = []
        self.lock = threading.Lock()
        self.finished = threading.Event()

    def on_publish(self, message_id: str, error: Optional[BaseException]) -> None:
        with self.lock:
            if error is None:
                self.confirmed.add(message_id)
            else:
                self.failures.append(error)
                self.finished.set()
            self._check()

    def on_message(
        self,
        channel: Channel,
        method: pika.spec.Basic.Deliver,
        properties: pika.BasicProperties,
        body: bytes,
    ) -> None:
        with self.lock:
            # Every message of this program carries a str message id.
            self.consumed[str(properties.message_id)] += 1
            self._check()
        channel.basic_ack(method.delivery_tag)

    def _check(self) -> None:
        if self.confirmed == self.expected and self.expected <= set(self.consumed):
            self.finished.set()

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.consumed.values())


def publish(channel: Channel, queue: str, index: int, count: int, tally: Tally) -> None:
    try:
        for number in range(count):
            message_id = f"{index}-{number}"
            channel.basic_publish(
                "",
                queue,
                f"message {number} of publisher {index}",
                pika.BasicProperties(message_id=message_id),
                on_publish=functools.partial(tally.on_publish, message_id),
            )
            time.sleep(PAUSE)
    except AMQPError as error:
        # The connection is closed for good (the recovery gave up).
        print(f"Publisher {index} stopped: {error!r}", flush=True)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    queue, count = sys.argv[1], int(sys.argv[2])
    parameters = pika.URLParameters(os.environ.get("AMQP_URL", DEFAULT_URL))
    parameters.client_properties = {"connection_name": f"thread-safe recovery example {queue}"}
    policy = RecoveryPolicy(
        initial_delay=0.2, max_delay=5.0, max_attempts=30, republish_unconfirmed=True
    )
    expected = {f"{index}-{number}" for index in range(PUBLISHERS) for number in range(count)}
    tally = Tally(expected)
    with pika.Connection(parameters, recovery=policy) as connection:
        connection.add_on_recovery_started_callback(
            lambda _connection, error: print(f"Connection lost ({error!r}); recovering", flush=True)
        )
        connection.add_on_recovery_succeeded_callback(
            lambda _connection: print("Recovered", flush=True)
        )
        connection.add_on_recovery_failed_callback(
            lambda _connection, error: print(f"Recovery failed: {error!r}", flush=True)
        )
        consumer = connection.channel()
        consumer.queue_declare(queue)
        consumer.basic_qos(prefetch_count=100)
        consumer.basic_consume(queue, tally.on_message)
        threads = []
        for index in range(PUBLISHERS):
            channel = connection.channel()
            channel.confirm_delivery(lambda _frame: None)
            threads.append(
                threading.Thread(target=publish, args=(channel, queue, index, count, tally))
            )
        print(
            f"Publishing {count} messages from each of {PUBLISHERS} threads to {queue}", flush=True
        )
        for thread in threads:
            thread.start()
        finished = tally.finished.wait(TIMEOUT)
        for thread in threads:
            thread.join(TIMEOUT)
    if tally.failures:
        print(f"Not confirmed: {tally.failures[0]!r}", flush=True)
        return 1
    if not finished:
        print(f"Not done within {TIMEOUT:g} s", flush=True)
        return 1
    print(
        f"All {len(expected)} messages confirmed and consumed ({tally.duplicates} delivered twice)",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
