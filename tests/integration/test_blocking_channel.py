"""Every synchronous method of `BlockingChannel` against the real broker,
with the values Pika's interface says it returns, and broker channel closes."""

from __future__ import annotations

import pytest

from pika import exceptions, frame, spec
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.exchange_type import ExchangeType
from tests.integration.blocking_support import (
    channel_fixture,
    connection_fixture,
    unique,
)

pytestmark = pytest.mark.broker


conn = connection_fixture()
chan = channel_fixture()


def reply_of(value: object, kind: type) -> object:
    assert isinstance(value, frame.Method), value
    assert isinstance(value.method, kind), value.method
    return value.method


def private_queue(chan: BlockingChannel, **arguments: object) -> str:
    declare_ok = chan.queue_declare("", exclusive=True, **arguments)  # type: ignore[arg-type]
    return str(declare_ok.method.queue)


def wait_for_count(chan: BlockingChannel, queue: str, count: int) -> None:
    """Passive declares until ``queue`` holds ``count`` ready messages."""
    for _ in range(200):
        if chan.queue_declare(queue, passive=True).method.message_count == count:
            return
        chan.connection.sleep(0.02)
    raise AssertionError(f"{queue} never held {count} messages")


# ------------------------------------------------------------------ queue


def test_queue_declare_returns_the_declare_ok(chan: BlockingChannel) -> None:
    result = chan.queue_declare("", exclusive=True)
    declare_ok = reply_of(result, spec.Queue.DeclareOk)
    assert isinstance(declare_ok, spec.Queue.DeclareOk)
    assert str(declare_ok.queue).startswith("amq.gen-")
    assert declare_ok.message_count == 0 and declare_ok.consumer_count == 0
    assert result.channel_number == chan.channel_number


def test_queue_declare_passive_reports_counts(chan: BlockingChannel) -> None:
    queue = private_queue(chan)
    chan.basic_publish("", queue, b"one")
    chan.basic_publish("", queue, b"two")
    wait_for_count(chan, queue, 2)
    declare_ok = chan.queue_declare(queue, passive=True).method
    assert (declare_ok.queue, declare_ok.message_count) == (queue, 2)


def test_queue_bind_unbind_purge_delete(chan: BlockingChannel) -> None:
    queue = private_queue(chan)
    exchange = unique("x")
    chan.exchange_declare(exchange, ExchangeType.fanout, auto_delete=True)
    reply_of(chan.queue_bind(queue, exchange), spec.Queue.BindOk)
    chan.basic_publish(exchange, "", b"routed")
    wait_for_count(chan, queue, 1)
    reply_of(chan.queue_unbind(queue, exchange), spec.Queue.UnbindOk)
    purge_ok = reply_of(chan.queue_purge(queue), spec.Queue.PurgeOk)
    assert purge_ok.message_count == 1  # type: ignore[attr-defined]
    delete_ok = reply_of(chan.queue_delete(queue, if_unused=True), spec.Queue.DeleteOk)
    assert delete_ok.message_count == 0  # type: ignore[attr-defined]
    chan.exchange_delete(exchange)


def test_queue_bind_routing_key_defaults_to_queue_name(chan: BlockingChannel) -> None:
    queue = private_queue(chan)
    exchange = unique("direct")
    chan.exchange_declare(exchange, auto_delete=True)
    chan.queue_bind(queue, exchange)
    chan.basic_publish(exchange, queue, b"by queue name")
    wait_for_count(chan, queue, 1)
    chan.exchange_delete(exchange)


# --------------------------------------------------------------- exchange


