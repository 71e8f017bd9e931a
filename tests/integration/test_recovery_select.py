"""Automatic recovery of a SelectConnection against the real broker: the
connection is cut by the test proxy or closed by rabbitmqctl, and comes back
with its channels, topology and consumers."""

from __future__ import annotations

from typing import Any

import pytest

from pika import exceptions, spec
from pika.adapters.select_connection import SelectConnection
from pika.channel import Channel
from pika.parameters import URLParameters
from pika.recovery import RecoveryPolicy
from tests.integration.select_support import broker_pid_of, pump, unique
from tests.utils import broker
from tests.utils.proxy import TcpProxy

pytestmark = pytest.mark.broker

FAST = RecoveryPolicy(initial_delay=0.05, max_delay=0.5, jitter=0.2)


class Client:
    """A SelectConnection with recovery, one channel, and records of what
    its callbacks saw."""

    def __init__(self, url: str, policy: RecoveryPolicy = FAST) -> None:
        self.name = unique("recovering-client")
        params = URLParameters(url)
        params.client_properties = {"connection_name": self.name}
        self.events: list[tuple[str, Any]] = []
        self.messages: list[tuple[int, bytes]] = []
        self.confirms: list[spec.Basic.Ack | spec.Basic.Nack] = []
        self.renamed: dict[str, str] = {}
        self.closed: list[BaseException] = []
        self.conn = SelectConnection(
            params,
            on_open_callback=lambda c: self.events.append(("open", None)),
            on_open_error_callback=lambda c, e: self.events.append(("open_error", e)),
            on_close_callback=lambda c, e: self.closed.append(e),
        )
        self.conn.enable_recovery(policy)
        self.conn.add_on_recovery_started_callback(lambda c, e: self.events.append(("started", e)))
        self.conn.add_on_recovery_succeeded_callback(lambda c: self.events.append(("ok", None)))
        self.conn.add_on_recovery_failed_callback(lambda c, e: self.events.append(("failed", e)))
        self.conn.add_on_queue_renamed_callback(lambda c, old, new: self.renamed.update({old: new}))
        self.ioloop = self.conn.ioloop
        self.wait(lambda: ("open", None) in self.events, "open")
        self.channel = self.open_channel()

    def wait(self, condition: Any, what: str, timeout: float = 15) -> None:
        pump(self.ioloop, condition, timeout, what)

    def open_channel(self) -> Channel:
        opened: list[Channel] = []
        self.conn.channel(on_open_callback=opened.append)
        self.wait(lambda: opened, "channel open")
        return opened[0]

    def rpc(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        replies: list[Any] = []
        call(*args, callback=replies.append, **kwargs)
        self.wait(lambda: replies, call.__name__)
        return replies[0]

    def on_message(self, chan: Channel, method: Any, properties: Any, body: bytes) -> None:
        self.messages.append((method.delivery_tag, body))
        chan.basic_ack(method.delivery_tag)

    def recoveries(self) -> int:
        return sum(1 for kind, _ in self.events if kind == "ok")

    def close(self) -> None:
        if not self.conn.is_closed:
            self.conn.close()
            self.wait(lambda: self.closed, "close")
        self.ioloop.close()


def test_recovers_topology_and_consumers_after_a_cut(broker_url: str, proxy: TcpProxy) -> None:
    client = Client(proxy.rewrite_url(broker_url))
    try:
        chan = client.channel
        exchange = unique("rec-ex")
        client.rpc(chan.exchange_declare, exchange, "topic", auto_delete=True)
        queue = client.rpc(chan.queue_declare, "", exclusive=True).method.queue
        client.rpc(chan.queue_bind, queue, exchange, "k.#")
        client.rpc(chan.basic_qos, prefetch_count=5)
        tag = chan.basic_consume(queue, client.on_message)
        chan.basic_publish(exchange, "k.1", b"before")
        client.wait(lambda: len(client.messages) == 1, "first message")

        assert proxy.cut() == 1
        client.wait(lambda: client.recoveries() == 1, "recovery")
        assert isinstance(client.events[1][1], exceptions.StreamLostError)
        assert client.conn.is_open and chan.is_open
        assert chan.consumer_tags == [tag]
        new_queue = client.renamed[queue]
        assert new_queue != queue

        chan.basic_publish(exchange, "k.2", b"after")
        client.wait(lambda: len(client.messages) == 2, "message after recovery")
        # Delivery tags keep counting, so an ack of the new one is not stale.
        assert client.messages[1][0] == 2
        assert not chan.is_stale_delivery_tag(2) and chan.is_stale_delivery_tag(1)
        info = broker.queue_info(new_queue)
        assert info is not None and info.consumers == 1
    finally:
        client.close()


def test_stale_acks_are_dropped_not_sent(broker_url: str, proxy: TcpProxy) -> None:
    client = Client(proxy.rewrite_url(broker_url))
    try:
        chan = client.channel
        queue = client.rpc(chan.queue_declare, "", exclusive=True).method.queue
        held: list[int] = []
        chan.basic_consume(queue, lambda ch, m, p, b: held.append(m.delivery_tag))
        chan.basic_publish("", queue, b"unacked")
        client.wait(lambda: held, "delivery")
        proxy.cut()
        client.wait(lambda: client.recoveries() == 1, "recovery")
        chan.basic_ack(held[0])  # from before the cut: must not reach the broker
        assert chan.stale_tags_dropped == 1
        ping = client.rpc(chan.queue_declare, client.renamed[queue], passive=True)
        assert ping.method.queue == client.renamed[queue]
        assert chan.is_open
    finally:
        client.close()


def test_unconfirmed_publishes_are_reported_as_nacked(broker_url: str, proxy: TcpProxy) -> None:
    client = Client(proxy.rewrite_url(broker_url))
    try:
        chan = client.channel
        queue = client.rpc(chan.queue_declare, "", exclusive=True).method.queue
        client.rpc(chan.confirm_delivery, lambda frame: client.confirms.append(frame.method))
        proxy.stall()
        for index in range(5):
            chan.basic_publish("", queue, b"%d" % index)
        client.wait(lambda: client.conn._engine.has_output is False, "writes")
        proxy.cut()
        proxy.resume()
        client.wait(lambda: client.recoveries() == 1, "recovery")
        nacks = [m for m in client.confirms if isinstance(m, spec.Basic.Nack)]
        assert nacks and nacks[-1].delivery_tag == 5 and nacks[-1].multiple
        chan.basic_publish("", client.renamed[queue], b"after")
        client.wait(lambda: any(isinstance(m, spec.Basic.Ack) for m in client.confirms), "ack")
        ack = [m for m in client.confirms if isinstance(m, spec.Basic.Ack)][-1]
        assert ack.delivery_tag == 6
    finally:
        client.close()


def test_republish_keeps_the_original_numbers(broker_url: str, proxy: TcpProxy) -> None:
    client = Client(
        proxy.rewrite_url(broker_url),
        RecoveryPolicy(initial_delay=0.05, max_delay=0.5, republish_unconfirmed=True),
    )
    try:
        chan = client.channel
        queue = unique("rec-republish")
        client.rpc(chan.queue_declare, queue, auto_delete=False)
        client.rpc(chan.confirm_delivery, lambda frame: client.confirms.append(frame.method))
        proxy.stall()
        for index in range(3):
            chan.basic_publish("", queue, b"%d" % index)
        client.wait(lambda: client.conn._engine.has_output is False, "writes")
        proxy.cut()
        proxy.resume()
        client.wait(lambda: client.recoveries() == 1, "recovery")
        def confirmed() -> set[int]:
            """The publish numbers the confirms so far cover (every one an ack)."""
            numbers: set[int] = set()
            for method in client.confirms:
                assert isinstance(method, spec.Basic.Ack)
                numbers |= set(range(1, method.delivery_tag + 1)) if method.multiple else {
                    method.delivery_tag
                }
            return numbers

        # The republished messages' confirms may come in several frames:
        # wait until they cover all three, whatever the first one covered.
        client.wait(lambda: 3 in confirmed(), "all confirmed")
        assert confirmed() == {1, 2, 3}
        info = broker.queue_info(queue)
        assert info is not None and info.messages >= 3
        client.rpc(chan.queue_delete, queue)
    finally:
        client.close()


def test_rabbitmqctl_close_connection_is_recovered(broker_url: str) -> None:
    client = Client(broker_url)
    try:
        chan = client.channel
        queue = client.rpc(chan.queue_declare, "", exclusive=True).method.queue
        chan.basic_consume(queue, client.on_message)
        broker.close_connection(broker_pid_of(client.name), "test: recovery")
        client.wait(lambda: client.recoveries() == 1, "recovery")
        started = next(e for kind, e in client.events if kind == "started")
        assert isinstance(started, exceptions.ConnectionClosedByBroker)
        assert started.reply_code == 320
        chan.basic_publish("", client.renamed[queue], b"back")
        client.wait(lambda: client.messages, "message after recovery")
    finally:
        client.close()


def test_close_during_recovery_stops_it(broker_url: str, proxy: TcpProxy) -> None:
    client = Client(proxy.rewrite_url(broker_url), RecoveryPolicy(initial_delay=5, jitter=0))
    try:
        proxy.cut()
        client.wait(lambda: client.conn.is_recovering, "recovery started")
        assert not client.conn.is_open
        client.conn.close()
        client.wait(lambda: client.closed, "close reported")
        assert isinstance(client.closed[0], exceptions.ConnectionClosedByClient)
        assert not client.conn.is_recovering
    finally:
        client.ioloop.close()


def test_gives_up_after_max_attempts(broker_url: str, proxy: TcpProxy) -> None:
    client = Client(
        proxy.rewrite_url(broker_url),
        RecoveryPolicy(initial_delay=0.05, max_delay=0.1, max_attempts=2),
    )
    try:
        proxy.refuse_new(True)
        proxy.cut()
        client.wait(lambda: client.closed, "final close")
        assert [kind for kind, _ in client.events].count("failed") == 1
        assert isinstance(client.closed[0], exceptions.AMQPConnectionError)
        assert client.conn.is_closed
    finally:
        client.ioloop.close()
