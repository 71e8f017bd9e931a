"""Process messages in worker threads and acknowledge them from the
connection's thread.

    python examples/blocking_threaded_ack.py [QUEUE] [COUNT]

A BlockingConnection is not thread-safe, and its heartbeats only flow while
its thread is inside a blocking call such as start_consuming(). So the
consumer callback hands each message to a worker thread and returns at
once; when the work is done, the worker asks the connection's thread to
send the ack with add_callback_threadsafe(), the one method any thread may
call. Long work then never starves the heartbeats.

QUEUE defaults to "work" (declared if missing). With COUNT, the program
stops after acknowledging that many messages; without, it runs until
interrupted. AMQP_URL selects the broker.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import sys
import threading
import time

import pika
from pika.adapters.blocking_connection import BlockingChannel

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"
WORK_SECONDS = 0.2
PREFETCH = 4

LOGGER = logging.getLogger("threaded-ack")


class ThreadedConsumer:
    def __init__(self, connection: pika.BlockingConnection, queue: str, count: int) -> None:
        self.connection = connection
        self.channel = connection.channel()
        self.channel.queue_declare(queue=queue)
        # At most PREFETCH unacknowledged messages, so at most that many workers.
        self.channel.basic_qos(prefetch_count=PREFETCH)
        self.channel.basic_consume(queue, self.on_message)
        self.count = count
        self.acked = 0
        self.workers: list[threading.Thread] = []
        self.worker_numbers = itertools.count(1)

    def on_message(
        self,
        channel: BlockingChannel,
        method: pika.spec.Basic.Deliver,
        properties: pika.BasicProperties,
        body: bytes,
    ) -> None:
        worker = threading.Thread(
            target=self.work,
            args=(method.delivery_tag, body),
            name=f"worker-{next(self.worker_numbers)}",
        )
        self.workers.append(worker)
        worker.start()

    def work(self, delivery_tag: int, body: bytes) -> None:
        # Runs in a worker thread: no channel or connection calls here...
        time.sleep(WORK_SECONDS)
        LOGGER.info("processed %r", body)
        # ...except this one, which queues the ack for the connection's thread.
        self.connection.add_callback_threadsafe(functools.partial(self.ack, delivery_tag))

    def ack(self, delivery_tag: int) -> None:
        # Runs in the connection's thread, from start_consuming().
        self.channel.basic_ack(delivery_tag)
        self.acked += 1
        if self.acked == self.count:
            self.channel.stop_consuming()

    def run(self) -> None:
        try:
            self.channel.start_consuming()
        finally:
            for worker in self.workers:
                worker.join()
        LOGGER.info("acknowledged %d messages from worker threads", self.acked)


def main() -> int:
    # Logging, unlike print, writes each line whole when threads share stdout.
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(threadName)s: %(message)s")
    queue = sys.argv[1] if len(sys.argv) > 1 else "work"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    parameters = pika.URLParameters(os.environ.get("AMQP_URL", DEFAULT_URL))
    with pika.BlockingConnection(parameters) as connection:
        ThreadedConsumer(connection, queue, count).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