@pytest.mark.amqp_0_9_1_only
def test_exchange_declare_bind_unbind_delete(chan: BlockingChannel) -> None:
    source, destination = unique("src"), unique("dst")
    reply_of(chan.exchange_declare(source, "fanout"), spec.Exchange.DeclareOk)
    reply_of(
        chan.exchange_declare(destination, ExchangeType.fanout, durable=False),
        spec.Exchange.DeclareOk,
    )
    reply_of(chan.exchange_declare(source, "fanout", passive=True), spec.Exchange.DeclareOk)
    reply_of(chan.exchange_bind(destination, source), spec.Exchange.BindOk)
    queue = private_queue(chan)
    chan.queue_bind(queue, destination)
    chan.basic_publish(source, "", b"through two exchanges")
    wait_for_count(chan, queue, 1)
    reply_of(chan.exchange_unbind(destination, source), spec.Exchange.UnbindOk)
    reply_of(chan.exchange_delete(source), spec.Exchange.DeleteOk)
    reply_of(chan.exchange_delete(destination, if_unused=False), spec.Exchange.DeleteOk)


def test_passive_declare_of_missing_exchange_raises_channel_closed_by_broker(
    chan: BlockingChannel,
) -> None:
    with pytest.raises(exceptions.ChannelClosedByBroker) as caught:
        chan.exchange_declare(unique("missing"), passive=True)
    assert caught.value.reply_code == 404
    assert chan.is_closed and not chan.is_open
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.queue_declare("", exclusive=True)


def test_asynchronous_broker_close_is_raised_once(
    conn: BlockingConnection, chan: BlockingChannel
) -> None:
    # Publishing to a missing exchange: the broker closes the channel
    # asynchronously. The publish itself raises if its periodic look at
    # incoming frames already saw the close; otherwise the close arrives
    # while no call of this channel waits, and the next call raises it.
    closes: list[exceptions.ChannelClosedByBroker] = []
    try:
        chan.basic_publish(unique("missing"), "key", b"lost")
    except exceptions.ChannelClosedByBroker as exc:
        closes.append(exc)
    if not closes:
        for _ in range(100):
            if chan.is_closed:
                break
            conn.process_data_events(0.1)
        assert chan.is_closed
        with pytest.raises(exceptions.ChannelClosedByBroker) as caught:
            chan.basic_publish("", "anything", b"again")
        closes.append(caught.value)
    assert [close.reply_code for close in closes] == [404]
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.basic_publish("", "anything", b"again")
    assert conn.is_open
    conn.channel().queue_declare("", exclusive=True)


# ------------------------------------------------------------------ basic


def test_basic_get_returns_the_message_then_none_triple(chan: BlockingChannel) -> None:
    queue = private_queue(chan)
    properties = spec.BasicProperties(content_type="text/plain", headers={"k": "v"})
    chan.basic_publish("", queue, b"payload", properties)
    wait_for_count(chan, queue, 1)
    method, got_properties, body = chan.basic_get(queue)
    assert isinstance(method, spec.Basic.GetOk)
    assert body == b"payload"
    assert got_properties is not None
    assert got_properties.content_type == "text/plain" and got_properties.headers == {"k": "v"}
    assert method.message_count == 0
    chan.basic_ack(method.delivery_tag or 0)
    assert chan.basic_get(queue) == (None, None, None)
    assert chan.basic_get(queue, auto_ack=True) == (None, None, None)


def test_basic_get_many_times_does_not_pile_up_registrations(chan: BlockingChannel) -> None:
    queue = private_queue(chan)
    for index in range(50):
        chan.basic_publish("", queue, str(index).encode())
    wait_for_count(chan, queue, 50)
    bodies = [chan.basic_get(queue, auto_ack=True)[2] for _ in range(50)]
    assert bodies == [str(index).encode() for index in range(50)]
    assert chan.basic_get(queue) == (None, None, None)
    assert not chan._impl._registered.get(spec.Basic.GetEmpty)


@pytest.mark.amqp_0_9_1_only
def test_basic_nack_and_reject_requeue_or_drop(chan: BlockingChannel) -> None:
    queue = private_queue(chan)
    for body in (b"a", b"b", b"c"):
        chan.basic_publish("", queue, body)
    wait_for_count(chan, queue, 3)
    first, _, _ = chan.basic_get(queue)
    second, _, _ = chan.basic_get(queue)
    third, _, _ = chan.basic_get(queue)
    assert first and second and third
    chan.basic_reject(first.delivery_tag or 0, requeue=False)
    chan.basic_nack(second.delivery_tag or 0, requeue=True)
    chan.basic_nack(third.delivery_tag or 0, multiple=False, requeue=False)
    wait_for_count(chan, queue, 1)
    method, _, last = chan.basic_get(queue, auto_ack=True)
    assert last == b"b" and method is not None and method.redelivered


