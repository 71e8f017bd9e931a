"""`BlockingConnection` and `BlockingChannel` over in-memory streams: each
call's path through the callback layer and the private loop, with a
scripted broker (no socket, no RabbitMQ)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from pika import exceptions, spec
from pika.adapters.blocking_connection import BlockingConnection
from pika.connection import ConnectionParameters
from pika.recovery import RecoveryPolicy
from tests.utils.frames import content_bytes, method_bytes
from tests.utils.memory_transport import ScriptedBroker, memory_select_connection
from tests.utils.sync_requests import SYNC_REQUESTS, check_request

PARAMS = ConnectionParameters(host="memory", port=1, connection_attempts=1, retry_delay=0)

#: Longest a test waits for something the loop does on its own.
WAIT_SECONDS = 20.0


def connect(broker: ScriptedBroker, **kwargs: Any) -> BlockingConnection:
    return BlockingConnection(PARAMS, _impl_class=memory_select_connection(broker), **kwargs)


@pytest.fixture
def broker() -> ScriptedBroker:
    return ScriptedBroker()


@pytest.fixture
def conn(broker: ScriptedBroker) -> Iterator[BlockingConnection]:
    connection = connect(broker)
    yield connection
    if connection.is_open:
        connection.close()


def deliver(channel: int, tag: str, delivery_tag: int, body: bytes = b"m") -> bytes:
    return content_bytes(channel, spec.Basic.Deliver(tag, delivery_tag, False, "", "q"), body)


# ------------------------------------------------------------------ requests


@pytest.mark.parametrize(
    ("call", "request_class", "reply_class"),
    [
        *SYNC_REQUESTS,
        (lambda c: c.tx_select(), spec.Tx.Select, spec.Tx.SelectOk),
        (lambda c: c.tx_commit(), spec.Tx.Commit, spec.Tx.CommitOk),
        (lambda c: c.tx_rollback(), spec.Tx.Rollback, spec.Tx.RollbackOk),
    ],
)
def test_each_request_returns_its_reply(
    broker: ScriptedBroker,
    conn: BlockingConnection,
    call: Any,
    request_class: type,
    reply_class: type,
) -> None:
    check_request(broker, conn.channel(), call, request_class, reply_class)


def test_connection_and_channel_state(broker: ScriptedBroker, conn: BlockingConnection) -> None:
    assert conn.is_open and not conn.is_closed
    assert conn.basic_nack and conn.consumer_cancel_notify
    assert conn.exchange_exchange_bindings and conn.publisher_confirms
    with conn.channel() as chan:
        assert chan.is_open and int(chan) == chan.channel_number == 1
        assert chan.connection is conn
        assert "number=1" in repr(chan)
        chan.basic_qos(prefetch_count=3)
        chan.basic_recover(requeue=True)
        assert chan.flow(True) is True
    assert chan.is_closed
    assert broker.received(spec.Channel.Close)
    conn.close()
    assert conn.is_closed
    with pytest.raises(exceptions.ConnectionWrongStateError):
        conn.channel()


def test_server_named_queue(conn: BlockingConnection) -> None:
    chan = conn.channel()
    first = chan.queue_declare("").method.queue
    second = chan.queue_declare("").method.queue
    assert first.startswith("amq.gen-") and first != second


def test_context_manager_closes(broker: ScriptedBroker) -> None:
    with connect(broker) as connection:
        connection.channel()
    assert connection.is_closed
    assert broker.received(spec.Connection.Close)


# ------------------------------------------------------------- publishing


def test_publish_without_confirms(broker: ScriptedBroker, conn: BlockingConnection) -> None:
    chan = conn.channel()
    chan.basic_publish("ex", "rk", b"body", spec.BasicProperties(priority=3))
    conn.process_data_events()
    ((_n, publish),) = broker.received(spec.Basic.Publish)
    assert (publish.exchange, publish.routing_key) == ("ex", "rk")


def test_publish_with_confirms_acked_nacked_returned(
    broker: ScriptedBroker, conn: BlockingConnection
) -> None:
    chan = conn.channel()
    chan.confirm_delivery()
    chan.confirm_delivery()  # again: nothing
    assert len(broker.received(spec.Confirm.Select)) == 1
    chan.basic_publish("", "q", b"acked")
    broker.answer(spec.Basic.Publish, lambda ch, m: method_bytes(ch, spec.Basic.Nack(2)))
    with pytest.raises(exceptions.NackError) as nacked:
        chan.basic_publish("", "q", b"nacked")
    assert [m.body for m in nacked.value.messages] == [b"nacked"]

    def returned(ch: int, method: Any) -> bytes:
        back = spec.Basic.Return(312, "NO_ROUTE", method.exchange, method.routing_key)
        return content_bytes(ch, back, b"lost") + method_bytes(ch, spec.Basic.Ack(3))

    broker.answer(spec.Basic.Publish, returned)
    with pytest.raises(exceptions.UnroutableError) as unroutable:
        chan.basic_publish("", "nowhere", b"lost", mandatory=True)
    assert [m.body for m in unroutable.value.messages] == [b"lost"]


def test_pipelined_publisher(broker: ScriptedBroker, conn: BlockingConnection) -> None:
    chan = conn.channel()
    with pytest.raises(ValueError):
        chan.publisher(0)
    publisher = chan.publisher(window=2)
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.publisher()
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.basic_publish("", "q", b"direct")
    assert publisher.window == 2
    for n in range(5):
        publisher.publish("", "q", f"m{n}".encode())
    publisher.flush()
    assert publisher.outstanding == 0 and publisher.unconfirmed() == []
    assert "PipelinedPublisher" in repr(publisher)
    broker.answer(
        spec.Basic.Publish,
        lambda ch, m: method_bytes(ch, spec.Basic.Nack(6, requeue=False)),
    )
    publisher.publish("", "q", b"refused")
    with pytest.raises(exceptions.NackError) as nacked:
        publisher.flush()
    assert [m.body for m in nacked.value.messages] == [b"refused"]
    publisher.close()
    broker.answer(spec.Basic.Publish, None)
    chan.basic_publish("", "q", b"after")  # waits for its own confirm again


# ------------------------------------------------------------ getting, consuming


def test_basic_get(broker: ScriptedBroker, conn: BlockingConnection) -> None:
    chan = conn.channel()
    assert chan.basic_get("q") == (None, None, None)
    broker.answer(
        spec.Basic.Get,
        lambda ch, m: content_bytes(
            ch, spec.Basic.GetOk(1, False, "", m.queue, 4), b"got", content_type="text/plain"
        ),
    )
    method, props, body = chan.basic_get("q", auto_ack=True)
    assert method is not None and props is not None
    assert (method.delivery_tag, method.message_count, body) == (1, 4, b"got")
    assert props.content_type == "text/plain"
    assert broker.received(spec.Basic.Get)[-1][1].no_ack is True


def test_start_consuming_until_stop(broker: ScriptedBroker, conn: BlockingConnection) -> None:
    chan = conn.channel()
    seen: list[bytes] = []

    def on_message(ch: Any, method: Any, _props: Any, body: bytes) -> None:
        seen.append(body)
        ch.basic_ack(method.delivery_tag)
        if len(seen) == 3:
            ch.stop_consuming()

    tag = chan.basic_consume("q", on_message)
    assert chan.consumer_tags == [tag]
    broker.stream.push(b"".join(deliver(1, tag, n, f"m{n}".encode()) for n in (1, 2, 3)))
    chan.start_consuming()
    assert seen == [b"m1", b"m2", b"m3"]
    assert [m.delivery_tag for _n, m in broker.received(spec.Basic.Ack)] == [1, 2, 3]
    assert broker.received(spec.Basic.Cancel)[-1][1].consumer_tag == tag
    assert chan.consumer_tags == []


def test_undispatched_messages_at_cancel(broker: ScriptedBroker, conn: BlockingConnection) -> None:
    chan = conn.channel()
    dispatched: list[int] = []
    auto = chan.basic_consume("q", lambda c, m, p, b: dispatched.append(m.delivery_tag), True)
    manual = chan.basic_consume("q", lambda c, m, p, b: dispatched.append(m.delivery_tag))
    broker.stream.push(deliver(1, auto, 1) + deliver(1, manual, 2) + deliver(1, manual, 3))
    # A request's wait reads what came before its reply but dispatches nothing.
    chan.queue_declare("after-the-deliveries")
    ((method, _props, body),) = chan.basic_cancel(auto)
    assert (method.delivery_tag, body) == (1, b"m")
    assert chan.basic_cancel(manual) == []
    rejected = [(m.delivery_tag, m.requeue) for _n, m in broker.received(spec.Basic.Reject)]
    assert rejected == [(2, True), (3, True)]
    assert chan.basic_cancel("unknown") == []
    conn.process_data_events()
    assert dispatched == []


def test_consume_generator(broker: ScriptedBroker, conn: BlockingConnection) -> None:
    chan = conn.channel()
    with pytest.raises(ValueError):
        next(chan.consume("q", inactivity_timeout=-1))
    messages = chan.consume("q", inactivity_timeout=0.05)
    assert next(messages) == (None, None, None)
    ((_n, consume),) = broker.received(spec.Basic.Consume)
    tag = consume.consumer_tag
    broker.stream.push(b"".join(deliver(1, tag, n, f"m{n}".encode()) for n in (1, 2, 3, 4)))
    method, _props, body = next(messages)
    assert (method.delivery_tag, body) == (1, b"m1")
    chan.basic_ack(method.delivery_tag)
    assert chan.get_waiting_message_count() == 3
    with pytest.raises(ValueError):
        next(chan.consume("other"))
    assert next(messages)[2] == b"m2"
    assert chan.cancel() == 2
    # The generator still holds back the writes made while it yields.
    assert list(messages) == []
    # Requeued with Basic.Reject, which AMQP 0-8 has too.
    rejected = broker.received(spec.Basic.Reject)
    assert [(m.delivery_tag, m.requeue) for _n, m in rejected] == [(3, True), (4, True)]
    assert chan.cancel() == 0


def test_broker_cancels_the_generator(broker: ScriptedBroker, conn: BlockingConnection) -> None:
    chan = conn.channel()
    notices: list[Any] = []
    chan.add_on_cancel_callback(notices.append)
    messages = chan.consume("q", auto_ack=True, inactivity_timeout=0.05)
    next(messages)
    tag = broker.received(spec.Basic.Consume)[0][1].consumer_tag
    broker.stream.push(deliver(1, tag, 1) + method_bytes(1, spec.Basic.Cancel(tag, nowait=True)))
    assert next(messages)[2] == b"m"
    assert list(messages) == []
    assert [f.method.consumer_tag for f in notices] == [tag]


def test_returns_go_to_return_callbacks(broker: ScriptedBroker, conn: BlockingConnection) -> None:
    chan = conn.channel()
    returned: list[tuple[Any, ...]] = []
    chan.add_on_return_callback(lambda *args: returned.append(args))
    broker.stream.push(content_bytes(1, spec.Basic.Return(312, "NO_ROUTE", "", "q"), b"back"))
    conn.process_data_events(time_limit=0.05)
    ((ch, method, _props, body),) = returned
    assert ch is chan and method.reply_code == 312 and body == b"back"


# ------------------------------------------------------------------ closing


def test_channel_closed_by_the_broker_raises(
    broker: ScriptedBroker, conn: BlockingConnection
) -> None:
    chan = conn.channel()
    broker.answer(
        spec.Queue.Declare,
        lambda ch, m: method_bytes(ch, spec.Channel.Close(404, "NOT_FOUND - no queue", 50, 10)),
    )
    with pytest.raises(exceptions.ChannelClosedByBroker) as closed:
        chan.queue_declare("missing", passive=True)
    assert closed.value.reply_code == 404
    assert chan.is_closed
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.queue_purge("q")
    assert conn.channel().is_open


def test_connection_closed_by_the_broker(broker: ScriptedBroker) -> None:
    conn = connect(broker)
    chan = conn.channel()
    broker.stream.push(method_bytes(0, spec.Connection.Close(320, "CONNECTION_FORCED", 0, 0)))
    with pytest.raises(exceptions.ConnectionClosedByBroker):
        conn.process_data_events(time_limit=1)
    assert conn.is_closed and chan.is_closed
    assert broker.received(spec.Connection.CloseOk)


def test_stream_lost_during_a_call(broker: ScriptedBroker) -> None:
    conn = connect(broker)
    chan = conn.channel()
    broker.cut_on(spec.Queue.Declare)
    with pytest.raises(exceptions.StreamLostError):
        chan.queue_declare("q")
    assert conn.is_closed


def test_refused_connection_raises(broker: ScriptedBroker) -> None:
    broker.refuse = 1
    with pytest.raises(exceptions.AMQPConnectionError):
        connect(broker)


def test_refused_login_raises(broker: ScriptedBroker) -> None:
    broker.answer(
        spec.Connection.StartOk,
        lambda ch, m: method_bytes(0, spec.Connection.Close(403, "ACCESS_REFUSED", 10, 11)),
    )
    with pytest.raises(exceptions.ProbableAuthenticationError):
        connect(broker)


# ------------------------------------------------------- the loop's services


def test_timers_threadsafe_callbacks_and_notices(
    broker: ScriptedBroker, conn: BlockingConnection
) -> None:
    fired: list[str] = []
    conn.call_later(0, lambda: fired.append("timer"))
    cancelled = conn.call_later(0, lambda: fired.append("cancelled"))
    conn.remove_timeout(cancelled)
    conn.remove_timeout(cancelled)  # twice: nothing
    with pytest.raises(ValueError):
        conn.call_later(-1, print)
    thread = threading.Thread(
        target=conn.add_callback_threadsafe, args=(lambda: fired.append("threadsafe"),)
    )
    thread.start()
    thread.join()
    conn.add_on_connection_blocked_callback(lambda c, f: fired.append(f.method.reason))
    conn.add_on_connection_unblocked_callback(lambda c, f: fired.append("unblocked"))
    broker.stream.push(
        method_bytes(0, spec.Connection.Blocked("disk"))
        + method_bytes(0, spec.Connection.Unblocked())
    )
    conn.sleep(0.05)
    conn.process_data_events(time_limit=0.05)
    assert sorted(fired) == ["disk", "threadsafe", "timer", "unblocked"]


def test_channel_being_opened_at_a_loss_is_interrupted(broker: ScriptedBroker) -> None:
    conn = connect(broker, recovery=RecoveryPolicy(initial_delay=0, jitter=0))
    broker.cut_on(spec.Channel.Open)
    with pytest.raises(exceptions.ConnectionInterrupted):
        conn.channel()
    # Not reopened by the recovery: the next channel gets a fresh open.
    chan = conn.channel()
    assert chan.is_open and conn.is_open
    # On the new connection: the recovery's replay channel, then the new one.
    assert len([m for _n, m in broker.stream.received if type(m) is spec.Channel.Open]) == 2
    conn.close()


def test_update_secret(broker: ScriptedBroker, conn: BlockingConnection) -> None:
    conn.update_secret("token", "refresh")
    ((_n, update),) = broker.received(spec.Connection.UpdateSecret)
    assert update.reason == "refresh"


def test_parameters_checks(broker: ScriptedBroker) -> None:
    with pytest.raises(ValueError, match="empty"):
        BlockingConnection([], _impl_class=memory_select_connection(broker))
    with pytest.raises(TypeError):
        connect(broker, recovery="yes")
    with pytest.raises(ValueError):
        connect(broker, recovery=RecoveryPolicy(), recovery_wait_timeout=-1)


# ------------------------------------------------------------------ recovery


def test_recovery_interrupts_a_waiting_call_and_restores_the_channel(
    broker: ScriptedBroker,
) -> None:
    conn = connect(broker, recovery=RecoveryPolicy(initial_delay=0, jitter=0))
    events: list[str] = []
    conn.add_on_recovery_started_callback(lambda c, e: events.append("started"))
    conn.add_on_recovery_succeeded_callback(lambda c: events.append("succeeded"))
    conn.add_on_queue_renamed_callback(lambda c, o, n: events.append("renamed"))
    conn.add_on_recovery_failed_callback(lambda c, e: events.append("failed"))
    chan = conn.channel()
    chan.queue_declare("kept")
    chan.basic_qos(prefetch_count=2)
    broker.cut_on(spec.Queue.Purge)
    with pytest.raises(exceptions.ConnectionInterrupted):
        chan.queue_purge("kept")
    # A new call waits for the recovery, then runs.
    assert chan.queue_purge("kept").method.message_count == 0
    assert conn.is_open and not conn.is_recovering and chan.is_open
    conn.process_data_events()
    assert events == ["started", "succeeded"]
    assert len(broker.streams) == 2
    replayed = [type(m) for _n, m in broker.streams[1].received]
    assert spec.Basic.Qos in replayed and spec.Queue.Declare in replayed
    assert conn.recovery is not None
    conn.close()


def test_consuming_rides_out_a_recovery(broker: ScriptedBroker) -> None:
    conn = connect(broker, recovery=RecoveryPolicy(initial_delay=0, jitter=0))
    chan = conn.channel()
    seen: list[int] = []
    stale: list[int] = []

    def on_message(ch: Any, method: Any, _props: Any, _body: bytes) -> None:
        seen.append(method.delivery_tag)
        if len(seen) == 1:
            # Acked only after the loss: the broker requeued it, the ack is dropped.
            broker.stream.lose(ConnectionResetError("cut"))
            conn.sleep(0.05)
            while conn.is_recovering:
                conn.sleep(0.01)
            stale.append(method.delivery_tag)
            assert ch.is_stale_delivery_tag(method.delivery_tag)
            broker.stream.push(deliver(1, tag, 1, b"redelivered"))
        ch.basic_ack(method.delivery_tag)
        if len(seen) == 2:
            ch.stop_consuming()

    tag = chan.basic_consume("q", on_message)
    broker.stream.push(deliver(1, tag, 1))
    chan.start_consuming()
    assert seen == [1, 2] and stale == [1]
    assert chan.stale_tags_dropped == 1
    # Only the new delivery's ack went out, under the broker's new number.
    assert [
        m.delivery_tag for _n, m in broker.streams[-1].received if type(m) is spec.Basic.Ack
    ] == [1]
    assert [m for _n, m in broker.streams[0].received if type(m) is spec.Basic.Ack] == []
    conn.close()


def test_consumer_callback_error_propagates_and_consuming_goes_on(
    broker: ScriptedBroker, conn: BlockingConnection
) -> None:
    chan = conn.channel()
    seen: list[int] = []

    def on_message(ch: Any, method: Any, _props: Any, _body: bytes) -> None:
        seen.append(method.delivery_tag)
        if method.delivery_tag == 1:
            raise RuntimeError("user bug")
        with pytest.raises(exceptions.ReentrancyError):
            ch.start_consuming()
        ch.stop_consuming()

    tag = chan.basic_consume("q", on_message)
    broker.stream.push(deliver(1, tag, 1) + deliver(1, tag, 2))
    with pytest.raises(RuntimeError, match="user bug"):
        chan.start_consuming()
    chan.start_consuming()
    assert seen == [1, 2]


def test_blocked_connection_timeout(broker: ScriptedBroker) -> None:
    conn = BlockingConnection(
        ConnectionParameters(host="memory", port=1, blocked_connection_timeout=0.05),
        _impl_class=memory_select_connection(broker),
    )
    broker.stream.push(method_bytes(0, spec.Connection.Blocked("memory")))
    with pytest.raises(exceptions.ConnectionBlockedTimeout):
        conn.sleep(WAIT_SECONDS)
    assert conn.is_closed
