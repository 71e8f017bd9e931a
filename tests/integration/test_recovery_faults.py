"""Recovery when things go wrong during it: the broker refuses a
redeclaration, a consumed queue vanished, channels are closing or closed
by the application, the connection is lost again while restoring, the
application closes it while restoring, the login is refused. And what the
application sees meanwhile: nothing is open until the recovery is over."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pika import exceptions, spec
from pika.channel import Channel
from pika.parameters import URLParameters
from pika.recovery import RecoveryPolicy
from tests.integration.recovery_support import (
    RecoveringClient,
    SelectRunner,
    bindings_of,
    channel_count,
    close_named_connection,
    named,
)
from tests.integration.select_support import unique
from tests.utils import broker
from tests.utils.proxy import TcpProxy

pytestmark = pytest.mark.broker


@pytest.fixture
def runner() -> Iterator[SelectRunner]:
    runner = SelectRunner()
    yield runner
    runner.close()


@pytest.fixture
def client(runner: SelectRunner, broker_url: str, proxy: TcpProxy) -> Iterator[RecoveringClient]:
    """A recovering client through the proxy, with a connection name."""
    client = RecoveringClient(runner, named(proxy.rewrite_url(broker_url), unique("rec-conn")))
    yield client
    proxy.set_delay(0)
    client.close()


class Clients:
    """A recovering client through the proxy, and a helper connected
    straight to the broker to change things behind its back."""

    def __init__(self, runner: SelectRunner, broker_url: str, proxy: TcpProxy) -> None:
        self.proxy = proxy
        self.client = RecoveringClient(runner, URLParameters(proxy.rewrite_url(broker_url)))
        self.helper = RecoveringClient(runner, URLParameters(broker_url))
        self.helper_channel = self.helper.channel()
        self.cleanup: list[str] = []

    def cut_and_hold(self) -> None:
        """Cut the client's connection and keep it from reconnecting."""
        self.proxy.refuse_new(True)
        assert self.proxy.cut() == 1
        self.client.wait(lambda: self.client.conn.is_recovering, "recovery started")

    def release(self) -> None:
        self.proxy.refuse_new(False)
        self.client.wait(lambda: self.client.recoveries == 1, "recovery")

    def close(self) -> None:
        for queue in self.cleanup:
            self.helper.rpc(self.helper_channel.queue_delete, queue)
        self.client.close()
        self.helper.close()


@pytest.fixture
def clients(runner: SelectRunner, broker_url: str, proxy: TcpProxy) -> Iterator[Clients]:
    clients = Clients(runner, broker_url, proxy)
    yield clients
    clients.close()


def _consume_into(received: list[bytes]) -> Any:
    def on_message(chan: Channel, method: Any, _properties: Any, body: bytes) -> None:
        received.append(body)
        chan.basic_ack(method.delivery_tag)

    return on_message


def _bound_consumer(client: RecoveringClient, chan: Channel) -> tuple[str, list[bytes], str]:
    """A server-named exclusive queue bound to amq.topic with ``a.#`` and a
    consumer on it: the queue's first name, what it receives, its tag."""
    queue = client.rpc(chan.queue_declare, "", exclusive=True).method.queue
    client.rpc(chan.queue_bind, queue, "amq.topic", "a.#")
    received: list[bytes] = []
    tag = chan.basic_consume(queue, _consume_into(received))
    return queue, received, tag


def test_a_refused_redeclaration_is_reported_and_the_rest_recovers(clients: Clients) -> None:
    client, helper = clients.client, clients.helper
    chan = client.channel()
    shared = unique("rec-refused")
    clients.cleanup.append(shared)
    client.rpc(chan.queue_declare, shared, arguments={"x-message-ttl": 60000})
    received: list[bytes] = []
    chan.basic_consume(shared, _consume_into(received))
    later = client.rpc(chan.queue_declare, "", exclusive=True).method.queue

    clients.cut_and_hold()
    # Someone else recreates the queue with other arguments meanwhile.
    helper.rpc(clients.helper_channel.queue_delete, shared)
    helper.rpc(clients.helper_channel.queue_declare, shared, arguments={"x-message-ttl": 1000})
    clients.release()

    failures = client.conn.recovery.failures  # type: ignore[union-attr]
    assert [(f.what, f.name) for f in failures] == [("queue", shared)]
    error = failures[0].error
    assert isinstance(error, exceptions.ChannelClosedByBroker)
    assert error.reply_code == spec.PRECONDITION_FAILED
    # The queue exists (with other arguments): the consumer is back on it,
    # and what was declared after it was recovered too.
    assert chan.is_open
    info = broker.queue_info(shared)
    assert info is not None and info.consumers == 1
    assert broker.queue_info(client.renamed_to(later)) is not None
    chan.basic_publish("", shared, b"after")
    client.wait(lambda: received == [b"after"], "message after recovery")


