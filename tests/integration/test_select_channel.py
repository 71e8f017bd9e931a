"""Every `Channel` operation of the callback API against the real broker,
through `SelectConnection`, with the arguments each callback receives."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from pika import exceptions, frame, spec
from pika.adapters.select_connection import SelectConnection
from pika.channel import Channel
from pika.connection import URLParameters
from tests.integration.select_support import (
    Recorder,
    close_connection,
    loop_of,
    open_channel,
    open_connection,
    pump,
    unique,
)
from tests.utils import broker

pytestmark = pytest.mark.broker


@pytest.fixture
def conn(broker_url: str) -> Iterator[SelectConnection]:
    connection = open_connection(URLParameters(broker_url))
    yield connection
    if not connection.is_closed:
        close_connection(connection)
    connection.ioloop.close()


@pytest.fixture
def chan(conn: SelectConnection) -> Channel:
    return open_channel(conn)


def method_of(value: Any) -> Any:
    assert isinstance(value, frame.Method), value
    return value.method


def declare_queue(chan: Channel, **arguments: Any) -> str:
    rec = Recorder()
    chan.queue_declare("", exclusive=True, callback=rec.cb("ok"), **arguments)
    pump(loop_of(chan), rec.has("ok"))
    declare_ok = method_of(rec.one("ok"))
    assert isinstance(declare_ok, spec.Queue.DeclareOk)
    return str(declare_ok.queue)


def wait_for_message_count(chan: Channel, queue: str, count: int) -> bool:
    """Passive declares until the queue holds ``count`` messages (the broker
    routes publishes asynchronously, so the count can lag a moment)."""
    counts: list[int] = []

    def on_declare_ok(method_frame: frame.Method) -> None:
        counts.append(method_frame.method.message_count)

    for attempt in range(1, 51):
        chan.queue_declare(queue, passive=True, callback=on_declare_ok)
        pump(loop_of(chan), lambda: len(counts) >= attempt)  # noqa: B023
        if counts[-1] == count:
            return True
        time.sleep(0.05)
    return False


def queue_counts(queue: str) -> tuple[int, int]:
    """(all, unacknowledged) messages of ``queue``, as rabbitmqctl reports them."""
    info = broker.queue_info(queue)
    assert info is not None, f"no queue {queue}"
    return info.messages, info.messages_unacknowledged


def publish_and_get(chan: Channel, exchange: str, routing_key: str, queue: str) -> Any:
    """Publish a marker message and fetch it back from ``queue`` (None if it did not arrive)."""
    chan.basic_publish(exchange, routing_key, b"marker")
    rec = Recorder()
    chan.add_callback(rec.cb("empty"), [spec.Basic.GetEmpty])
    chan.basic_get(queue, rec.cb("ok"), auto_ack=True)
    pump(loop_of(chan), lambda: rec.get("ok") or rec.get("empty"))
    chan.remove_callback(rec.cb("empty"))
    return rec.get("ok")[0][3] if rec.get("ok") else None


def test_channel_open_callback_and_properties(conn: SelectConnection) -> None:
    rec = Recorder()
    chan = conn.channel(on_open_callback=rec.cb("open"))
    assert chan.is_opening and not chan.is_open
    pump(conn.ioloop, rec.has("open"))
    assert rec.one("open") is chan
    assert chan.is_open and int(chan) == chan.channel_number > 0
    assert chan.consumer_tags == []


def test_exchange_declare_delete_with_callbacks(chan: Channel) -> None:
    rec = Recorder()
    name = unique("ex")
    chan.exchange_declare(name, "fanout", auto_delete=False, callback=rec.cb("declare"))
    chan.exchange_declare(name, passive=True, callback=rec.cb("passive"))
    chan.exchange_delete(name, if_unused=True, callback=rec.cb("delete"))
    pump(loop_of(chan), rec.has("delete"))
    assert isinstance(method_of(rec.one("declare")), spec.Exchange.DeclareOk)
    assert isinstance(method_of(rec.one("passive")), spec.Exchange.DeclareOk)
    delete_frame = rec.one("delete")
    assert isinstance(method_of(delete_frame), spec.Exchange.DeleteOk)
    assert delete_frame.channel_number == chan.channel_number


def test_exchange_to_exchange_bind_routes_end_to_end(chan: Channel) -> None:
    rec = Recorder()
    source, destination = unique("src"), unique("dst")
    # Not auto-delete: the source would go with its last binding.
    chan.exchange_declare(source, "direct", callback=rec.cb("d1"))
    chan.exchange_declare(destination, "fanout", callback=rec.cb("d2"))
    chan.exchange_bind(destination, source, "route", callback=rec.cb("bind"))
    pump(loop_of(chan), rec.has("bind"))
    assert isinstance(method_of(rec.one("bind")), spec.Exchange.BindOk)
    queue = declare_queue(chan)
    chan.queue_bind(queue, destination, callback=rec.cb("qbind"))
    pump(loop_of(chan), rec.has("qbind"))
    assert isinstance(method_of(rec.one("qbind")), spec.Queue.BindOk)

    assert publish_and_get(chan, source, "route", queue) == b"marker"
    assert publish_and_get(chan, source, "other", queue) is None

    chan.exchange_unbind(destination, source, "route", callback=rec.cb("unbind"))
    pump(loop_of(chan), rec.has("unbind"))
    assert isinstance(method_of(rec.one("unbind")), spec.Exchange.UnbindOk)
    assert publish_and_get(chan, source, "route", queue) is None
    chan.exchange_delete(destination, callback=rec.cb("x1"))
    chan.exchange_delete(source, callback=rec.cb("x2"))
    pump(loop_of(chan), rec.has("x2"))


def test_nowait_declarations_without_callbacks(chan: Channel) -> None:
    exchange, queue = unique("ex"), unique("q")
    chan.exchange_declare(exchange, "topic")
    chan.queue_declare(queue, auto_delete=True)
    chan.queue_bind(queue, exchange, "a.#")
    rec = Recorder()
    # The passive declare's reply comes after every nowait request before it.
    chan.queue_declare(queue, passive=True, callback=rec.cb("passive"))
    pump(loop_of(chan), rec.has("passive"))
    assert publish_and_get(chan, exchange, "a.b", queue) == b"marker"
    chan.queue_unbind(queue, exchange, "a.#", callback=rec.cb("unbind"))
    chan.queue_purge(queue)
    chan.queue_delete(queue)
    chan.exchange_delete(exchange)
    chan.exchange_declare(exchange, passive=True, callback=rec.cb("gone"))
    closed: list[Exception] = []
    chan.add_on_close_callback(lambda _chan, error: closed.append(error))
    pump(loop_of(chan), lambda: closed)
    assert isinstance(method_of(rec.one("unbind")), spec.Queue.UnbindOk)
    assert rec.get("gone") == []
    assert isinstance(closed[0], exceptions.ChannelClosedByBroker)
    assert closed[0].reply_code == 404


def test_queue_declare_bind_purge_delete_callbacks(chan: Channel) -> None:
    rec = Recorder()
    queue, exchange = unique("q"), unique("ex")
    chan.exchange_declare(exchange, "direct", auto_delete=True, callback=rec.cb("ex"))
    chan.queue_declare(queue, auto_delete=True, callback=rec.cb("declare"))
    chan.queue_bind(queue, exchange, callback=rec.cb("bind"))
    pump(loop_of(chan), rec.has("bind"))
    declare_ok = method_of(rec.one("declare"))
    assert declare_ok.queue == queue and declare_ok.message_count == 0
    for _ in range(3):
        chan.basic_publish(exchange, queue, "text body")  # routing key defaults to the name
    assert wait_for_message_count(chan, queue, 3)
    chan.queue_purge(queue, callback=rec.cb("purge"))
    chan.queue_unbind(queue, exchange, callback=rec.cb("unbind"))
    chan.queue_delete(queue, if_unused=True, if_empty=True, callback=rec.cb("delete"))
    pump(loop_of(chan), rec.has("delete"))
    assert method_of(rec.one("purge")).message_count == 3
    assert isinstance(method_of(rec.one("unbind")), spec.Queue.UnbindOk)
    assert method_of(rec.one("delete")).message_count == 0
    assert broker.queue_info(queue) is None


def test_server_named_queue_always_waits_for_its_name(chan: Channel) -> None:
    rec = Recorder()
    chan.queue_declare("", exclusive=True, callback=rec.cb("ok"))
    pump(loop_of(chan), rec.has("ok"))
    assert str(method_of(rec.one("ok")).queue).startswith("amq.gen-")


def test_basic_get_ok_and_get_empty(chan: Channel) -> None:
    queue = declare_queue(chan)
    props = spec.BasicProperties(content_type="text/plain", headers={"k": "v"}, priority=3)
    chan.basic_publish("", queue, b"\x00binary\xff", properties=props)
    chan.basic_publish("", queue, "unicode \u00e9")
    rec = Recorder()
    chan.add_callback(rec.cb("empty"), [spec.Basic.GetEmpty], one_shot=False)
    for _ in range(3):
        chan.basic_get(queue, rec.cb("ok"))
    pump(loop_of(chan), lambda: len(rec.get("ok")) == 2 and rec.get("empty"))
    (ch1, method1, props1, body1), (_ch2, method2, _props2, body2) = rec.get("ok")
    assert ch1 is chan
    assert isinstance(method1, spec.Basic.GetOk)
    assert body1 == b"\x00binary\xff" and body2 == "unicode \u00e9".encode()
    assert props1.content_type == "text/plain" and props1.headers == {"k": "v"}
    assert props1.priority == 3
    assert method1.message_count == 1 and method2.message_count == 0
    assert isinstance(method_of(rec.one("empty")), spec.Basic.GetEmpty)
    chan.basic_ack(method2.delivery_tag, multiple=True)
    chan.basic_get(queue, rec.cb("ok"))
    pump(loop_of(chan), rec.has("empty", 2))


def test_consume_ack_and_cancel(chan: Channel) -> None:
    queue = declare_queue(chan)
    rec = Recorder()

    def on_message(ch: Channel, method: Any, properties: Any, body: bytes) -> None:
        rec.cb("message")(ch, method, properties, body)
        ch.basic_ack(method.delivery_tag)

    tag = chan.basic_consume(queue, on_message, consumer_tag="my-tag", callback=rec.cb("consume"))
    assert tag == "my-tag" and chan.consumer_tags == ["my-tag"]
    pump(loop_of(chan), rec.has("consume"))
    assert method_of(rec.one("consume")).consumer_tag == "my-tag"
    for number in range(5):
        chan.basic_publish("", queue, f"m{number}")
    pump(loop_of(chan), rec.has("message", 5))
    bodies = [call[3] for call in rec.get("message")]
    assert bodies == [b"m0", b"m1", b"m2", b"m3", b"m4"]
    ch, deliver, _props, _body = rec.get("message")[0]
    assert ch is chan and isinstance(deliver, spec.Basic.Deliver)
    assert deliver.consumer_tag == "my-tag" and deliver.routing_key == queue
    chan.basic_cancel(tag, callback=rec.cb("cancel"))
    pump(loop_of(chan), rec.has("cancel"))
    assert method_of(rec.one("cancel")).consumer_tag == "my-tag"
    assert chan.consumer_tags == []
    pump(loop_of(chan), lambda: queue_counts(queue)[1] == 0)


def test_cancel_without_callback_is_nowait(chan: Channel) -> None:
    queue = declare_queue(chan)
    rec = Recorder()
    tag = chan.basic_consume(queue, rec.cb("message"), auto_ack=True, callback=rec.cb("ok"))
    pump(loop_of(chan), rec.has("ok"))
    chan.basic_cancel(tag)
    assert chan.consumer_tags == []
    chan.basic_publish("", queue, b"after cancel")
    # The broker got the nowait cancel before the publish: the message stays queued.
    assert wait_for_message_count(chan, queue, 1)
    assert rec.get("message") == []
    # Cancelling an unknown tag answers at once with Basic.CancelOk.
    chan.basic_cancel("no-such-tag", callback=rec.cb("unknown"))
    assert rec.one("unknown").method.consumer_tag == "no-such-tag"


def test_duplicate_consumer_tag_is_refused(chan: Channel) -> None:
    queue = declare_queue(chan)
    chan.basic_consume(queue, lambda *_: None, consumer_tag="dup")
    with pytest.raises(exceptions.DuplicateConsumerTag):
        chan.basic_consume(queue, lambda *_: None, consumer_tag="dup")


def test_nack_reject_and_recover_redeliver(chan: Channel) -> None:
    queue = declare_queue(chan)
    rec = Recorder()
    chan.basic_qos(prefetch_count=10, callback=rec.cb("qos"))
    for body in (b"nack-me", b"reject-me", b"recover-me", b"drop-me"):
        chan.basic_publish("", queue, body)
    chan.basic_consume(queue, rec.cb("message"))
    pump(loop_of(chan), rec.has("message", 4))
    assert isinstance(method_of(rec.one("qos")), spec.Basic.QosOk)
    first = {call[3]: call[1] for call in rec.get("message")}
    assert not any(method.redelivered for method in first.values())
    chan.basic_nack(first[b"nack-me"].delivery_tag, requeue=True)
    chan.basic_reject(first[b"reject-me"].delivery_tag, requeue=True)
    chan.basic_reject(first[b"drop-me"].delivery_tag, requeue=False)
    chan.basic_recover(requeue=True, callback=rec.cb("recover"))
    pump(loop_of(chan), lambda: rec.get("recover") and len(rec.get("message")) >= 7)
    assert isinstance(method_of(rec.one("recover")), spec.Basic.RecoverOk)
    again = {call[3]: call[1] for call in rec.get("message")[4:]}
    assert set(again) == {b"nack-me", b"reject-me", b"recover-me"}
    assert all(method.redelivered for method in again.values())
    chan.basic_ack(0, multiple=True)
    pump(loop_of(chan), lambda: queue_counts(queue)[0] == 0)


def test_per_consumer_and_global_qos(chan: Channel) -> None:
    queue = declare_queue(chan)
    rec = Recorder()
    for number in range(6):
        chan.basic_publish("", queue, str(number))
    chan.basic_qos(prefetch_count=4, global_qos=True, callback=rec.cb("global"))
    chan.basic_qos(prefetch_count=2, callback=rec.cb("per-consumer"))
    chan.basic_consume(queue, rec.cb("a"))
    chan.basic_consume(queue, rec.cb("b"))
    pump(loop_of(chan), lambda: len(rec.get("a")) + len(rec.get("b")) >= 4)
    # Give the broker time to send more, if the limits let it.
    deadline_rec = Recorder()
    loop_of(chan).call_later(0.5, deadline_rec.cb("tick"))
    pump(loop_of(chan), deadline_rec.has("tick"))
    assert len(rec.get("a")) == 2 and len(rec.get("b")) == 2
    assert isinstance(method_of(rec.one("global")), spec.Basic.QosOk)
    assert isinstance(method_of(rec.one("per-consumer")), spec.Basic.QosOk)


def test_publisher_confirms_ack_nack_callback(chan: Channel) -> None:
    assert chan.connection.publisher_confirms
    queue = declare_queue(chan, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    rec = Recorder()
    chan.confirm_delivery(rec.cb("confirm"), callback=rec.cb("select"))
    pump(loop_of(chan), rec.has("select"))
    assert isinstance(method_of(rec.one("select")), spec.Confirm.SelectOk)
    assert chan.next_publish_seq_no == 1
    chan.basic_publish("", queue, b"fits")
    chan.basic_publish("", queue, b"overflows")
    assert chan.next_publish_seq_no == 3
    pump(loop_of(chan), rec.has("confirm", 2))
    confirms = [method_of(value) for value in rec.get("confirm")]
    assert isinstance(confirms[0], spec.Basic.Ack) and confirms[0].delivery_tag == 1
    assert isinstance(confirms[1], spec.Basic.Nack) and confirms[1].delivery_tag == 2


def test_confirm_delivery_nowait(chan: Channel) -> None:
    queue = declare_queue(chan)
    rec = Recorder()
    chan.confirm_delivery(rec.cb("confirm"))
    chan.basic_publish("", queue, b"x")
    pump(loop_of(chan), rec.has("confirm"))
    assert isinstance(method_of(rec.one("confirm")), spec.Basic.Ack)


def test_mandatory_publish_returned_to_on_return(chan: Channel) -> None:
    rec = Recorder()
    chan.add_on_return_callback(rec.cb("return"))
    props = spec.BasicProperties(message_id="m-1")
    chan.basic_publish("", unique("nowhere"), b"lost", properties=props, mandatory=True)
    pump(loop_of(chan), rec.has("return"))
    ch, method, properties, body = rec.one("return")
    assert ch is chan and isinstance(method, spec.Basic.Return)
    assert method.reply_code == 312 and method.reply_text == "NO_ROUTE"
    assert properties.message_id == "m-1" and body == b"lost"
    assert chan.remove_on_return_callback(rec.cb("return")) is False


def test_transactions_commit_and_rollback(chan: Channel) -> None:
    queue = declare_queue(chan)
    rec = Recorder()
    chan.tx_select(callback=rec.cb("select"))
    chan.basic_publish("", queue, b"rolled back")
    chan.tx_rollback(callback=rec.cb("rollback"))
    chan.basic_publish("", queue, b"committed")
    chan.tx_commit(callback=rec.cb("commit"))
    pump(loop_of(chan), rec.has("commit"))
    assert isinstance(method_of(rec.one("select")), spec.Tx.SelectOk)
    assert isinstance(method_of(rec.one("rollback")), spec.Tx.RollbackOk)
    assert isinstance(method_of(rec.one("commit")), spec.Tx.CommitOk)
    assert publish_and_get(chan, "", unique("none"), queue) == b"committed"


def test_flow_request_callback_gets_active_flag(chan: Channel) -> None:
    rec = Recorder()
    chan.flow(True, callback=rec.cb("flow"))
    pump(loop_of(chan), rec.has("flow"))
    assert rec.one("flow") is True


def test_broker_cancels_consumer_when_queue_deleted(conn: SelectConnection) -> None:
    assert conn.consumer_cancel_notify
    consumer_chan = open_channel(conn)
    other = open_channel(conn)
    queue = unique("q")
    rec = Recorder()
    consumer_chan.queue_declare(queue, callback=rec.cb("declare"))
    pump(conn.ioloop, rec.has("declare"))
    consumer_chan.add_on_cancel_callback(rec.cb("cancelled"))
    tag = consumer_chan.basic_consume(queue, rec.cb("message"), callback=rec.cb("consume"))
    pump(conn.ioloop, rec.has("consume"))
    other.queue_delete(queue, callback=rec.cb("deleted"))
    pump(conn.ioloop, rec.has("cancelled"))
    cancel = method_of(rec.one("cancelled"))
    assert isinstance(cancel, spec.Basic.Cancel) and cancel.consumer_tag == tag
    assert consumer_chan.consumer_tags == []
    assert consumer_chan.is_open


def test_conflicting_declare_closes_channel_with_406(conn: SelectConnection) -> None:
    chan = open_channel(conn)
    queue = unique("q")
    rec = Recorder()
    chan.add_on_close_callback(rec.cb("closed"))
    chan.queue_declare(queue, auto_delete=True, callback=rec.cb("first"))
    chan.queue_declare(queue, durable=True, callback=rec.cb("second"))
    pump(conn.ioloop, rec.has("closed"))
    closed_chan, error = rec.one("closed")
    assert closed_chan is chan and chan.is_closed
    assert isinstance(error, exceptions.ChannelClosedByBroker)
    assert error.reply_code == 406 and "PRECONDITION_FAILED" in error.reply_text
    assert rec.get("second") == []
    assert conn.is_open
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.basic_publish("", queue, b"x")
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.queue_declare(queue)
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.close()
    # The connection carries on: a new channel works.
    assert declare_queue(open_channel(conn))


def test_publish_to_missing_exchange_closes_channel_with_404(chan: Channel) -> None:
    rec = Recorder()
    chan.add_on_close_callback(rec.cb("closed"))
    chan.basic_publish(unique("missing"), "rk", b"x")
    pump(loop_of(chan), rec.has("closed"))
    _chan, error = rec.one("closed")
    assert isinstance(error, exceptions.ChannelClosedByBroker)
    assert error.reply_code == 404 and "NOT_FOUND" in error.reply_text


def test_client_close_reports_closed_by_client(chan: Channel) -> None:
    rec = Recorder()
    chan.add_on_close_callback(rec.cb("closed"))
    chan.close(reply_code=200, reply_text="done here")
    assert chan.is_closing
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.close()
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.basic_qos(prefetch_count=1)
    pump(loop_of(chan), rec.has("closed"))
    _chan, error = rec.one("closed")
    assert isinstance(error, exceptions.ChannelClosedByClient)
    assert (error.reply_code, error.reply_text) == (200, "done here")
    assert chan.is_closed


def test_close_while_opening_closes_after_open(conn: SelectConnection) -> None:
    rec = Recorder()
    chan = conn.channel(on_open_callback=rec.cb("open"))
    chan.add_on_close_callback(rec.cb("closed"))
    chan.close()
    pump(conn.ioloop, rec.has("closed"))
    assert rec.get("open") == []
    assert isinstance(rec.one("closed")[1], exceptions.ChannelClosedByClient)


def test_calls_on_an_opening_channel_raise_wrong_state(conn: SelectConnection) -> None:
    chan = conn.channel()
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.basic_publish("", "q", b"x")
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.exchange_declare(unique("ex"))
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.basic_consume("q", lambda *_: None)
    pump(conn.ioloop, lambda: chan.is_open)


def test_connection_close_closes_channels(conn: SelectConnection) -> None:
    chan = open_channel(conn)
    rec = Recorder()
    chan.add_on_close_callback(rec.cb("closed"))
    close_connection(conn)
    _chan, error = rec.one("closed")
    assert isinstance(error, exceptions.ChannelClosed)
    assert chan.is_closed


def test_large_message_split_and_reassembled(chan: Channel) -> None:
    queue = declare_queue(chan)
    body = bytes(range(256)) * 4096  # 1 MiB, many frames
    chan.basic_publish("", queue, body)
    rec = Recorder()
    chan.basic_get(queue, rec.cb("ok"), auto_ack=True)
    pump(loop_of(chan), rec.has("ok"))
    assert rec.one("ok")[3] == body


def test_invalid_arguments_raise_type_errors(chan: Channel) -> None:
    with pytest.raises(TypeError):
        chan.basic_publish("", "q", 12345)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        chan.queue_declare(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        chan.basic_consume("q", "not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        chan.exchange_declare("ex", callback="nope")  # type: ignore[arg-type]
    assert chan.is_open
