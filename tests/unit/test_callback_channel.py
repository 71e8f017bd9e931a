"""The callback `Channel` over an in-memory stream: what it sends for each
call and what it makes of the broker's frames (no broker, no socket)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from pika import exceptions, frame, spec
from tests.utils.frames import content_bytes
from tests.utils.memory_transport import ConnectionPair, open_pair


@pytest.fixture
def pair() -> ConnectionPair:
    return open_pair()


@pytest.fixture
def chan(pair: ConnectionPair) -> Any:
    return pair.open_channel()


def methods_of(frames: list[Any]) -> list[Any]:
    return [f.method for f in frames]


# ------------------------------------------------------------- reply matching


def test_consume_ok_after_a_later_declare_ok_reaches_the_right_callbacks(
    pair: ConnectionPair, chan: Any
) -> None:
    consumed: list[Any] = []
    declared: list[Any] = []
    chan.basic_consume("q", lambda *a: None, consumer_tag="c1", callback=consumed.append)
    chan.queue_declare("other", callback=declared.append)
    pair.expect(spec.Basic.Consume, spec.Queue.Declare)
    # RabbitMQ answers the queue's Consume after the channel's own Declare.
    pair.send(1, spec.Queue.DeclareOk("other", 3, 0))
    assert consumed == []
    assert [m.queue for m in methods_of(declared)] == ["other"]
    pair.send(1, spec.Basic.ConsumeOk("c1"))
    assert [m.consumer_tag for m in methods_of(consumed)] == ["c1"]


def test_consume_oks_match_their_consumer_tags(pair: ConnectionPair, chan: Any) -> None:
    got: dict[str, list[Any]] = {"a": [], "b": []}
    for tag in ("a", "b"):
        chan.basic_consume("q", lambda *a: None, consumer_tag=tag, callback=got[tag].append)
    pair.expect(spec.Basic.Consume, spec.Basic.Consume)
    pair.send(1, spec.Basic.ConsumeOk("b"))
    assert got["a"] == [] and len(got["b"]) == 1
    pair.send(1, spec.Basic.ConsumeOk("a"))
    assert methods_of(got["a"])[0].consumer_tag == "a"
    assert chan.consumer_tags == ["a", "b"]


def test_same_class_replies_go_to_the_oldest_request(pair: ConnectionPair, chan: Any) -> None:
    order: list[str] = []
    chan.queue_declare("one", callback=lambda f: order.append(f.method.queue))
    chan.queue_declare("two", callback=lambda f: order.append(f.method.queue))
    pair.send(1, spec.Queue.DeclareOk("one", 0, 0), spec.Queue.DeclareOk("two", 0, 0))
    assert order == ["one", "two"]


def test_reply_nobody_expects_is_logged_and_ignored(
    pair: ConnectionPair, chan: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="pika.channel"):
        pair.send(1, spec.Queue.PurgeOk(4))
    assert "Queue.PurgeOk arrived but no request expects it" in caplog.text
    assert chan.is_open


def test_registered_callbacks_one_shot_and_removal(pair: ConnectionPair, chan: Any) -> None:
    once: list[Any] = []
    always: list[Any] = []
    chan.add_callback(once.append, [spec.Basic.Qos, spec.Basic.QosOk])
    chan.add_callback(always.append, [spec.Basic.QosOk], one_shot=False)
    removed: list[Any] = []
    chan.add_callback(removed.append, [spec.Basic.QosOk])
    assert chan.remove_callback(removed.append) is True
    assert chan.remove_callback(removed.append, [spec.Basic.QosOk]) is False
    chan.basic_qos(prefetch_count=5)
    chan.basic_qos(prefetch_count=6)
    (qos, qos2) = pair.expect(spec.Basic.Qos, spec.Basic.Qos)
    assert (qos.prefetch_count, qos2.prefetch_count) == (5, 6)
    pair.send(1, spec.Basic.QosOk(), spec.Basic.QosOk())
    assert len(once) == 1 and len(always) == 2 and removed == []
    with pytest.raises(TypeError):
        chan.add_callback("nope", [spec.Basic.QosOk])


# ---------------------------------------------------------- opening, closing


def test_closing_a_channel_while_it_opens(pair: ConnectionPair) -> None:
    opened: list[Any] = []
    closed: list[tuple[Any, Exception]] = []
    chan = pair.conn.channel(on_open_callback=opened.append)
    chan.add_on_close_callback(lambda c, reason: closed.append((c, reason)))
    assert chan.is_opening
    pair.expect(spec.Channel.Open)
    chan.close(201, "changed my mind")
    assert chan.is_closing
    # Nothing more goes out until the broker answered the open.
    pair.expect()
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.close()
    pair.send(1, spec.Channel.OpenOk())
    (close,) = pair.expect(spec.Channel.Close)
    assert (close.reply_code, close.reply_text) == (201, "changed my mind")
    assert opened == [] and closed == []
    pair.send(1, spec.Channel.CloseOk())
    assert chan.is_closed and opened == []
    ((closed_chan, reason),) = closed
    assert closed_chan is chan
    assert isinstance(reason, exceptions.ChannelClosedByClient)
    assert (reason.reply_code, reason.reply_text) == (201, "changed my mind")


def test_client_close_and_its_handshake(pair: ConnectionPair, chan: Any) -> None:
    reasons: list[Exception] = []
    chan.add_on_close_callback(lambda _c, reason: reasons.append(reason))
    chan.queue_declare("q", callback=lambda f: reasons.append(AssertionError("answered")))
    chan.close()
    pair.expect(spec.Queue.Declare, spec.Channel.Close)
    assert chan.is_closing and not chan.is_open
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.basic_publish("", "rk", b"x")
    pair.send(1, spec.Channel.CloseOk())
    assert chan.is_closed
    assert [type(r) for r in reasons] == [exceptions.ChannelClosedByClient]
    with pytest.raises(exceptions.ChannelWrongStateError, match="closed"):
        chan.close()


def test_broker_closes_the_channel(pair: ConnectionPair, chan: Any) -> None:
    reasons: list[Exception] = []
    answered: list[Any] = []
    chan.add_on_close_callback(lambda _c, reason: reasons.append(reason))
    chan.queue_declare("q", passive=True, callback=answered.append)
    pair.expect(spec.Queue.Declare)
    pair.send(1, spec.Channel.Close(404, "NOT_FOUND - no queue 'q'", 50, 10))
    pair.expect(spec.Channel.CloseOk)
    assert chan.is_closed and answered == []
    (reason,) = reasons
    assert isinstance(reason, exceptions.ChannelClosedByBroker)
    assert (reason.reply_code, reason.reply_text) == (404, "NOT_FOUND - no queue 'q'")
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.queue_declare("q")
    # The number is free again.
    again = pair.open_channel()
    assert again.channel_number == 1 and again is not chan


def test_removed_callbacks_are_not_called(pair: ConnectionPair, chan: Any) -> None:
    kept: list[Any] = []
    dropped: list[Any] = []

    def drop(*args: Any) -> None:
        dropped.append(args)

    chan.add_on_close_callback(lambda *args: kept.append(args))
    chan.add_on_close_callback(drop)
    chan.add_on_message_too_large_callback(drop)
    assert chan.remove_on_close_callback(drop) is True
    assert chan.remove_on_close_callback(drop) is False
    assert chan.remove_on_message_too_large_callback(drop) is True
    with pytest.raises(TypeError, match="callback must be callable"):
        chan.add_on_close_callback("not callable")
    pair.send(1, spec.Channel.Close(406, "PRECONDITION_FAILED", 0, 0))
    pair.expect(spec.Channel.CloseOk)
    assert len(kept) == 1 and dropped == []


def test_connection_close_closes_channels_with_client_reason(
    pair: ConnectionPair, chan: Any
) -> None:
    reasons: list[Exception] = []
    chan.add_on_close_callback(lambda _c, reason: reasons.append(reason))
    pair.conn.close(200, "bye")
    pair.expect(spec.Connection.Close)
    pair.send(0, spec.Connection.CloseOk())
    (reason,) = reasons
    assert isinstance(reason, exceptions.ChannelClosedByClient)
    assert (reason.reply_code, reason.reply_text) == (200, "bye")
    assert chan.is_closed


def test_channel_state_and_repr(pair: ConnectionPair, chan: Any) -> None:
    assert int(chan) == 1
    assert "number=1 OPEN" in repr(chan)
    with pytest.raises(exceptions.InvalidChannelNumber):
        type(chan)(pair.conn, "1", None)


# ------------------------------------------------------------------ confirms


def test_confirm_translation_acks_nacks_and_multiple(pair: ConnectionPair, chan: Any) -> None:
    confirms: list[Any] = []
    selected: list[Any] = []
    chan.confirm_delivery(confirms.append, callback=selected.append)
    (select,) = pair.expect(spec.Confirm.Select)
    assert select.nowait is False
    pair.send(1, spec.Confirm.SelectOk())
    assert len(selected) == 1
    assert chan.next_publish_seq_no == 1
    for n in range(4):
        chan.basic_publish("ex", "rk", f"m{n}")
    assert chan.next_publish_seq_no == 5
    frames = pair.sent()
    assert [type(f) for f in frames] == [frame.Method, frame.Header, frame.Body] * 4
    assert frames[2].fragment == b"m0"
    pair.send(1, spec.Basic.Ack(2, multiple=True), spec.Basic.Nack(3, requeue=False))
    pair.send(1, spec.Basic.Ack(4))
    assert [(type(f.method), f.method.delivery_tag, f.method.multiple) for f in confirms] == [
        (spec.Basic.Ack, 2, True),
        (spec.Basic.Nack, 3, False),
        (spec.Basic.Ack, 4, False),
    ]
    assert all(f.channel_number == 1 for f in confirms)


def test_confirm_delivery_nowait_and_checks(pair: ConnectionPair, chan: Any) -> None:
    with pytest.raises(TypeError):
        chan.confirm_delivery(None)
    chan.confirm_delivery(lambda f: None)
    (select,) = pair.expect(spec.Confirm.Select)
    assert select.nowait is True


def test_confirm_delivery_needs_the_capability() -> None:
    pair = ConnectionPair()
    pair.handshake(capabilities={})
    chan = pair.open_channel()
    assert not pair.conn.publisher_confirms
    with pytest.raises(exceptions.MethodNotImplemented):
        chan.confirm_delivery(lambda f: None)


# ------------------------------------------------------- flow, returns, cancel


def test_flow_from_the_broker_pauses_publishing(pair: ConnectionPair, chan: Any) -> None:
    flows: list[bool] = []
    chan.add_on_flow_callback(flows.append)
    pair.send(1, spec.Channel.Flow(False))
    (flow_ok,) = pair.expect(spec.Channel.FlowOk)
    assert flow_ok.active is False
    assert flows == [False] and chan.flow_active is False
    with pytest.raises(exceptions.ChannelWrongStateError, match=r"Channel\.Flow"):
        chan.basic_publish("", "rk", b"x")
    pair.send(1, spec.Channel.Flow(True))
    pair.expect(spec.Channel.FlowOk)
    chan.basic_publish("", "rk", b"x")
    assert flows == [False, True]
    assert chan.remove_on_flow_callback(flows.append) is True


def test_client_flow_request(pair: ConnectionPair, chan: Any) -> None:
    answers: list[bool] = []
    chan.flow(False, answers.append)
    (flow,) = pair.expect(spec.Channel.Flow)
    assert flow.active is False
    pair.send(1, spec.Channel.FlowOk(False))
    assert answers == [False]
    with pytest.raises(TypeError):
        chan.flow(True, "no")


def test_returned_messages_reach_return_callbacks(
    pair: ConnectionPair, chan: Any, caplog: pytest.LogCaptureFixture
) -> None:
    returned = spec.Basic.Return(312, "NO_ROUTE", "ex", "rk")
    with caplog.at_level(logging.WARNING, logger="pika.channel"):
        pair.send_content(1, returned, b"lost")
    assert "no on_return callback" in caplog.text
    got: list[tuple[Any, ...]] = []

    def on_return(*args: Any) -> None:
        got.append(args)

    chan.add_on_return_callback(on_return)
    pair.send_content(1, returned, b"lost", content_type="text/plain")
    ((ch, method, props, body),) = got
    assert ch is chan and body == b"lost"
    assert (method.reply_code, method.routing_key) == (312, "rk")
    assert props.content_type == "text/plain"
    assert chan.remove_on_return_callback(on_return) is True


def test_deliveries_reach_their_consumer(pair: ConnectionPair, chan: Any) -> None:
    got: list[tuple[Any, ...]] = []
    tag = chan.basic_consume("q", lambda *args: got.append(args))
    assert tag.startswith("ctag1.")
    pair.expect(spec.Basic.Consume)
    pair.send(1, spec.Basic.ConsumeOk(tag))
    pair.deliver(1, tag, 7, b"hello", headers={"h": 1})
    ((ch, method, props, body),) = got
    assert ch is chan and body == b"hello" and method.delivery_tag == 7
    assert props.headers == {"h": 1}


def test_delivery_for_an_unknown_consumer_is_requeued(pair: ConnectionPair, chan: Any) -> None:
    pair.deliver(1, "nobody", 3)
    (reject,) = pair.expect(spec.Basic.Reject)
    assert (reject.delivery_tag, reject.requeue) == (3, True)


def test_cancel_with_callback_and_late_deliveries(pair: ConnectionPair, chan: Any) -> None:
    got: list[Any] = []
    chan.basic_consume("q", lambda *a: got.append(a), auto_ack=True, consumer_tag="auto")
    chan.basic_consume("q", lambda *a: got.append(a), consumer_tag="manual")
    pair.expect(spec.Basic.Consume, spec.Basic.Consume)
    pair.send(1, spec.Basic.ConsumeOk("auto"), spec.Basic.ConsumeOk("manual"))
    cancelled: list[Any] = []
    chan.basic_cancel("auto", callback=cancelled.append)
    chan.basic_cancel("manual")  # nowait
    (cancel_auto, cancel_manual) = pair.expect(spec.Basic.Cancel, spec.Basic.Cancel)
    assert (cancel_auto.nowait, cancel_manual.nowait) == (False, True)
    # In flight before the cancel: an auto-ack one is dropped, a manual one requeued.
    pair.deliver(1, "auto", 1)
    pair.deliver(1, "manual", 2)
    (reject,) = pair.expect(spec.Basic.Reject)
    assert reject.delivery_tag == 2 and got == []
    pair.send(1, spec.Basic.CancelOk("auto"))
    assert [f.method.consumer_tag for f in cancelled] == ["auto"]
    assert chan.consumer_tags == []
    # Cancelling an unknown consumer answers at once.
    chan.basic_cancel("ghost", callback=cancelled.append)
    assert cancelled[-1].method.consumer_tag == "ghost"
    pair.expect()


def test_second_cancel_while_the_first_is_in_flight_gets_its_own_reply(
    pair: ConnectionPair, chan: Any
) -> None:
    chan.basic_consume("q", lambda *a: None, consumer_tag="c")
    pair.send(1, spec.Basic.ConsumeOk("c"))
    pair.sent()
    answers: list[str] = []
    chan.basic_cancel("c", callback=lambda f: answers.append("first"))
    chan.basic_cancel("c", callback=lambda f: answers.append("second"))
    chan.basic_cancel("c")  # without a callback: nothing more to send
    first, second = pair.expect(spec.Basic.Cancel, spec.Basic.Cancel)
    assert first.consumer_tag == second.consumer_tag == "c"
    assert not first.nowait and not second.nowait
    # RabbitMQ answers every Basic.Cancel, known consumer or not.
    pair.send(1, spec.Basic.CancelOk("c"))
    assert answers == ["first"]
    pair.send(1, spec.Basic.CancelOk("c"))
    assert answers == ["first", "second"]


def test_broker_cancels_a_consumer(pair: ConnectionPair, chan: Any) -> None:
    chan.basic_consume("q", lambda *a: None, consumer_tag="c")
    pair.send(1, spec.Basic.ConsumeOk("c"))
    pair.sent()
    notices: list[Any] = []
    chan.add_on_cancel_callback(notices.append)
    pair.send(1, spec.Basic.Cancel("c"))
    (cancel_ok,) = pair.expect(spec.Basic.CancelOk)
    assert cancel_ok.consumer_tag == "c"
    assert [f.method.consumer_tag for f in notices] == ["c"]
    assert chan.consumer_tags == []
    assert chan.remove_on_cancel_callback(notices.append) is True
    assert chan.remove_on_cancel_callback(notices.append) is False


def test_consume_checks(pair: ConnectionPair, chan: Any) -> None:
    chan.basic_consume("q", lambda *a: None, consumer_tag="dup")
    with pytest.raises(exceptions.DuplicateConsumerTag):
        chan.basic_consume("q", lambda *a: None, consumer_tag="dup")
    with pytest.raises(TypeError):
        chan.basic_consume("q", None)
    with pytest.raises(TypeError):
        chan.basic_consume(5, lambda *a: None)
    with pytest.raises(TypeError):
        chan.basic_consume("q", lambda *a: None, callback=3)


# ---------------------------------------------------------------- basic_get


def test_basic_get_ok_and_empty(pair: ConnectionPair, chan: Any) -> None:
    got: list[tuple[Any, ...]] = []
    empties: list[Any] = []
    chan.add_callback(empties.append, [spec.Basic.GetEmpty], one_shot=False)
    chan.basic_get("q", lambda *args: got.append(args))
    chan.basic_get("q", lambda *args: got.append(args), auto_ack=True)
    (first, second) = pair.expect(spec.Basic.Get, spec.Basic.Get)
    assert (first.no_ack, second.no_ack) == (False, True)
    pair.send_content(1, spec.Basic.GetOk(9, False, "", "q", 0), b"msg")
    pair.send(1, spec.Basic.GetEmpty())
    ((ch, method, _props, body),) = got
    assert ch is chan and method.delivery_tag == 9 and body == b"msg"
    assert len(empties) == 1
    with pytest.raises(TypeError):
        chan.basic_get("q", None)


# --------------------------------------------------------- acks and sending


def test_acks_nacks_rejects_go_out_as_methods(pair: ConnectionPair, chan: Any) -> None:
    chan.basic_ack(5, multiple=True)
    chan.basic_nack(6, requeue=False)
    chan.basic_reject(7, requeue=False)
    ack, nack, reject = pair.expect(spec.Basic.Ack, spec.Basic.Nack, spec.Basic.Reject)
    assert (ack.delivery_tag, ack.multiple) == (5, True)
    assert (nack.delivery_tag, nack.multiple, nack.requeue) == (6, False, False)
    assert (reject.delivery_tag, reject.requeue) == (7, False)
    with pytest.raises(TypeError):
        chan.basic_reject("7")


def test_publish_checks_and_encoding(pair: ConnectionPair, chan: Any) -> None:
    with pytest.raises(TypeError, match="body"):
        chan.basic_publish("", "rk", 12)
    with pytest.raises(TypeError, match="properties"):
        chan.basic_publish("", "rk", b"x", properties={"a": 1})
    chan.basic_publish("ex", "rk", "é", spec.BasicProperties(delivery_mode=2), mandatory=True)
    method, header, body = pair.sent()
    assert isinstance(method.method, spec.Basic.Publish)
    assert (method.method.exchange, method.method.mandatory) == ("ex", True)
    assert header.properties.delivery_mode == 2
    assert body.fragment == "é".encode()


@pytest.mark.parametrize(
    ("call", "request_class", "reply", "fields"),
    [
        (
            lambda c, cb: c.basic_qos(10, 20, True, callback=cb),
            spec.Basic.Qos,
            spec.Basic.QosOk(),
            {"prefetch_size": 10, "prefetch_count": 20, "global_qos": True},
        ),
        (
            lambda c, cb: c.basic_recover(True, cb),
            spec.Basic.Recover,
            spec.Basic.RecoverOk(),
            {"requeue": True},
        ),
        (
            lambda c, cb: c.exchange_declare("x", "topic", durable=True, callback=cb),
            spec.Exchange.Declare,
            spec.Exchange.DeclareOk(),
            {"type": "topic", "durable": True},
        ),
        (
            lambda c, cb: c.exchange_delete("x", True, cb),
            spec.Exchange.Delete,
            spec.Exchange.DeleteOk(),
            {"exchange": "x", "if_unused": True},
        ),
        (
            lambda c, cb: c.exchange_bind("d", "s", "k", {"a": 1}, cb),
            spec.Exchange.Bind,
            spec.Exchange.BindOk(),
            {"destination": "d", "source": "s", "arguments": {"a": 1}},
        ),
        (
            lambda c, cb: c.exchange_unbind("d", "s", "k", callback=cb),
            spec.Exchange.Unbind,
            spec.Exchange.UnbindOk(),
            {"routing_key": "k"},
        ),
        (
            lambda c, cb: c.queue_bind("q", "x", callback=cb),
            spec.Queue.Bind,
            spec.Queue.BindOk(),
            {"routing_key": "q"},
        ),
        (
            lambda c, cb: c.queue_unbind("q", "x", "k", callback=cb),
            spec.Queue.Unbind,
            spec.Queue.UnbindOk(),
            {"routing_key": "k", "exchange": "x"},
        ),
        (
            lambda c, cb: c.queue_purge("q", cb),
            spec.Queue.Purge,
            spec.Queue.PurgeOk(3),
            {"queue": "q"},
        ),
        (
            lambda c, cb: c.queue_delete("q", True, True, cb),
            spec.Queue.Delete,
            spec.Queue.DeleteOk(0),
            {"if_unused": True, "if_empty": True},
        ),
        (lambda c, cb: c.tx_select(cb), spec.Tx.Select, spec.Tx.SelectOk(), {}),
        (lambda c, cb: c.tx_commit(cb), spec.Tx.Commit, spec.Tx.CommitOk(), {}),
        (lambda c, cb: c.tx_rollback(cb), spec.Tx.Rollback, spec.Tx.RollbackOk(), {}),
    ],
)
def test_each_request_and_its_reply(
    pair: ConnectionPair,
    chan: Any,
    call: Any,
    request_class: type,
    reply: Any,
    fields: dict[str, Any],
) -> None:
    replies: list[Any] = []
    call(chan, replies.append)
    (request,) = pair.expect(request_class)
    for name, value in fields.items():
        assert getattr(request, name) == value, name
    if hasattr(request, "nowait"):
        assert request.nowait is False
    pair.send(1, reply)
    (answer,) = replies
    assert type(answer.method) is type(reply) and answer.channel_number == 1


def test_requests_without_callback_are_nowait(pair: ConnectionPair, chan: Any) -> None:
    chan.exchange_declare("x")
    chan.exchange_delete("x")
    chan.exchange_bind("d", "s")
    chan.exchange_unbind("d", "s")
    chan.queue_declare("q")
    chan.queue_bind("q", "x", "k")
    chan.queue_purge("q")
    chan.queue_delete("q")
    sent = pair.sent_methods()
    assert all(method.nowait for _ch, method in sent), sent
    # A server-named queue needs its reply, callback or not.
    chan.queue_declare("")
    ((_ch, declare),) = pair.sent_methods()
    assert declare.nowait is False


def test_argument_checks(chan: Any) -> None:
    with pytest.raises(ValueError):
        chan.basic_qos(prefetch_count=-1)
    for call in (
        lambda: chan.queue_declare(None),
        lambda: chan.queue_bind("q", 1),
        lambda: chan.queue_unbind(2),
        lambda: chan.queue_purge(3),
        lambda: chan.queue_delete(4),
        lambda: chan.exchange_declare(5),
        lambda: chan.exchange_bind("d", 6),
        lambda: chan.queue_declare("q", callback="cb"),
        lambda: chan.add_on_close_callback(None),
        lambda: chan.add_on_cancel_callback(None),
        lambda: chan.add_on_flow_callback(None),
        lambda: chan.add_on_return_callback(None),
    ):
        with pytest.raises(TypeError):
            call()


def test_user_callback_error_propagates_and_the_channel_carries_on(
    pair: ConnectionPair, chan: Any
) -> None:
    def broken(*_args: Any) -> None:
        raise RuntimeError("user bug")

    seen: list[int] = []
    chan.basic_consume("q", broken, consumer_tag="bad")
    chan.basic_consume("q", lambda _c, m, _p, _b: seen.append(m.delivery_tag), consumer_tag="ok")
    pair.sent()
    data = b"".join(
        [
            content_bytes(1, spec.Basic.Deliver(tag, n, False, "", "q"), b"b")
            for n, tag in ((1, "bad"), (2, "ok"))
        ]
    )
    with pytest.raises(RuntimeError, match="user bug"):
        pair.send_bytes(data)
    # What was buffered behind the failing callback is handled on the next turn.
    pair.run()
    assert seen == [2]
    assert chan.is_open
