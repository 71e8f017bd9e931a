"""A consumer on `pika.SelectConnection` that lets the library recover it.

Unlike ``asynchronous_consumer.py``, which opens a new connection from its
close callback and declares everything again itself, this one calls
``connection.enable_recovery()`` once and declares its topology once: after
a lost connection (network failure, broker restart, a forced close) the
library reconnects with backoff, trying each ``--url`` in turn, reopens the
channel, redeclares the exchange, the server-named queue and the binding,
and restarts the consumer. The example only prints what happens::

    recovery started: StreamLostError(...)
    queue renamed: amq.gen-AAA -> amq.gen-BBB
    recovered after 1 attempt(s)

Run it against one broker, or several cluster nodes for failover::

    python examples/recovering_consumer.py --url amqp://guest:guest@localhost:5672/%2F

then publish to the exchange (``example.recovering`` by default) with a
routing key matching ``--routing-key``. Ctrl-C (or SIGTERM) closes the
connection and exits, also while a recovery is under way; ``--exit-after N``
stops after N messages. The exit status is 1 if recovery gave up.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any, Optional

import pika
from pika import spec
from pika.adapters.select_connection import IOLoop
from pika.channel import Channel
from pika.connection import Connection
from pika.exchange_type import ExchangeType
from pika.frame import Method
from pika.recovery import RecoveryPolicy


def say(text: str) -> None:
    print(text, flush=True)


class RecoveringConsumer:
    """Declares a topic exchange and a server-named queue bound to it with
    ``routing_key``, consumes with manual acks, and reports recoveries."""

    def __init__(
        self,
        urls: list[str],
        exchange: str,
        routing_key: str,
        prefetch: int,
        exit_after: Optional[int],
    ) -> None:
        self.exchange = exchange
        self.routing_key = routing_key
        self.prefetch = prefetch
        self.exit_after = exit_after
        self.received = 0
        self.recovery_error: Optional[BaseException] = None
        self.ioloop = IOLoop()
        parameters = [pika.URLParameters(url) for url in urls]
        self.connection = pika.SelectConnection(
            parameters[0],
            on_open_callback=self.on_open,
            on_open_error_callback=self.on_open_error,
            on_close_callback=self.on_closed,
            custom_ioloop=self.ioloop,
        )
        # Before anything is declared: recovery redeclares what it saw.
        self.connection.enable_recovery(
            RecoveryPolicy(initial_delay=0.5, max_delay=10.0), parameters=parameters
        )
        self.connection.add_on_recovery_started_callback(self.on_recovery_started)
        self.connection.add_on_recovery_succeeded_callback(self.on_recovered)
        self.connection.add_on_recovery_failed_callback(self.on_recovery_failed)
        self.connection.add_on_queue_renamed_callback(self.on_queue_renamed)
        self.channel: Optional[Channel] = None
        self.queue = ""

    # -------------------------------------------------------- first opening

    def on_open(self, connection: Connection) -> None:
        say(f"connected to {connection.params.host}:{connection.params.port}")
        connection.channel(on_open_callback=self.on_channel_open)

    def on_open_error(self, _connection: Connection, error: BaseException) -> None:
        say(f"could not connect: {error!r}")
        self.ioloop.stop()

    def on_channel_open(self, channel: Channel) -> None:
        self.channel = channel
        channel.add_on_cancel_callback(self.on_cancelled)
        channel.exchange_declare(
            self.exchange, ExchangeType.topic, callback=self.on_exchange_declared
        )

    def on_exchange_declared(self, _reply: Method[spec.Exchange.DeclareOk]) -> None:
        assert self.channel is not None
        # A server-named exclusive queue: each recovery gets a new name.
        self.channel.queue_declare("", exclusive=True, callback=self.on_queue_declared)

    def on_queue_declared(self, reply: Method[spec.Queue.DeclareOk]) -> None:
        assert self.channel is not None
        self.queue = reply.method.queue
        self.channel.queue_bind(
            self.queue, self.exchange, routing_key=self.routing_key, callback=self.on_bound
        )

    def on_bound(self, _reply: Method[spec.Queue.BindOk]) -> None:
        assert self.channel is not None
        self.channel.basic_qos(prefetch_count=self.prefetch)
        self.channel.basic_consume(self.queue, self.on_message)
        say(f"consuming from {self.queue}")

    # ------------------------------------------------------------- messages

    def on_message(
        self, channel: Channel, method: Any, _properties: pika.BasicProperties, body: bytes
    ) -> None:
        self.received += 1
        say(f"received #{self.received}: {body.decode('utf-8', 'replace')}")
        # An ack for a delivery from before a recovery would be dropped (and
        # counted in channel.stale_tags_dropped): the broker redelivers it.
        if not channel.is_stale_delivery_tag(method.delivery_tag):
            channel.basic_ack(method.delivery_tag)
        if self.exit_after is not None and self.received >= self.exit_after:
            self.stop()

    def on_cancelled(self, reply: Method[spec.Basic.Cancel]) -> None:
        say(f"consumer cancelled: {reply.method!r}")

    # ------------------------------------------------------------- recovery

    def on_recovery_started(self, _connection: Connection, error: BaseException) -> None:
        say(f"recovery started: {error!r}")

    def on_queue_renamed(self, _connection: Connection, old: str, new: str) -> None:
        say(f"queue renamed: {old} -> {new}")
        self.queue = new

    def on_recovered(self, connection: Connection) -> None:
        recovery = connection.recovery
        attempts = recovery.attempts if recovery is not None else 0
        say(
            f"recovered after {attempts} attempt(s), on "
            f"{connection.params.host}:{connection.params.port}"
        )
        for failure in recovery.failures if recovery is not None else []:
            say(f"  not restored: {failure.what} {failure.name}: {failure.error!r}")

    def on_recovery_failed(self, _connection: Connection, error: BaseException) -> None:
        say(f"recovery failed: {error!r}")
        self.recovery_error = error

    # ------------------------------------------------------------ life cycle

    def on_closed(self, _connection: Connection, reason: BaseException) -> None:
        say(f"connection closed: {reason!r}")
        self.ioloop.stop()

    def stop(self) -> None:
        """Close the connection (this also ends a recovery under way)."""
        connection = self.connection
        if not (connection.is_closing or connection.is_closed):
            connection.close()

    def run(self) -> int:
        self.ioloop.start()
        say(f"stopped after {self.received} message(s)")
        return 1 if self.recovery_error is not None else 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url",
        action="append",
        help="a broker URL; repeat it to fail over between cluster nodes",
    )
    parser.add_argument("--exchange", default="example.recovering")
    parser.add_argument("--routing-key", default="example.#")
    parser.add_argument("--prefetch", type=int, default=10)
    parser.add_argument("--exit-after", type=int, default=None)
    args = parser.parse_args(argv)
    urls = args.url or ["amqp://guest:guest@localhost:5672/%2F"]
    consumer = RecoveringConsumer(
        urls, args.exchange, args.routing_key, args.prefetch, args.exit_after
    )

    def on_signal(_signum: int, _frame: Any) -> None:
        consumer.ioloop.add_callback_threadsafe(consumer.stop)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return consumer.run()


if __name__ == "__main__":
    sys.exit(main())