def test_the_consumer_of_a_vanished_queue_is_cancelled_not_its_channel(
    clients: Clients,
) -> None:
    client, helper = clients.client, clients.helper
    foreign = unique("rec-foreign")
    # Declared by someone else: the client only consumes from it.
    helper.rpc(clients.helper_channel.queue_declare, foreign)
    chan = client.channel()
    cancels: list[Any] = []
    chan.add_on_cancel_callback(lambda frame: cancels.append(frame.method))
    kept = client.rpc(chan.queue_declare, "", exclusive=True).method.queue
    received: list[bytes] = []
    kept_tag = chan.basic_consume(kept, _consume_into(received))
    tag = chan.basic_consume(foreign, _consume_into(received))
    client.wait(lambda: broker.queue_info(foreign).consumers == 1, "consumer")  # type: ignore[union-attr]

    clients.cut_and_hold()
    helper.rpc(clients.helper_channel.queue_delete, foreign)
    clients.release()

    assert chan.is_open
    assert [type(m) for m in cancels] == [spec.Basic.Cancel]
    assert cancels[0].consumer_tag == tag
    assert chan.consumer_tags == [kept_tag]
    failures = client.conn.recovery.failures  # type: ignore[union-attr]
    assert [(f.what, f.name) for f in failures] == [("consumer queue", foreign)]
    assert isinstance(failures[0].error, exceptions.ChannelClosedByBroker)
    assert failures[0].error.reply_code == spec.NOT_FOUND
    chan.basic_publish("", client.renamed_to(kept), b"still consuming")
    client.wait(lambda: received == [b"still consuming"], "message after recovery")


def _two_channels(client: RecoveringClient) -> tuple[Channel, Channel, list[Exception]]:
    """Two channels, and what the second one's close callbacks get."""
    kept, other = client.channel(), client.channel()
    closed: list[Exception] = []
    other.add_on_close_callback(lambda _chan, reason: closed.append(reason))
    return kept, other, closed


def test_a_channel_closed_during_recovery_is_not_reopened(
    client: RecoveringClient, proxy: TcpProxy
) -> None:
    kept, dropped, closed = _two_channels(client)
    proxy.refuse_new(True)
    proxy.cut()
    client.wait(lambda: client.conn.is_recovering, "recovery started")
    dropped.close()
    # Nothing to close on the broker: closed at once.
    assert dropped.is_closed
    assert len(closed) == 1 and isinstance(closed[0], exceptions.ChannelClosedByClient)
    proxy.refuse_new(False)
    client.wait(lambda: client.recoveries == 1, "recovery")
    assert kept.is_open and dropped.is_closed
    client.wait(lambda: channel_count(client.name) == 1, "one channel on the broker")


def test_a_channel_closing_at_the_loss_is_closed_not_reopened(
    client: RecoveringClient, proxy: TcpProxy
) -> None:
    kept, closing, closed = _two_channels(client)
    proxy.stall()  # the Close goes out, its Close-Ok never comes back
    closing.close(200, "going away")
    client.wait(lambda: not client.conn._engine.has_output, "Channel.Close written")
    assert closing.is_closing
    proxy.cut()
    proxy.resume()
    client.wait(lambda: client.recoveries == 1, "recovery")
    assert len(closed) == 1 and isinstance(closed[0], exceptions.ChannelClosedByClient)
    assert closed[0].reply_code == 200
    assert kept.is_open and closing.is_closed
    client.wait(lambda: channel_count(client.name) == 1, "one channel on the broker")


