"""Publish and consume on Tornado's IOLoop with `TornadoConnection`.

    python examples/tornado_consumer.py QUEUE COUNT

`TornadoConnection` runs the callback API on a Tornado IOLoop, so an
application that already serves HTTP with Tornado talks to RabbitMQ from
the same loop. This program declares QUEUE, publishes COUNT messages with
publisher confirms, consumes them back (acknowledging each) and closes the
connection, which stops the loop. A Tornado `PeriodicCallback` runs
alongside.

Needs Tornado (``pip install pika[tornado]``); AMQP_URL selects the broker.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Optional

from tornado.ioloop import IOLoop, PeriodicCallback

import pika
from pika.adapters.tornado_connection import TornadoConnection
from pika.channel import Channel
from pika.connection import Connection
from pika.frame import Method
from pika.spec import Basic, BasicProperties, Queue

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"


class PublishThenConsume:
    """Each step starts the next from the broker's reply to the previous one."""

    def __init__(self, queue: str, count: int) -> None:
        self.queue = queue
        self.count = count
        self.unconfirmed = set(range(1, count + 1))  # publish sequence numbers
        self.nacked = 0
        self.received = 0
        self.exit_code = 1
        self.channel: Optional[Channel] = None
        self.loop = IOLoop.current()
        self.connection = TornadoConnection(
            pika.URLParameters(os.environ.get("AMQP_URL", DEFAULT_URL)),
            on_open_callback=self.on_open,
            on_open_error_callback=self.on_open_error,
            on_close_callback=self.on_closed,
            custom_ioloop=self.loop,
        )

    def on_open(self, connection: Connection) -> None:
        print("connected", flush=True)
        connection.channel(on_open_callback=self.on_channel)

    def on_open_error(self, _connection: Connection, error: BaseException) -> None:
        print(f"connection failed: {error!r}", flush=True)
        self.loop.stop()

    def on_closed(self, _connection: Connection, reason: BaseException) -> None:
        print(f"closed: {reason!r}", flush=True)
        self.loop.stop()

    def on_channel(self, channel: Channel) -> None:
        self.channel = channel
        channel.queue_declare(self.queue, callback=self.on_declared)

    def on_declared(self, reply: Method[Queue.DeclareOk]) -> None:
        print(f"queue {reply.method.queue} declared", flush=True)
        assert self.channel is not None
        self.channel.confirm_delivery(self.on_confirm, callback=self.on_confirm_mode)

    def on_confirm_mode(self, _reply: Method[Any]) -> None:
        assert self.channel is not None
        for number in range(self.count):
            self.channel.basic_publish(
                "", self.queue, f"message {number}", BasicProperties(content_type="text/plain")
            )

    def on_confirm(self, frame: Method[Basic.Ack | Basic.Nack]) -> None:
        tag = frame.method.delivery_tag
        # With multiple=True one Ack or Nack settles every message up to its tag.
        settled = {n for n in self.unconfirmed if n <= tag} if frame.method.multiple else {tag}
        self.unconfirmed.difference_update(settled)
        if isinstance(frame.method, Basic.Nack):
            self.nacked += len(settled)
        if not self.unconfirmed:
            confirmed = self.count - self.nacked
            print(
                f"published {self.count} messages: {confirmed} confirmed, {self.nacked} nacked",
                flush=True,
            )
            assert self.channel is not None
            self.channel.basic_qos(prefetch_count=10)
            self.channel.basic_consume(self.queue, self.on_message)

    def on_message(
        self, channel: Channel, method: Basic.Deliver, _properties: BasicProperties, body: bytes
    ) -> None:
        self.received += 1
        print(f"received #{self.received}: {body.decode()}", flush=True)
        channel.basic_ack(method.delivery_tag)
        if self.received == self.count:
            self.exit_code = 0
            self.connection.close()


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    program = PublishThenConsume(sys.argv[1], int(sys.argv[2]))
    ticker = PeriodicCallback(lambda: print("(tornado tick)", flush=True), 1000)
    ticker.start()
    program.loop.start()
    ticker.stop()
    return program.exit_code


if __name__ == "__main__":
    sys.exit(main())
