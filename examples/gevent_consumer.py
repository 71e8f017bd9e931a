"""Publish and consume with gevent: `GeventConnection` on gevent's hub.

    python examples/gevent_consumer.py QUEUE COUNT

`GeventConnection` runs the callback API on the hub of the current thread:
the connection makes progress whenever a greenlet waits. Here the main
greenlet waits on gevent events that the connection's callbacks set, while
a worker greenlet handles the messages from a gevent queue: it declares
QUEUE, publishes COUNT messages with publisher confirms, consumes them back
(acknowledging each) and closes the connection.

Needs gevent (``pip install pika[gevent]``); AMQP_URL selects the broker.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import gevent
import gevent.event
import gevent.queue

import pika
from pika.adapters.gevent_connection import GeventConnection
from pika.channel import Channel
from pika.exceptions import AMQPConnectionError
from pika.frame import Method
from pika.spec import Basic, BasicProperties

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"
TIMEOUT = 60.0


class Client:
    """Callbacks that set gevent events, so greenlets can wait for them."""

    def __init__(self) -> None:
        self.opened = gevent.event.AsyncResult()
        self.closed = gevent.event.AsyncResult()
        self.channel_ready = gevent.event.AsyncResult()
        self.connection = GeventConnection(
            pika.URLParameters(os.environ.get("AMQP_URL", DEFAULT_URL)),
            on_open_callback=self.opened.set,
            on_open_error_callback=lambda _conn, error: self.opened.set_exception(error),
            on_close_callback=lambda _conn, reason: self.closed.set(reason),
        )

    def open_channel(self) -> Channel:
        self.connection.channel(on_open_callback=self.channel_ready.set)
        channel: Channel = self.channel_ready.get(timeout=TIMEOUT)
        return channel

    @staticmethod
    def request(start: Any) -> Method[Any]:
        """Run a channel request whose ``callback`` gets the reply; wait for it."""
        reply = gevent.event.AsyncResult()
        start(reply.set)
        result: Method[Any] = reply.get(timeout=TIMEOUT)
        return result


def publish_confirmed(channel: Channel, queue: str, count: int) -> None:
    unconfirmed = set(range(1, count + 1))  # publish sequence numbers
    nacked = 0
    all_confirmed = gevent.event.Event()

    def on_confirm(frame: Method[Basic.Ack | Basic.Nack]) -> None:
        nonlocal nacked
        tag = frame.method.delivery_tag
        # With multiple=True one Ack or Nack settles every message up to its tag.
        settled = {n for n in unconfirmed if n <= tag} if frame.method.multiple else {tag}
        unconfirmed.difference_update(settled)
        if isinstance(frame.method, Basic.Nack):
            nacked += len(settled)
        if not unconfirmed:
            all_confirmed.set()

    Client.request(lambda done: channel.confirm_delivery(on_confirm, callback=done))
    for number in range(count):
        channel.basic_publish(
            "", queue, f"message {number}", BasicProperties(content_type="text/plain")
        )
    all_confirmed.wait(timeout=TIMEOUT)
    print(f"published {count} messages: {count - nacked} confirmed, {nacked} nacked", flush=True)


def handle_messages(channel: Channel, messages: gevent.queue.Queue, count: int) -> None:
    """A worker greenlet: print and acknowledge ``count`` messages."""
    for number in range(1, count + 1):
        method: Basic.Deliver
        body: bytes
        method, body = messages.get(timeout=TIMEOUT)
        print(f"received #{number}: {body.decode()}", flush=True)
        channel.basic_ack(method.delivery_tag)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    queue, count = sys.argv[1], int(sys.argv[2])
    client = Client()
    try:
        client.opened.get(timeout=TIMEOUT)
    except AMQPConnectionError as error:
        print(f"connection failed: {error!r}", flush=True)
        return 1
    print("connected", flush=True)
    channel = client.open_channel()
    declared = Client.request(lambda done: channel.queue_declare(queue, callback=done))
    print(f"queue {declared.method.queue} declared", flush=True)
    publish_confirmed(channel, queue, count)

    messages = gevent.queue.Queue()

    def on_message(
        _channel: Channel, method: Basic.Deliver, _properties: BasicProperties, body: bytes
    ) -> None:
        messages.put((method, body))

    Client.request(lambda done: channel.basic_qos(prefetch_count=10, callback=done))
    channel.basic_consume(queue, on_message)
    worker = gevent.spawn(handle_messages, channel, messages, count)
    worker.join(timeout=TIMEOUT)
    exit_code = 0 if worker.successful() else 1
    client.connection.close()
    print(f"closed: {client.closed.get(timeout=TIMEOUT)!r}", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