def test_basic_ack_multiple(chan: BlockingChannel) -> None:
    queue = private_queue(chan)
    for index in range(5):
        chan.basic_publish("", queue, b"%d" % index)
    wait_for_count(chan, queue, 5)
    tags = [chan.basic_get(queue)[0].delivery_tag for _ in range(5)]  # type: ignore[union-attr]
    chan.basic_ack(tags[-1] or 0, multiple=True)
    chan.close()
    check = chan.connection.channel()
    wait_for_count(check, queue, 0)


def test_basic_qos_and_recover(chan: BlockingChannel) -> None:
    chan.basic_qos(prefetch_count=10)
    chan.basic_qos(prefetch_size=0, prefetch_count=5, global_qos=True)
    queue = private_queue(chan)
    chan.basic_publish("", queue, b"unacked")
    wait_for_count(chan, queue, 1)
    method, _, _ = chan.basic_get(queue)
    assert method is not None and not method.redelivered
    chan.basic_recover(requeue=True)
    wait_for_count(chan, queue, 1)
    again, _, _ = chan.basic_get(queue, auto_ack=True)
    assert again is not None and again.redelivered


def test_returns_go_to_return_callbacks_from_the_loop(
    conn: BlockingConnection, chan: BlockingChannel
) -> None:
    returned: list[tuple[object, ...]] = []
    chan.add_on_return_callback(lambda *args: returned.append(args))
    chan.basic_publish("", unique("no-such-queue"), b"bounce", mandatory=True)
    # A blocking call that waits for a reply does not dispatch the return...
    chan.queue_declare("", exclusive=True)
    assert returned == []
    # ...process_data_events does.
    conn.process_data_events(0.2)
    assert len(returned) == 1
    channel, method, properties, body = returned[0]
    assert channel is chan
    assert isinstance(method, spec.Basic.Return) and method.reply_code == 312
    assert isinstance(properties, spec.BasicProperties) and body == b"bounce"


def test_flow(chan: BlockingChannel) -> None:
    assert chan.flow(True) is True


# ------------------------------------------------------------------ tx


def test_tx_commit_and_rollback(chan: BlockingChannel) -> None:
    queue = private_queue(chan)
    reply_of(chan.tx_select(), spec.Tx.SelectOk)
    chan.basic_publish("", queue, b"rolled back")
    reply_of(chan.tx_rollback(), spec.Tx.RollbackOk)
    chan.basic_publish("", queue, b"committed")
    reply_of(chan.tx_commit(), spec.Tx.CommitOk)
    wait_for_count(chan, queue, 1)
    assert chan.basic_get(queue, auto_ack=True)[2] == b"committed"


# --------------------------------------------------------------- closing


def test_close_and_context_manager(conn: BlockingConnection) -> None:
    with conn.channel() as chan:
        assert chan.is_open and not chan.is_closed
    assert chan.is_closed
    other = conn.channel()
    other.close()
    assert other.is_closed
    with pytest.raises(exceptions.ChannelWrongStateError):
        other.close()
    assert conn.is_open


@pytest.mark.amqp_0_9_1_only
def test_confirm_delivery_turns_confirms_on_once(chan: BlockingChannel) -> None:
    chan.confirm_delivery()
    chan.confirm_delivery()
    queue = private_queue(chan)
    chan.basic_publish("", queue, b"confirmed")


@pytest.mark.amqp_0_9_1_only
def test_tx_and_confirm_conflict_raises_channel_closed_by_broker(chan: BlockingChannel) -> None:
    chan.tx_select()
    with pytest.raises(exceptions.ChannelClosedByBroker) as caught:
        chan.confirm_delivery()
    assert caught.value.reply_code == 406