def test_nothing_is_open_until_the_recovery_is_done(
    client: RecoveringClient, runner: SelectRunner, proxy: TcpProxy
) -> None:
    chan = client.channel()
    _bound_consumer(client, chan)
    conn = client.conn
    samples: list[tuple[bool, bool, bool, bool]] = []

    def sample() -> None:
        if conn.is_recovering:
            restoring = conn._engine.state == "OPEN"
            samples.append((restoring, conn.is_open, chan.is_open, chan.is_opening))
        if not client.recoveries:
            runner.call_later(0.002, sample)

    proxy.set_delay(0.05)  # every round trip of the restore is slow
    proxy.cut()
    sample()
    client.wait(lambda: client.recoveries == 1, "recovery")
    assert any(restoring for restoring, *_ in samples), "the restore was not sampled"
    assert all(not is_open and not chan_open for _, is_open, chan_open, _o in samples)
    assert all(opening for *_, opening in samples)
    assert conn.is_open and chan.is_open and not chan.is_opening


def test_calls_during_recovery_raise_wrong_state(client: RecoveringClient, proxy: TcpProxy) -> None:
    chan = client.channel()
    proxy.refuse_new(True)
    proxy.cut()
    client.wait(lambda: client.conn.is_recovering, "recovery started")
    with pytest.raises(exceptions.ConnectionWrongStateError):
        client.conn.channel()
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.basic_publish("", "nowhere", b"x")
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.queue_declare("", callback=lambda _frame: None)
    proxy.refuse_new(False)
    client.wait(lambda: client.recoveries == 1, "recovery")
    chan.basic_publish("", "nowhere", b"x")


def test_a_loss_while_restoring_starts_over(client: RecoveringClient, proxy: TcpProxy) -> None:
    chan = client.channel()
    client.rpc(chan.confirm_delivery, lambda _frame: None)
    queue, received, tag = _bound_consumer(client, chan)
    conn = client.conn
    proxy.set_delay(0.1)
    proxy.cut()
    # Cut again once the queue is redeclared, while its binding is.
    client.wait(lambda: client.renamed, "queue redeclared")
    assert conn.is_recovering
    assert proxy.cut() == 1
    proxy.set_delay(0)
    client.wait(lambda: client.recoveries == 1, "recovery")
    assert len(client.started) == 1 and not client.failed
    assert conn.recovery.attempts == 2  # type: ignore[union-attr]
    assert chan.is_open and chan.consumer_tags == [tag]
    # Two renames: the queue of the interrupted restore is gone too.
    assert len(client.renamed) == 2
    current = client.renamed_to(queue)
    info = broker.queue_info(current)
    assert info is not None and info.consumers == 1
    assert ("amq.topic", "queue", current, "a.#") in bindings_of()
    chan.basic_publish("amq.topic", "a.b", b"again")
    client.wait(lambda: received == [b"again"], "message after recovery")


def test_closing_while_restoring_stops_the_recovery(
    client: RecoveringClient, proxy: TcpProxy
) -> None:
    chan = client.channel()
    _bound_consumer(client, chan)
    conn = client.conn
    proxy.set_delay(0.1)
    proxy.cut()
    client.wait(lambda: conn.is_recovering and conn._engine.state == "OPEN", "restoring")
    conn.close()
    client.wait(lambda: client.closed, "close reported")
    assert isinstance(client.closed[0], exceptions.ConnectionClosedByClient)
    assert conn.is_closed and not conn.is_recovering and chan.is_closed
    assert client.recoveries == 0 and not client.failed


