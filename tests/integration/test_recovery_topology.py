"""Acceptance: the topology a connection declared comes back after the
broker closes the connection (``rabbitmqctl close_all_connections``) and
after the broker node itself is stopped and started again.

Exclusive and server-named queues are redeclared (the application learns
the new names), queue and exchange-to-exchange bindings follow, and the
consumers are restarted; entities the application deleted are not
redeclared, and an auto-delete queue whose last consumer was cancelled is
dropped from the record.
"""

from __future__ import annotations

from typing import Callable, Optional

import pytest

from pika import exceptions
from pika.channel import Channel
from pika.parameters import URLParameters
from pika.recovery import RecoveryPolicy
from tests.integration.recovery_support import (
    RecoveringClient,
    SelectRunner,
    bindings_of,
    close_named_connection,
    exchange_names,
    named,
    queue_names,
)
from tests.integration.select_support import unique
from tests.utils import broker
from tests.utils.extra_node import ExtraBrokerNode

pytestmark = pytest.mark.broker


class Declared:
    """A small topology declared through one recovering client: a topic
    exchange E routing ``k.#`` to a fanout exchange F (exchange-to-exchange),
    a named exclusive queue bound to E with ``k.1``, a server-named
    exclusive queue bound to F, and a consumer on each queue."""

    def __init__(self, client: RecoveringClient) -> None:
        self.client = client
        self.chan = chan = client.channel()
        self.source = unique("rec-topic")
        self.fanout = unique("rec-fanout")
        client.rpc(chan.exchange_declare, self.source, "topic")
        client.rpc(chan.exchange_declare, self.fanout, "fanout")
        client.rpc(chan.exchange_bind, self.fanout, self.source, "k.#")
        self.named = unique("rec-exclusive")
        client.rpc(chan.queue_declare, self.named, exclusive=True)
        client.rpc(chan.queue_bind, self.named, self.source, "k.1")
        self.first_server_name = client.rpc(chan.queue_declare, "", exclusive=True).method.queue
        client.rpc(chan.queue_bind, self.first_server_name, self.fanout)
        self.received: dict[str, list[bytes]] = {"named": [], "server": []}
        self.named_tag = chan.basic_consume(self.named, self._consumer("named"))
        self.server_tag = chan.basic_consume(self.first_server_name, self._consumer("server"))
        self.round_trip(b"before")

    def _consumer(self, which: str) -> Callable[..., None]:
        def on_message(chan: Channel, method: object, _properties: object, body: bytes) -> None:
            self.received[which].append(body)
            chan.basic_ack(method.delivery_tag)  # type: ignore[attr-defined]

        return on_message

    @property
    def server_named(self) -> str:
        return self.client.renamed_to(self.first_server_name)

    def round_trip(self, body: bytes) -> None:
        """Publish to E with ``k.1``: both consumers must get it (the second
        through the exchange-to-exchange binding)."""
        self.chan.basic_publish(self.source, "k.1", body)
        self.client.wait(
            lambda: body in self.received["named"] and body in self.received["server"],
            f"{body!r} at both consumers",
        )

    def check_broker(self, node: Optional[str] = None) -> None:
        """What the broker has: the exchanges, both queues with one consumer
        each, and the three bindings."""
        assert {self.source, self.fanout} <= exchange_names(node)
        for queue in (self.named, self.server_named):
            info = broker.queue_info(queue, node=node)
            assert info is not None and info.exclusive and info.consumers == 1, (queue, info)
        bindings = bindings_of(node)
        assert (self.source, "exchange", self.fanout, "k.#") in bindings
        assert (self.source, "queue", self.named, "k.1") in bindings
        assert (self.fanout, "queue", self.server_named, self.server_named) in bindings


