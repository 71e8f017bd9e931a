"""An asynchronous publisher on `pika.SelectConnection` with publisher confirms.

Once the connection and channel are open it declares a topic exchange,
turns on publisher confirms, and publishes one message per ``--interval``
seconds from a timer on the I/O loop. Every publish is remembered by its
delivery tag until the broker confirms it: Basic.Ack (or Basic.Nack) may
confirm one tag or, with ``multiple``, every tag up to it. If the connection
is lost, the close callback reconnects after a delay and publishing
resumes; messages that were never confirmed are counted as unconfirmed.

    python examples/asynchronous_publisher.py --url amqp://guest:guest@localhost:5672/%2F --count 10

It exits once ``--count`` messages are confirmed, or on Ctrl-C/SIGTERM,
printing what was acked, nacked and left unconfirmed.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from typing import Any, Optional

import pika
from pika import spec
from pika.adapters.select_connection import IOLoop
from pika.channel import Channel
from pika.connection import Connection
from pika.exchange_type import ExchangeType

LOGGER = logging.getLogger("asynchronous_publisher")


class Publisher:
    """Publishes ``count`` JSON messages to ``exchange`` with ``routing_key``."""

    def __init__(
        self, url: str, exchange: str, routing_key: str, count: int, interval: float
    ) -> None:
        self.url = url
        self.exchange = exchange
        self.routing_key = routing_key
        self.count = count
        self.interval = interval
        self.ioloop = IOLoop()
        self.connection: Optional[pika.SelectConnection] = None
        self.channel: Optional[Channel] = None
        self.stopping = False
        self.reconnect_delay = 0.0
        self.next_number = 1
        self.pending: dict[int, int] = {}  # delivery tag -> message number
        self.acked = 0
        self.nacked = 0
        self.unconfirmed = 0

    # -------------------------------------------------------------- connection

    def connect(self) -> None:
        if self.stopping:
            return
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
        # Whatever was not confirmed on the lost channel never will be.
        self.unconfirmed += len(self.pending)
        self.pending.clear()
        if self.stopping or self.finished():
            self.ioloop.stop()
            return
        print(f"connection closed: {reason!r}", flush=True)
        self.reconnect()

    def reconnect(self) -> None:
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
        channel.exchange_declare(
            self.exchange, ExchangeType.topic, callback=self.on_exchange_declared
        )

    def on_channel_closed(self, channel: Channel, reason: BaseException) -> None:
        LOGGER.warning("channel %d closed: %r", channel.channel_number, reason)
        self.channel = None
        if self.connection is not None and self.connection.is_open:
            self.connection.close()

    def on_exchange_declared(self, _frame: Any) -> None:
        assert self.channel is not None
        self.channel.confirm_delivery(self.on_confirm, callback=self.on_confirm_selected)

    def on_confirm_selected(self, _frame: Any) -> None:
        print("publisher confirms on", flush=True)
        assert self.channel is not None
        self.publish_next(self.channel)

    def on_confirm(self, method_frame: Any) -> None:
        """Basic.Ack or Basic.Nack for one delivery tag, or all up to it."""
        method = method_frame.method
        tag = method.delivery_tag
        tags = [t for t in self.pending if t <= tag] if method.multiple else [tag]
        acked = isinstance(method, spec.Basic.Ack)
        for confirmed in tags:
            number = self.pending.pop(confirmed, None)
            if number is None:
                continue
            if acked:
                self.acked += 1
            else:
                self.nacked += 1
            print(f"{'acked' if acked else 'nacked'} message {number}", flush=True)
        if self.finished():
            self.stop()

    def finished(self) -> bool:
        """Every message was published and the broker answered for each."""
        return self.next_number > self.count and not self.pending

    # -------------------------------------------------------------- publishing

    def publish_next(self, channel: Channel) -> None:
        """Publish one message on ``channel`` and schedule the next; a timer
        left from a lost channel ends here, as its reconnection starts anew."""
        if self.stopping or channel is not self.channel or not channel.is_open:
            return
        if self.next_number > self.count:
            return
        number = self.next_number
        body = json.dumps({"number": number, "text": f"message {number}"})
        properties = pika.BasicProperties(
            app_id="asynchronous_publisher",
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
        )
        self.pending[channel.next_publish_seq_no] = number
        channel.basic_publish(self.exchange, self.routing_key, body, properties)
        self.next_number += 1
        print(f"published message {number}", flush=True)
        self.ioloop.call_later(self.interval, lambda: self.publish_next(channel))

    # -------------------------------------------------------------- life cycle

    def run(self) -> None:
        self.connect()
        self.ioloop.start()
        print(
            f"done: {self.acked} acked, {self.nacked} nacked, {self.unconfirmed} unconfirmed",
            flush=True,
        )

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        connection = self.connection
        if connection is None or connection.is_closed:
            self.ioloop.stop()
        elif connection.is_open:
            connection.close()


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="amqp://guest:guest@localhost:5672/%2F")
    parser.add_argument("--exchange", default="example.topic")
    parser.add_argument("--routing-key", default="example.text")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--interval", type=float, default=0.1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    publisher = Publisher(args.url, args.exchange, args.routing_key, args.count, args.interval)

    def on_signal(_signum: int, _frame: Any) -> None:
        publisher.ioloop.add_callback_threadsafe(publisher.stop)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    publisher.run()
    return 0 if publisher.acked == publisher.count else 1


if __name__ == "__main__":
    sys.exit(main())