@pytest.mark.parametrize("refusal", ["password", "permissions"])
def test_a_refused_login_during_recovery_is_reported(
    runner: SelectRunner, broker_url: str, refusal: str
) -> None:
    user, password = unique("user"), "first-password"
    broker.rabbitmqctl("add_user", user, password)
    try:
        broker.rabbitmqctl("set_permissions", user, ".*", ".*", ".*")
        params = URLParameters(broker_url)
        url = f"amqp://{user}:{password}@{params.host}:{params.port}/"
        name = unique("rec-conn")
        client = RecoveringClient(runner, named(url, name))
        if refusal == "password":
            broker.rabbitmqctl("change_password", user, "second-password")
            expected: type[Exception] = exceptions.ProbableAuthenticationError
        else:
            broker.rabbitmqctl("clear_permissions", user)
            expected = exceptions.ProbableAccessDeniedError
        close_named_connection(name)
        client.wait(lambda: client.closed, "recovery given up")
        assert len(client.failed) == 1 and isinstance(client.failed[0], expected)
        assert isinstance(client.closed[0], expected)
        assert client.conn.recovery.attempts == 1  # type: ignore[union-attr]
        assert client.conn.is_closed and not client.conn.is_recovering
    finally:
        broker.rabbitmqctl("delete_user", user)


def test_missed_heartbeats_start_a_recovery(
    runner: SelectRunner, broker_url: str, proxy: TcpProxy
) -> None:
    params = URLParameters(proxy.rewrite_url(broker_url))
    params.heartbeat = 1
    client = RecoveringClient(runner, params)
    try:
        chan = client.channel()
        proxy.stall()  # a silent peer: no bytes either way, the socket stays up
        client.wait(lambda: client.started, "heartbeat timeout", timeout=10)
        assert isinstance(client.started[0], exceptions.AMQPHeartbeatTimeout)
        proxy.resume()
        client.wait(lambda: client.recoveries == 1, "recovery")
        assert chan.is_open
    finally:
        client.close()


def test_a_channel_opening_at_the_loss_gets_its_open_callback(
    client: RecoveringClient, proxy: TcpProxy
) -> None:
    opened: list[Channel] = []
    proxy.stall()  # Channel.Open goes out, Open-Ok never comes back
    chan = client.conn.channel(on_open_callback=opened.append)
    client.wait(lambda: not client.conn._engine.has_output, "Channel.Open written")
    proxy.cut()
    proxy.resume()
    client.wait(lambda: client.recoveries == 1, "recovery")
    assert opened == [chan] and chan.is_open
    client.wait(lambda: channel_count(client.name) == 1, "the channel on the broker")


def test_confirm_mode_from_before_enable_recovery_keeps_its_numbers(
    runner: SelectRunner, broker_url: str, proxy: TcpProxy
) -> None:
    """Confirm mode turned on before recovery was: unconfirmed publishes are
    still nacked at the loss, and later confirms keep the application's
    numbering (the broker's restarts at 1 on the new channel)."""
    confirms: list[Any] = []
    conn_open: list[Any] = []
    conn = runner.connect(
        URLParameters(proxy.rewrite_url(broker_url)), {"on_open_callback": conn_open.append}
    )
    runner.run_until(lambda: conn_open, 10, "open")
    opened: list[Channel] = []
    conn.channel(on_open_callback=opened.append)
    runner.run_until(lambda: opened, 10, "channel")
    chan = opened[0]
    chan.confirm_delivery(lambda frame: confirms.append(frame.method))
    chan.basic_publish("", "nowhere", b"confirmed")
    runner.run_until(lambda: confirms, 10, "first confirm")
    conn.enable_recovery(RecoveryPolicy(initial_delay=0.05))
    recovered: list[Any] = []
    conn.add_on_recovery_succeeded_callback(recovered.append)
    try:
        proxy.stall()
        for _ in range(3):
            chan.basic_publish("", "nowhere", b"unconfirmed")
        runner.run_until(lambda: not conn._engine.has_output, 10, "written")
        proxy.cut()
        proxy.resume()
        runner.run_until(lambda: recovered, 15, "recovery")
        chan.basic_publish("", "nowhere", b"after")
        runner.run_until(lambda: len(confirms) == 3, 10, "confirm after recovery")
        first, nack, ack = confirms
        assert isinstance(first, spec.Basic.Ack) and first.delivery_tag == 1
        assert isinstance(nack, spec.Basic.Nack) and nack.multiple and nack.delivery_tag == 4
        assert isinstance(ack, spec.Basic.Ack) and ack.delivery_tag == 5 and not ack.multiple
    finally:
        conn.close()
        runner.run_until(lambda: conn.is_closed, 10, "closed")