@pytest.mark.timeout(300)
def test_close_all_connections_then_a_node_restart_recover_the_topology(
    broker_node_factory: Callable[..., ExtraBrokerNode],
) -> None:
    """On an extra node of its own, so that closing all its connections
    disturbs no other test."""
    node = broker_node_factory("restart")
    runner = SelectRunner()
    # Reconnect attempts fail (connection refused) while the node is down.
    policy = RecoveryPolicy(initial_delay=0.2, max_delay=1.0)
    client = RecoveringClient(runner, URLParameters(node.url()), policy)
    try:
        declared = Declared(client)
        first_server_name = declared.server_named

        broker.close_all_connections("test: topology recovery", node=node.name)
        client.wait(lambda: client.recoveries == 1, "recovery after close_all_connections")
        started = client.started[0]
        assert isinstance(started, exceptions.ConnectionClosedByBroker)
        assert started.reply_code == 320
        assert client.conn.is_open and declared.chan.is_open
        # The server-named queue got a new name; the named one kept its own.
        assert [old for old, _new in client.renamed] == [first_server_name]
        assert declared.server_named != first_server_name
        assert broker.queue_info(first_server_name, node=node.name) is None
        assert sorted(declared.chan.consumer_tags) == sorted(
            [declared.named_tag, declared.server_tag]
        )
        declared.check_broker(node.name)
        declared.round_trip(b"after close_all_connections")

        node.stop()
        client.wait(lambda: client.conn.is_recovering, "recovery started")
        assert not client.conn.is_open and not declared.chan.is_open
        node.start()
        client.wait(lambda: client.recoveries == 2, "recovery after the restart", timeout=60)
        # The shutdown is a 320 CONNECTION_FORCED close from the broker.
        assert isinstance(client.started[1], exceptions.ConnectionClosedByBroker)
        assert not client.failed and not client.closed
        assert len(client.renamed) == 2
        # Nothing was durable: everything on the node now was redeclared.
        declared.check_broker(node.name)
        declared.round_trip(b"after restart")
    finally:
        client.close()
        runner.close()


def test_deleted_and_auto_deleted_entities_are_not_redeclared() -> None:
    runner = SelectRunner()
    name = unique("rec-conn")
    client = RecoveringClient(runner, named(broker.broker_url(), name))
    try:
        chan = client.channel()
        kept_exchange, gone_exchange = unique("rec-kept-ex"), unique("rec-gone-ex")
        auto_exchange = unique("rec-auto-ex")
        kept_queue, gone_queue = unique("rec-kept-q"), unique("rec-gone-q")
        auto_queue, nowait_queue = unique("rec-auto-q"), unique("rec-nowait-q")
        for exchange in (kept_exchange, gone_exchange):
            client.rpc(chan.exchange_declare, exchange, "fanout")
        client.rpc(chan.exchange_declare, auto_exchange, "fanout", auto_delete=True)
        for queue in (kept_queue, gone_queue, nowait_queue):
            client.rpc(chan.queue_declare, queue, exclusive=True)
        client.rpc(chan.queue_declare, auto_queue, auto_delete=True)
        client.rpc(chan.queue_bind, kept_queue, kept_exchange)
        client.rpc(chan.queue_bind, gone_queue, gone_exchange)
        client.rpc(chan.queue_bind, kept_queue, auto_exchange)
        consumer = chan.basic_consume(auto_queue, lambda *_args: None)
        client.wait(lambda: broker.queue_info(auto_queue) is not None, "consumer")

        # The application deletes some of it; the broker removes the rest:
        # the auto-delete queue loses its last consumer, the auto-delete
        # exchange its last binding.
        client.rpc(chan.exchange_delete, gone_exchange)
        client.rpc(chan.queue_delete, gone_queue)
        chan.queue_delete(nowait_queue)  # nowait: recorded at once
        client.rpc(chan.basic_cancel, consumer)
        client.rpc(chan.queue_unbind, kept_queue, auto_exchange)
        client.wait(lambda: broker.queue_info(auto_queue) is None, "auto-delete queue gone")
        assert auto_exchange not in exchange_names()

        close_named_connection(name)
        client.wait(lambda: client.recoveries == 1, "recovery")
        queues, exchanges = queue_names(), exchange_names()
        assert kept_queue in queues and kept_exchange in exchanges
        assert not {gone_queue, auto_queue, nowait_queue} & queues
        assert not {gone_exchange, auto_exchange} & exchanges
        assert (kept_exchange, "queue", kept_queue, kept_queue) in bindings_of()
        topology = client.conn.recovery.topology  # type: ignore[union-attr]
        assert set(topology.queues) == {kept_queue}
        assert set(topology.exchanges) == {kept_exchange}
        assert not client.conn.recovery.failures  # type: ignore[union-attr]
        client.rpc(chan.exchange_delete, kept_exchange)
    finally:
        client.close()
        runner.close()
