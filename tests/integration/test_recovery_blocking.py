"""Automatic recovery of `BlockingConnection` against the real broker.

Connections go through the test proxy (`tests.utils.proxy.TcpProxy`), which
cuts them, stalls them or refuses new ones; ``rabbitmqctl close_connection``
closes this test's connection only (found by its connection_name).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from pika import exceptions, spec
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.parameters import URLParameters
from pika.recovery import RecoveryPolicy
from tests.integration.select_support import broker_pid_of
from tests.integration.test_blocking_examples import RunningExample
from tests.utils import broker
from tests.utils.proxy import TcpProxy

pytestmark = pytest.mark.broker

FAST = RecoveryPolicy(initial_delay=0.05, max_delay=0.5, jitter=0.2)
CUTS = 5


def unique(prefix: str) -> str:
    return f"pika-test-brec-{prefix}-{uuid.uuid4().hex[:10]}"


def named(url: str, name: str) -> URLParameters:
    params = URLParameters(url)
    params.client_properties = {"connection_name": name}
    return params


class Recording:
    """A recovering BlockingConnection and the recovery events it dispatched."""

    def __init__(self, url: str, policy: RecoveryPolicy = FAST, **options: Any) -> None:
        self.name = unique("conn")
        self.events: list[tuple[str, Any]] = []
        self.conn = BlockingConnection(named(url, self.name), recovery=policy, **options)
        self.conn.add_on_recovery_started_callback(lambda _c, e: self.events.append(("started", e)))
        self.conn.add_on_recovery_succeeded_callback(lambda _c: self.events.append(("ok", None)))
        self.conn.add_on_recovery_failed_callback(lambda _c, e: self.events.append(("failed", e)))

    def count(self, kind: str) -> int:
        return sum(1 for event, _ in self.events if event == kind)

    def lose_for_good(self, proxy: TcpProxy) -> BlockingChannel:
        """A channel, then a connection loss after which every reconnect is refused."""
        chan = self.conn.channel()
        proxy.refuse_new(True)
        proxy.cut()
        self.wait_recovering()
        return chan

    def wait_recovering(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.conn.is_recovering:
            assert time.monotonic() < deadline, "the loss was not noticed"
            self.conn.process_data_events(0.02)

    def close(self) -> None:
        if self.conn.is_open or self.conn.is_recovering:
            self.conn.close()


@pytest.fixture
def direct(broker_url: str) -> Iterator[BlockingChannel]:
    """A channel on a plain connection straight to the broker."""
    with BlockingConnection(URLParameters(broker_url)) as conn:
        yield conn.channel()


@pytest.fixture
def shared_queue(direct: BlockingChannel) -> Iterator[str]:
    name = unique("q")
    direct.queue_declare(name)
    yield name
    if direct.is_open:
        direct.queue_delete(name)


def test_start_consuming_consumer_survives_five_cuts(
    broker_url: str, proxy: TcpProxy, shared_queue: str
) -> None:
    client = Recording(proxy.rewrite_url(broker_url))
    total = 100
    seen: Counter[bytes] = Counter()
    failures: list[BaseException] = []
    try:
        chan = client.conn.channel()
        chan.basic_qos(prefetch_count=5)

        def on_message(
            ch: BlockingChannel, method: spec.Basic.Deliver, _props: Any, body: bytes
        ) -> None:
            seen[body] += 1
            ch.basic_ack(method.delivery_tag or 0)
            if len(seen) == total:
                ch.stop_consuming()

        chan.basic_consume(shared_queue, on_message)

        def produce_and_cut() -> None:
            """Publish on a connection of its own; cut the consumer's
            connection every total/CUTS messages, once it has recovered."""
            try:
                with BlockingConnection(URLParameters(broker_url)) as conn:
                    publisher = conn.channel()
                    for number in range(total):
                        step = total // CUTS
                        if number % step == step // 2:
                            recovered = client.count("ok")
                            proxy.cut()
                            deadline = time.monotonic() + 15
                            while client.count("ok") == recovered and time.monotonic() < deadline:
                                conn.sleep(0.02)
                        publisher.basic_publish("", shared_queue, b"m%d" % number)
                        conn.sleep(0.01)
            except BaseException as error:  # reported by the main thread
                failures.append(error)

        worker = threading.Thread(target=produce_and_cut, daemon=True)
        worker.start()
        # A safety net: the test ends even if messages never come.
        client.conn.call_later(90, chan.stop_consuming)
        chan.start_consuming()
        worker.join(15)
        assert not failures
        assert len(seen) == total
        assert client.count("started") == CUTS
        assert client.count("ok") == CUTS
        print(f"duplicates: {sum(seen.values()) - total}, stale acks: {chan.stale_tags_dropped}")
    finally:
        client.close()


def test_pipelined_publisher_through_five_cuts(
    broker_url: str, proxy: TcpProxy, direct: BlockingChannel, shared_queue: str
) -> None:
    client = Recording(proxy.rewrite_url(broker_url))
    total = 3000
    failed: set[bytes] = set()
    try:
        chan = client.conn.channel()
        publisher = chan.publisher(window=100)
        cut_at = {total * (n + 1) // (CUTS + 1) for n in range(CUTS)}
        for number in range(total):
            if number in cut_at:
                proxy.cut()
            publisher.publish("", shared_queue, b"m%d" % number)
            if number % 250 == 249 or number == total - 1:
                try:
                    publisher.flush()
                except exceptions.NackError as error:
                    failed.update(message.body for message in error.messages)
        publisher.close()
        client.conn.process_data_events()
        assert client.count("ok") == CUTS
    finally:
        client.close()
    confirmed = {b"m%d" % number for number in range(total)} - failed
    consumed: Counter[bytes] = Counter()
    while True:
        method, _props, body = direct.basic_get(shared_queue, auto_ack=True)
        if method is None:
            break
        assert body is not None
        consumed[body] += 1
    assert confirmed <= set(consumed)
    print(
        f"confirmed {len(confirmed)}, reported failed {len(failed)}, "
        f"duplicates {sum(consumed.values()) - len(consumed)}"
    )


def test_pipelined_publisher_republishes_unconfirmed(
    broker_url: str, proxy: TcpProxy, direct: BlockingChannel, shared_queue: str
) -> None:
    policy = RecoveryPolicy(initial_delay=0.05, max_delay=0.5, republish_unconfirmed=True)
    client = Recording(proxy.rewrite_url(broker_url), policy)
    try:
        chan = client.conn.channel()
        with chan.publisher(window=100) as publisher:
            for number in range(500):
                if number == 250:
                    proxy.cut()
                publisher.publish("", shared_queue, b"m%d" % number)
        client.conn.process_data_events()
        assert client.count("ok") == 1
    finally:
        client.close()
    consumed = set()
    while True:
        method, _props, body = direct.basic_get(shared_queue, auto_ack=True)
        if method is None:
            break
        consumed.add(body)
    assert consumed == {b"m%d" % number for number in range(500)}


def test_confirmed_publish_waiting_at_the_loss_raises_nack_error(
    broker_url: str, proxy: TcpProxy, shared_queue: str
) -> None:
    client = Recording(proxy.rewrite_url(broker_url))
    try:
        chan = client.conn.channel()
        chan.confirm_delivery()
        chan.basic_publish("", shared_queue, b"first")
        proxy.stall()
        threading.Timer(0.3, proxy.cut).start()
        started = time.monotonic()
        with pytest.raises(exceptions.NackError) as caught:
            chan.basic_publish("", shared_queue, b"lost?")
        assert time.monotonic() - started < 5
        assert [message.body for message in caught.value.messages] == [b"lost?"]
        proxy.resume()
        chan.basic_publish("", shared_queue, b"after")
        assert client.conn.is_open and chan.is_open
    finally:
        client.close()


def test_call_waiting_at_the_loss_raises_connection_interrupted(
    broker_url: str, proxy: TcpProxy
) -> None:
    client = Recording(proxy.rewrite_url(broker_url))
    try:
        chan = client.conn.channel()
        proxy.stall()
        threading.Timer(0.3, proxy.cut).start()
        started = time.monotonic()
        with pytest.raises(exceptions.ConnectionInterrupted) as caught:
            chan.queue_declare(unique("never"), exclusive=True)
        assert time.monotonic() - started < 5
        assert isinstance(caught.value.error, exceptions.StreamLostError)
        assert isinstance(caught.value, exceptions.AMQPConnectionError)
        proxy.resume()
        # The next call waits for the recovery, then works.
        assert chan.queue_declare("", exclusive=True).method.queue
        assert client.conn.is_open
    finally:
        client.close()


def test_queue_declare_during_recovery_waits_and_succeeds(broker_url: str, proxy: TcpProxy) -> None:
    client = Recording(proxy.rewrite_url(broker_url), RecoveryPolicy(initial_delay=1, jitter=0))
    try:
        chan = client.conn.channel()
        proxy.cut()
        client.wait_recovering()
        assert not client.conn.is_open and not client.conn.is_closed
        assert not chan.is_open
        started = time.monotonic()
        reply = chan.queue_declare("", exclusive=True)
        assert 0.5 < time.monotonic() - started < 10
        assert reply.method.queue
        assert client.conn.is_open and chan.is_open
        # The recovery's events are dispatched like other callbacks.
        client.conn.process_data_events()
        assert [kind for kind, _ in client.events] == ["started", "ok"]
    finally:
        client.close()


def test_call_during_a_recovery_that_fails_raises_the_final_error(
    broker_url: str, proxy: TcpProxy
) -> None:
    policy = RecoveryPolicy(initial_delay=0.2, max_delay=0.2, max_attempts=3, jitter=0)
    client = Recording(proxy.rewrite_url(broker_url), policy)
    try:
        chan = client.lose_for_good(proxy)
        started = time.monotonic()
        with pytest.raises(exceptions.AMQPConnectionError) as caught:
            chan.queue_declare(unique("never"))
        assert time.monotonic() - started < 10
        assert not isinstance(caught.value, exceptions.RecoveryWaitTimeout)
        assert client.conn.is_closed
    finally:
        client.conn._release_loop()


def test_call_during_an_endless_recovery_gives_up_after_its_limit(
    broker_url: str, proxy: TcpProxy
) -> None:
    client = Recording(proxy.rewrite_url(broker_url), FAST, recovery_wait_timeout=1.0)
    try:
        chan = client.lose_for_good(proxy)
        started = time.monotonic()
        with pytest.raises(exceptions.RecoveryWaitTimeout):
            chan.basic_publish("", "anywhere", b"body")
        assert 0.9 < time.monotonic() - started < 3
        assert client.conn.is_recovering
        client.conn.close()
        assert client.conn.is_closed and not client.conn.is_recovering
    finally:
        if not client.conn.is_closed:
            client.conn.close()


def test_rabbitmqctl_close_connection_is_recovered(broker_url: str) -> None:
    client = Recording(broker_url)
    try:
        chan = client.conn.channel()
        queue = str(chan.queue_declare("", exclusive=True).method.queue)
        renamed: dict[str, str] = {}
        client.conn.add_on_queue_renamed_callback(lambda _c, old, new: renamed.update({old: new}))
        messages: list[bytes] = []
        chan.basic_consume(queue, lambda ch, m, p, body: messages.append(body), auto_ack=True)
        broker.close_connection(broker_pid_of(client.name), "test: blocking recovery")
        client.wait_recovering()
        while client.conn.is_recovering:
            client.conn.process_data_events(0.05)
        client.conn.process_data_events()
        started = client.events[0][1]
        assert isinstance(started, exceptions.ConnectionClosedByBroker)
        assert started.reply_code == 320
        assert queue in renamed
        chan.basic_publish("", renamed[queue], b"back")
        deadline = time.monotonic() + 10
        while not messages and time.monotonic() < deadline:
            client.conn.process_data_events(0.05)
        assert messages == [b"back"]
    finally:
        client.close()


def test_recovery_callbacks_need_recovery_enabled(broker_url: str) -> None:
    with BlockingConnection(URLParameters(broker_url)) as conn:
        assert conn.recovery is None and not conn.is_recovering
        with pytest.raises(exceptions.ConnectionWrongStateError):
            conn.add_on_recovery_started_callback(lambda _c, _e: None)


def test_recovery_example_carries_on_through_cuts(broker_url: str, proxy: TcpProxy) -> None:
    queue = unique("example")
    example = RunningExample(proxy.rewrite_url(broker_url), "blocking_recovery.py", queue, "60")
    try:
        example.wait_for("Received 5")
        proxy.cut()
        example.wait_for("recovering")
        example.wait_for("Recovered")
        example.wait_for("Received 30")
        proxy.cut()
        example.wait_for("Recovered")
        example.wait_for("All 60 messages received")
    finally:
        code = example.finish()
    assert code == 0, example.lines
