"""Automatic recovery on the blocking, thread-safe and callback connections."""

from __future__ import annotations

import pika
from pika.adapters.blocking_connection import BlockingConnection
from pika.connection import Connection
from pika.exceptions import ConnectionInterrupted, NackError
from pika.recovery import RecoveryPolicy

NODES = [pika.URLParameters("amqp://node1"), pika.URLParameters("amqp://node2")]


def on_started(connection: BlockingConnection, error: BaseException) -> None:
    print("recovering after", error)


def blocking() -> None:
    policy = RecoveryPolicy(initial_delay=0.5, max_delay=10, republish_unconfirmed=True)
    with pika.BlockingConnection(NODES, recovery=policy, recovery_wait_timeout=30) as conn:
        conn.add_on_recovery_started_callback(on_started)
        conn.add_on_recovery_succeeded_callback(lambda c: print("recovered", c.is_open))
        conn.add_on_queue_renamed_callback(lambda c, old, new: print(old, "->", new))
        channel = conn.channel()
        channel.confirm_delivery()
        queue = channel.queue_declare("", exclusive=True).method.queue
        try:
            channel.basic_publish("", queue, "payload")
        except (NackError, ConnectionInterrupted) as error:
            print("publish again later:", error)
        if channel.is_stale_delivery_tag(1):
            print(f"{channel.stale_tags_dropped} stale tags dropped")


def thread_safe() -> None:
    conn = pika.Connection(NODES, recovery=RecoveryPolicy(max_attempts=5))
    conn.add_on_recovery_failed_callback(lambda c, error: print("gave up:", error))
    channel = conn.channel()
    channel.basic_publish("", "work", "job")
    conn.close()


def callback_api() -> None:
    def on_open(connection: Connection) -> None:
        print("open", connection.is_open)

    def on_renamed(connection: Connection, old: str, new: str) -> None:
        print(f"{old} is now {new}")

    conn = pika.SelectConnection(NODES[0], on_open_callback=on_open)
    conn.enable_recovery(RecoveryPolicy(max_delay=10), parameters=NODES)
    conn.add_on_queue_renamed_callback(on_renamed)
    if conn.recovery is not None:
        renamed: dict[str, str] = conn.recovery.renamed_queues
        print(renamed)
    conn.ioloop.start()


if __name__ == "__main__":
    blocking()
    thread_safe()
    callback_api()
