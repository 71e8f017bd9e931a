"""An asynchronous consumer on `pika.SelectConnection` that survives a lost
connection.

It connects, declares its exchange and queue once the connection is open,
binds them, sets a prefetch limit and consumes with manual acknowledgements.
When the connection closes for any reason other than our own stop, the
close callback starts a new connection after a delay (growing up to 30 s),
so the consumer carries on after a broker restart or a forced close.

Run it, then publish to the exchange (for instance with
``asynchronous_publisher.py``)::

    python examples/asynchronous_consumer.py --url amqp://guest:guest@localhost:5672/%2F

Ctrl-C (or SIGTERM) cancels the consumer, closes the channel and the
connection, and exits. ``--exit-after N`` stops after N messages.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Any, Optional

import pika
from pika.adapters.select_connection import IOLoop
from pika.channel import Channel
from pika.connection import Connection
from pika.exchange_type import ExchangeType

LOGGER = logging.getLogger("asynchronous_consumer")


class Consumer:
    """Consumes ``queue`` (bound to ``exchange`` with ``routing_key``) until stopped."""

    def __init__(
        self,
        url: str,
        exchange: str,
        queue: str,
        routing_key: str,
        prefetch: int = 10,
        exit_after: Optional[int] = None,
    ) -> None:
        self.url = url
        self.exchange = exchange
        self.queue = queue
        self.routing_key = routing_key
        self.prefetch = prefetch
        self.exit_after = exit_after
        self.received = 0
        self.stopping = False
        self.reconnect_delay = 0.0
        self.ioloop = IOLoop()
        self.connection: Optional[pika.SelectConnection] = None
        self.channel: Optional[Channel] = None
        self.consumer_tag: Optional[str] = None

    # -------------------------------------------------------------- connection

    def connect(self) -> None:
        """Start a new connection on our loop (every reconnection shares it)."""
        if self.stopping:
            return
        LOGGER.info("connecting to %s", self.url)
        self.connection = pika.SelectConnection(
            pika.URLParameters(self.url),
            on_open_callback=self.on_connection_open,
            on_open_error_callback=self.on_connection_open_error,
            on_close_callback=self.on_connection_closed,
            custom_ioloop=self.ioloop,
        )

    def on_connection_open(self, connection: Connection) -> None:
        if self.stopping:
            connection.close()
            return
        print("connected", flush=True)
        self.reconnect_delay = 0.0
        connection.channel(on_open_callback=self.on_channel_open)

    def on_connection_open_error(self, _connection: Connection, error: BaseException) -> None:
        print(f"connection failed: {error!r}", flush=True)
        self.reconnect()

    def on_connection_closed(self, _connection: Connection, reason: BaseException) -> None:
        self.channel = None
        if self.stopping:
            self.ioloop.stop()
            return
        print(f"connection closed: {reason!r}", flush=True)
        self.reconnect()

    def reconnect(self) -> None:
        """Open a new connection on the same loop after a growing delay."""
        if self.stopping:
            self.ioloop.stop()
            return
        self.reconnect_delay = min(self.reconnect_delay * 2 or 0.5, 30.0)
        print(f"reconnecting in {self.reconnect_delay:g} s", flush=True)
        self.ioloop.call_later(self.reconnect_delay, self.connect)

    # ----------------------------------------------------------------- channel

    def on_channel_open(self, channel: Channel) -> None:
        self.channel = channel
        channel.add_on_close_callback(self.on_channel_closed)
        channel.add_on_cancel_callback(self.on_consumer_cancelled)
        channel.exchange_declare(
            self.exchange, ExchangeType.topic, callback=self.on_exchange_declared
        )

    def on_channel_closed(self, channel: Channel, reason: BaseException) -> None:
        LOGGER.warning("channel %d closed: %r", channel.channel_number, reason)
        # A channel closed by the broker (e.g. a failed declare) ends this
        # connection; the close callback then decides whether to reconnect.
        if self.connection is not None and self.connection.is_open:
            self.connection.close()

    def on_exchange_declared(self, _frame: Any) -> None:
        assert self.channel is not None
        self.channel.queue_declare(self.queue, callback=self.on_queue_declared)

    def on_queue_declared(self, _frame: Any) -> None:
        assert self.channel is not None
        self.channel.queue_bind(
            self.queue, self.exchange, routing_key=self.routing_key, callback=self.on_bound
        )

    def on_bound(self, _frame: Any) -> None:
        assert self.channel is not None
        self.channel.basic_qos(prefetch_count=self.prefetch, callback=self.on_qos)

    def on_qos(self, _frame: Any) -> None:
        assert self.channel is not None
        self.consumer_tag = self.channel.basic_consume(self.queue, self.on_message)
        print(f"consuming from {self.queue}", flush=True)

    def on_consumer_cancelled(self, method_frame: Any) -> None:
        LOGGER.warning("the broker cancelled the consumer: %r", method_frame.method)
        if self.channel is not None and self.channel.is_open:
            self.channel.close()

    def on_message(
        self, channel: Channel, method: Any, properties: pika.BasicProperties, body: bytes
    ) -> None:
        self.received += 1
        print(f"received #{self.received}: {body.decode('utf-8', 'replace')}", flush=True)
        channel.basic_ack(method.delivery_tag)
        if self.exit_after is not None and self.received >= self.exit_after:
            self.stop()

    # -------------------------------------------------------------- life cycle

    def run(self) -> None:
        self.connect()
        self.ioloop.start()
        print(f"stopped after {self.received} messages", flush=True)

    def stop(self) -> None:
        """Cancel the consumer and close politely; the loop stops once closed."""
        if self.stopping:
            return
        self.stopping = True
        connection = self.connection
        if connection is None or connection.is_closed:
            self.ioloop.stop()  # between connections: nothing to close
        elif connection.is_open:
            channel = self.channel
            if channel is not None and channel.is_open and self.consumer_tag:
                channel.basic_cancel(self.consumer_tag, callback=lambda _f: connection.close())
            else:
                connection.close()
        # A connection still opening is closed by on_connection_open.


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="amqp://guest:guest@localhost:5672/%2F")
    parser.add_argument("--exchange", default="example.topic")
    parser.add_argument("--queue", default="example.queue")
    parser.add_argument("--routing-key", default="example.#")
    parser.add_argument("--exit-after", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    consumer = Consumer(
        args.url, args.exchange, args.queue, args.routing_key, exit_after=args.exit_after
    )

    def on_signal(_signum: int, _frame: Any) -> None:
        consumer.ioloop.add_callback_threadsafe(consumer.stop)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    consumer.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
