"""Connection recovery over an in-memory stream: the order of its steps,
what channels keep across it (modes, consumers, tags, confirm numbers),
retries and how it ends (no broker, fake clock)."""

from __future__ import annotations

from typing import Any

import pytest

from pika import exceptions, frame, spec
from pika.connection import ConnectionParameters
from pika.credentials import PlainCredentials
from pika.recovery import RecoveryPolicy
from tests.utils.memory_transport import ConnectionPair, open_pair, server_start

#: Reconnect one second after the loss, then two, four...
POLICY = RecoveryPolicy(initial_delay=1.0, jitter=0.0)


class Recorder:
    """The recovery and close callbacks of a connection, in one list."""

    def __init__(self, pair: ConnectionPair) -> None:
        self.log: list[tuple[Any, ...]] = []
        conn = pair.conn
        conn.add_on_recovery_started_callback(lambda c, e: self.log.append(("started", e)))
        conn.add_on_recovery_succeeded_callback(lambda c: self.log.append(("succeeded",)))
        conn.add_on_recovery_failed_callback(lambda c, e: self.log.append(("failed", e)))
        conn.add_on_queue_renamed_callback(lambda c, o, n: self.log.append(("renamed", o, n)))
        conn.add_on_close_callback(lambda c, e: self.log.append(("closed", e)))

    def kinds(self) -> list[str]:
        return [entry[0] for entry in self.log]


def recovering_pair(
    policy: RecoveryPolicy = POLICY, **kwargs: Any
) -> tuple[ConnectionPair, Recorder]:
    pair = open_pair(**kwargs)
    pair.conn.enable_recovery(policy)
    return pair, Recorder(pair)


def answer(pair: ConnectionPair, channel: int, *replies: Any) -> None:
    pair.send(channel, *replies)


def reconnect(pair: ConnectionPair, after: float = 1.0, heartbeat: int = 0) -> None:
    """Let the backoff run out and play the broker's side of the opening."""
    connects = pair.connects
    pair.advance(after)
    assert pair.connects == connects + 1
    pair.handshake(heartbeat=heartbeat)


def reopen_channel_one(pair: ConnectionPair, after: float = 1.0) -> None:
    """Reconnect, reopen channel 1, then open the replay channel (2)."""
    reconnect(pair, after)
    pair.send(1, spec.Channel.OpenOk())
    pair.expect(spec.Channel.Open, spec.Channel.Open)
    pair.send(2, spec.Channel.OpenOk())


def test_the_order_of_recovery_steps() -> None:
    pair, rec = recovering_pair()
    conn = pair.conn
    confirms: list[Any] = []
    messages: list[Any] = []

    def on_message(_ch: Any, method: Any, _props: Any, body: bytes) -> None:
        messages.append((method.consumer_tag, method.delivery_tag, body))

    ch1 = pair.open_channel()
    ch1.basic_qos(prefetch_count=10)
    ch1.confirm_delivery(confirms.append)
    pair.expect(spec.Basic.Qos, spec.Confirm.Select)
    ch2 = pair.open_channel()
    ch2.tx_select()
    ch1.exchange_declare("ex", "topic", durable=True)
    ch1.queue_declare("named", durable=True)
    ch1.queue_declare("", exclusive=True, callback=lambda f: None)
    ch1.exchange_bind("ex2", "ex", "k2")
    ch1.basic_consume("other", on_message, consumer_tag="c2")
    pair.sent()
    answer(
        pair,
        1,
        spec.Basic.QosOk(),
        spec.Queue.DeclareOk("amq.gen-old", 0, 0),
        spec.Exchange.BindOk(),
        spec.Basic.ConsumeOk("c2"),
    )
    answer(pair, 2, spec.Tx.SelectOk())
    ch1.queue_bind("amq.gen-old", "ex", "rk")
    ch1.basic_consume("amq.gen-old", on_message, consumer_tag="c1")
    pair.sent()
    answer(pair, 1, spec.Queue.BindOk(), spec.Basic.ConsumeOk("c1"))
    ch1.basic_publish("ex", "rk", b"unconfirmed")
    pair.expect(spec.Basic.Publish)

    pair.drop()
    assert rec.kinds() == ["started"]
    assert isinstance(rec.log[0][1], exceptions.StreamLostError)
    assert conn.is_recovering and not conn.is_open and not conn.is_closed
    assert ch1.is_opening and ch2.is_opening
    with pytest.raises(exceptions.ChannelWrongStateError):
        ch1.basic_publish("ex", "rk", b"during")
    # Without republish_unconfirmed, what was not confirmed is nacked.
    assert [(type(f.method), f.method.delivery_tag) for f in confirms] == [(spec.Basic.Nack, 1)]
    assert pair.clock.pending() == [1.0]

    # 1. reconnect
    reconnect(pair)
    # 2. reopen the channels with their numbers, each reapplying its modes
    assert pair.sent_methods() == [(1, spec.Channel.Open()), (2, spec.Channel.Open())]
    answer(pair, 1, spec.Channel.OpenOk())
    qos, select = pair.expect(spec.Basic.Qos, spec.Confirm.Select)
    assert qos.prefetch_count == 10 and select.nowait is False
    answer(pair, 2, spec.Channel.OpenOk())
    assert [(n, type(m)) for n, m in pair.sent_methods()] == [
        (2, spec.Tx.Select),
        (3, spec.Channel.Open),
    ]
    answer(pair, 1, spec.Basic.QosOk(), spec.Confirm.SelectOk())
    answer(pair, 2, spec.Tx.SelectOk())
    # 3. on a channel of its own: exchanges, queues, bindings, consumer queues
    answer(pair, 3, spec.Channel.OpenOk())
    (exchange,) = pair.expect(spec.Exchange.Declare)
    assert (exchange.exchange, exchange.type, exchange.durable) == ("ex", "topic", True)
    answer(pair, 3, spec.Exchange.DeclareOk())
    (named,) = pair.expect(spec.Queue.Declare)
    assert (named.queue, named.durable) == ("named", True)
    answer(pair, 3, spec.Queue.DeclareOk("named", 0, 0))
    (server_named,) = pair.expect(spec.Queue.Declare)
    assert (server_named.queue, server_named.exclusive) == ("", True)
    answer(pair, 3, spec.Queue.DeclareOk("amq.gen-new", 0, 0))
    assert rec.log[-1] == ("renamed", "amq.gen-old", "amq.gen-new")
    assert conn.recovery is not None
    assert conn.recovery.renamed_queues == {"amq.gen-old": "amq.gen-new"}
    (exchange_bind,) = pair.expect(spec.Exchange.Bind)
    assert (exchange_bind.destination, exchange_bind.source) == ("ex2", "ex")
    answer(pair, 3, spec.Exchange.BindOk())
    (bind,) = pair.expect(spec.Queue.Bind)
    assert (bind.queue, bind.exchange, bind.routing_key) == ("amq.gen-new", "ex", "rk")
    answer(pair, 3, spec.Queue.BindOk())
    (check,) = pair.expect(spec.Queue.Declare)
    assert (check.queue, check.passive) == ("other", True)
    assert rec.kinds() == ["started", "renamed"]
    answer(pair, 3, spec.Queue.DeclareOk("other", 0, 1))
    # 4. the replay channel closes, consumers restart with their tags, 5. success
    sent = pair.sent_methods()
    assert [(n, type(m)) for n, m in sent] == [
        (3, spec.Channel.Close),
        (1, spec.Basic.Consume),
        (1, spec.Basic.Consume),
    ]
    consumes = {m.consumer_tag: m.queue for _n, m in sent[1:]}
    assert consumes == {"c2": "other", "c1": "amq.gen-new"}
    assert rec.kinds() == ["started", "renamed", "succeeded"]
    assert conn.is_open and not conn.is_recovering
    assert ch1.is_open and ch2.is_open
    answer(pair, 3, spec.Channel.CloseOk())
    answer(pair, 1, spec.Basic.ConsumeOk("c1"), spec.Basic.ConsumeOk("c2"))
    pair.deliver(1, "c1", 1, b"after")
    assert messages == [("c1", 1, b"after")]
    assert conn.recovery.failures == []
    # Confirm numbers go on from before the loss: the broker's 1 is the 2nd publish.
    assert ch1.next_publish_seq_no == 2
    ch1.basic_publish("ex", "rk", b"second")
    pair.expect(spec.Basic.Publish)
    pair.send(1, spec.Basic.Ack(1))
    assert (type(confirms[-1].method), confirms[-1].method.delivery_tag) == (spec.Basic.Ack, 2)


def test_delivery_tags_continue_after_a_recovery_and_stale_tags_are_dropped() -> None:
    pair, _rec = recovering_pair()
    chan = pair.open_channel()
    tags: list[int] = []
    chan.basic_consume("q", lambda _c, m, _p, _b: tags.append(m.delivery_tag), consumer_tag="c")
    pair.send(1, spec.Basic.ConsumeOk("c"))
    for tag in (1, 2, 3):
        pair.deliver(1, "c", tag)
    pair.sent()
    pair.drop()
    reconnect(pair)
    pair.send(1, spec.Channel.OpenOk())
    pair.expect(spec.Channel.Open, spec.Channel.Open)
    pair.send(2, spec.Channel.OpenOk())  # the replay channel: the consumer's queue is checked
    (check,) = pair.expect(spec.Queue.Declare)
    assert (check.queue, check.passive) == ("q", True)
    pair.send(2, spec.Queue.DeclareOk("q", 1, 0))
    pair.expect(spec.Channel.Close, spec.Basic.Consume)
    pair.send(2, spec.Channel.CloseOk())
    assert chan.is_open
    pair.sent()
    # The broker numbers from 1 again; the application sees 4, 5.
    pair.deliver(1, "c", 1)
    pair.deliver(1, "c", 2)
    assert tags == [1, 2, 3, 4, 5]
    assert chan.is_stale_delivery_tag(3) and not chan.is_stale_delivery_tag(4)
    chan.basic_ack(3)
    chan.basic_nack(2)
    chan.basic_reject(1)
    assert chan.stale_tags_dropped == 3
    chan.basic_ack(5, multiple=True)
    chan.basic_nack(4, requeue=False)
    chan.basic_ack(0, multiple=True)
    ack, nack, ack_all = pair.expect(spec.Basic.Ack, spec.Basic.Nack, spec.Basic.Ack)
    assert (ack.delivery_tag, ack.multiple) == (2, True)
    assert nack.delivery_tag == 1
    assert (ack_all.delivery_tag, ack_all.multiple) == (0, True)
    # Basic.Get answers are numbered the same way.
    got: list[int] = []
    chan.basic_get("q", lambda _c, m, _p, _b: got.append(m.delivery_tag))
    pair.send_content(1, spec.Basic.GetOk(3, False, "", "q", 0), b"x")
    assert got == [6]


def test_confirm_numbers_continue_and_unconfirmed_are_republished() -> None:
    pair, _rec = recovering_pair(
        RecoveryPolicy(initial_delay=1, jitter=0, republish_unconfirmed=True)
    )
    chan = pair.open_channel()
    confirms: list[tuple[str, int, bool]] = []
    chan.confirm_delivery(
        lambda f: confirms.append((f.method.NAME, f.method.delivery_tag, f.method.multiple))
    )
    for n in range(1, 5):
        chan.basic_publish("", "q", f"m{n}")
    pair.sent()
    pair.send(1, spec.Basic.Ack(2, multiple=True))
    pair.drop()
    assert confirms == [("Basic.Ack", 2, True)]
    reconnect(pair)
    pair.send(1, spec.Channel.OpenOk())
    pair.expect(spec.Channel.Open, spec.Confirm.Select, spec.Channel.Open)
    pair.send(2, spec.Channel.OpenOk())
    frames = pair.sent()
    bodies = [f.fragment for f in frames if hasattr(f, "fragment")]
    assert bodies == [b"m3", b"m4"]
    assert chan.next_publish_seq_no == 5
    chan.basic_publish("", "q", b"m5")
    pair.sent()
    # The broker numbers m3, m4, m5 as 1, 2, 3 on the new connection.
    pair.send(1, spec.Basic.Ack(1), spec.Basic.Nack(3, multiple=True))
    # Republished messages are confirmed one by one (their numbers need not
    # be contiguous), later ones as the broker did.
    assert confirms[1:] == [
        ("Basic.Ack", 3, False),
        ("Basic.Nack", 4, False),
        ("Basic.Nack", 5, True),
    ]


def test_refused_reconnects_back_off_until_max_attempts() -> None:
    pair, rec = recovering_pair(RecoveryPolicy(initial_delay=1, jitter=0, max_attempts=3))
    chan = pair.open_channel()
    reasons: list[Exception] = []
    chan.add_on_close_callback(lambda _c, r: reasons.append(r))
    pair.refuse = 3
    pair.drop()
    assert pair.clock.pending() == [1.0]
    pair.advance(1)
    assert pair.connects == 2 and pair.clock.pending() == [2.0]
    pair.advance(2)
    assert pair.connects == 3 and pair.clock.pending() == [4.0]
    pair.advance(4)
    assert pair.connects == 4
    assert rec.kinds() == ["started", "failed", "closed"]
    assert rec.log[1][1] is rec.log[2][1]
    assert pair.conn.is_closed and not pair.conn.is_recovering
    assert chan.is_closed and len(reasons) == 1


def test_lost_again_while_restoring_starts_over() -> None:
    pair, rec = recovering_pair()
    chan = pair.open_channel()
    chan.queue_declare("q")
    pair.sent()
    pair.drop()
    reopen_channel_one(pair)
    pair.expect(spec.Queue.Declare)
    pair.drop()
    assert rec.kinds() == ["started"]
    assert chan.is_opening
    # The second attempt of the same recovery: the backoff has doubled.
    assert pair.clock.pending() == [2.0]
    reopen_channel_one(pair, after=2)
    pair.expect(spec.Queue.Declare)
    pair.send(2, spec.Queue.DeclareOk("q", 0, 0))
    pair.expect(spec.Channel.Close)
    assert rec.kinds() == ["started", "succeeded"]
    assert chan.is_open


def test_refused_declaration_is_recorded_and_the_replay_goes_on() -> None:
    pair, rec = recovering_pair()
    chan = pair.open_channel()
    cancels: list[str] = []
    chan.add_on_cancel_callback(lambda f: cancels.append(f.method.consumer_tag))
    chan.exchange_declare("ex", "fanout")
    chan.queue_declare("q")
    chan.basic_consume("gone", lambda *a: None, consumer_tag="c")
    pair.sent()
    pair.send(1, spec.Basic.ConsumeOk("c"))
    pair.drop()
    reopen_channel_one(pair)
    pair.expect(spec.Exchange.Declare)
    pair.send(2, spec.Channel.Close(406, "PRECONDITION_FAILED - inequivalent arg", 40, 10))
    # A new replay channel carries on with the queue.
    assert [(n, type(m)) for n, m in pair.sent_methods()] == [
        (2, spec.Channel.CloseOk),
        (2, spec.Channel.Open),
    ]
    pair.send(2, spec.Channel.OpenOk())
    pair.expect(spec.Queue.Declare)
    pair.send(2, spec.Queue.DeclareOk("q", 0, 0))
    (check,) = pair.expect(spec.Queue.Declare)
    assert (check.queue, check.passive) == ("gone", True)
    pair.send(2, spec.Channel.Close(404, "NOT_FOUND - no queue 'gone'", 50, 10))
    pair.expect(spec.Channel.CloseOk, spec.Channel.Open)
    pair.send(2, spec.Channel.OpenOk())
    # Nothing is left to replay: the consumer of the lost queue is cancelled.
    pair.expect(spec.Channel.Close)
    assert rec.kinds() == ["started", "succeeded"]
    assert cancels == ["c"] and chan.consumer_tags == []
    recovery = pair.conn.recovery
    assert recovery is not None
    assert [(f.what, f.name) for f in recovery.failures] == [
        ("exchange", "ex"),
        ("consumer queue", "gone"),
    ]
    assert isinstance(recovery.failures[0].error, exceptions.ChannelClosedByBroker)


def test_deleted_topology_is_not_replayed() -> None:
    pair, _rec = recovering_pair()
    chan = pair.open_channel()
    chan.exchange_declare("ex")
    chan.queue_declare("q")
    chan.queue_bind("q", "ex", "k")
    chan.queue_unbind("q", "ex", "k", callback=lambda f: None)
    chan.queue_delete("q")
    chan.exchange_delete("ex")
    chan.basic_consume("q2", lambda *a: None, consumer_tag="c")
    chan.basic_cancel("c")
    pair.sent()
    pair.send(1, spec.Queue.UnbindOk(), spec.Basic.ConsumeOk("c"))
    pair.drop()
    reopen_channel_one(pair)
    pair.expect(spec.Channel.Close)


def test_close_during_the_backoff_stops_the_recovery() -> None:
    pair, rec = recovering_pair()
    pair.drop()
    pair.conn.close(200, "stop")
    assert pair.conn.is_closed
    assert rec.kinds() == ["started", "closed"]
    assert isinstance(rec.log[1][1], exceptions.ConnectionClosedByClient)
    assert pair.clock.pending() == []
    pair.advance(10)
    assert pair.connects == 1


def test_close_during_the_handshake_of_a_reconnect() -> None:
    pair, rec = recovering_pair()
    pair.drop()
    pair.advance(1)
    pair.sent()
    pair.conn.close()
    assert rec.kinds() == ["started", "closed"]
    assert pair.conn.is_closed


def test_close_while_restoring_channels() -> None:
    pair, rec = recovering_pair()
    pair.open_channel()
    pair.drop()
    reconnect(pair)
    pair.expect(spec.Channel.Open)
    pair.conn.close()
    pair.expect(spec.Connection.Close)
    pair.send(0, spec.Connection.CloseOk())
    assert rec.kinds() == ["started", "closed"]
    assert isinstance(rec.log[-1][1], exceptions.ConnectionClosedByClient)


def test_channel_closed_by_the_application_during_recovery() -> None:
    pair, rec = recovering_pair()
    waiting = pair.open_channel()
    reopened = pair.open_channel()
    closes: list[tuple[int, Exception]] = []
    for chan in (waiting, reopened):
        chan.add_on_close_callback(lambda c, r: closes.append((c.channel_number, r)))
    pair.drop()
    # Closed before the reconnect: nothing to close on the broker.
    waiting.close(200, "not needed")
    assert waiting.is_closed and closes[0][0] == 1
    assert isinstance(closes[0][1], exceptions.ChannelClosedByClient)
    reconnect(pair)
    pair.expect(spec.Channel.Open)
    reopened.close()
    pair.send(2, spec.Channel.OpenOk())
    # Closed while reopened: the close goes out once it is open, then the replay.
    assert [(n, type(m)) for n, m in pair.sent_methods()] == [
        (2, spec.Channel.Close),
        (1, spec.Channel.Open),
    ]
    pair.send(2, spec.Channel.CloseOk())
    pair.send(1, spec.Channel.OpenOk())
    pair.expect(spec.Channel.Close)
    assert rec.kinds() == ["started", "succeeded"]
    assert [n for n, _r in closes] == [1, 2]


def test_channel_closing_at_the_loss_is_closed() -> None:
    pair, _rec = recovering_pair()
    chan = pair.open_channel()
    reasons: list[Exception] = []
    chan.add_on_close_callback(lambda _c, r: reasons.append(r))
    chan.close(200, "bye")
    pair.drop()
    assert chan.is_closed
    assert isinstance(reasons[0], exceptions.ChannelClosedByClient)


@pytest.mark.parametrize(
    "end",
    [
        lambda pair: pair.send(0, spec.Connection.Close(403, "ACCESS_REFUSED", 0, 0)),
        lambda pair: (pair.conn.close(), pair.send(0, spec.Connection.CloseOk())),
    ],
)
def test_ends_that_are_not_recovered(end: Any) -> None:
    pair, rec = recovering_pair()
    end(pair)
    assert rec.kinds() == ["closed"]
    assert pair.conn.is_closed and pair.clock.pending() == []


def test_broker_forced_close_is_recovered() -> None:
    pair, rec = recovering_pair()
    pair.send(0, spec.Connection.Close(320, "CONNECTION_FORCED - shutdown", 0, 0))
    pair.expect(spec.Connection.CloseOk)
    assert rec.kinds() == ["started"]
    reconnect(pair)
    pair.expect(spec.Channel.Open)
    pair.send(1, spec.Channel.OpenOk())
    pair.expect(spec.Channel.Close)
    assert rec.kinds() == ["started", "succeeded"]


def test_heartbeat_timeout_is_recovered() -> None:
    pair, rec = recovering_pair(heartbeat=4)
    pair.advance(8)
    assert rec.kinds() == []
    pair.advance(2)
    assert rec.kinds() == ["started"]
    assert isinstance(rec.log[0][1], exceptions.AMQPHeartbeatTimeout)


def test_reconnects_go_to_the_next_parameters_first() -> None:
    first = ConnectionParameters(host="node-a")
    second = ConnectionParameters(host="node-b")
    pair = open_pair(first)
    pair.conn.enable_recovery(POLICY, [first, second])
    pair.drop()
    pair.advance(1)
    assert pair.conn.params is second
    pair.drop()
    pair.advance(2)
    assert pair.conn.params is first


def test_blocked_state_is_reset_by_a_reconnect() -> None:
    pair, _rec = recovering_pair()
    pair.send(0, spec.Connection.Blocked("memory"))
    assert pair.conn.is_blocked
    pair.drop()
    reconnect(pair)
    assert not pair.conn.is_blocked


def test_update_secret_awaited_at_the_loss_does_not_take_a_later_reply() -> None:
    pair, _rec = recovering_pair()
    answered: list[str] = []
    pair.conn.update_secret("lost-token", "refresh", lambda f: answered.append("lost"))
    pair.expect(spec.Connection.UpdateSecret)
    pair.drop()
    reconnect(pair)
    pair.expect(spec.Channel.Open)
    pair.send(1, spec.Channel.OpenOk())
    pair.expect(spec.Channel.Close)
    pair.conn.update_secret("new-token", "refresh", lambda f: answered.append("new"))
    pair.expect(spec.Connection.UpdateSecret)
    pair.send(0, spec.Connection.UpdateSecretOk())
    assert answered == ["new"]


def test_channel_opening_at_the_loss_hears_of_its_open_after_the_recovery() -> None:
    pair, rec = recovering_pair()
    opened: list[Any] = []
    chan = pair.conn.channel(on_open_callback=opened.append)
    pair.expect(spec.Channel.Open)
    pair.drop()
    reconnect(pair)
    pair.expect(spec.Channel.Open)
    pair.send(1, spec.Channel.OpenOk())
    assert opened == [] and chan.is_opening
    pair.expect(spec.Channel.Open)
    pair.send(2, spec.Channel.OpenOk())
    pair.expect(spec.Channel.Close)
    assert opened == [chan] and chan.is_open
    assert rec.kinds() == ["started", "succeeded"]


def test_heartbeats_resume_on_the_new_connection() -> None:
    pair, _rec = recovering_pair(heartbeat=10)
    pair.drop()
    reconnect(pair, heartbeat=10)
    pair.expect(spec.Channel.Open)  # the replay channel, left unanswered
    assert pair.clock.pending() == [5.0]
    pair.advance(10)
    assert pair.sent() == [frame.Heartbeat()]
    # Silent for two intervals: lost again, and the recovery tries again.
    pair.advance(15)
    assert not pair.connected and pair.connects == 2
    pair.advance(2)
    assert pair.connects == 3


def test_channel_above_the_new_channel_max_is_closed() -> None:
    pair, rec = recovering_pair()
    kept = pair.open_channel()
    too_high = pair.open_channel(5)
    reasons: list[Exception] = []
    too_high.add_on_close_callback(lambda _c, r: reasons.append(r))
    pair.drop()
    pair.advance(1)
    pair.handshake(channel_max=2)
    (reason,) = reasons
    assert type(reason) is exceptions.ChannelClosed
    assert reason.reply_code == spec.CHANNEL_ERROR and "outside 1..2" in reason.reply_text
    assert too_high.is_closed
    pair.expect(spec.Channel.Open)
    pair.send(1, spec.Channel.OpenOk())
    pair.expect(spec.Channel.Open)
    pair.send(2, spec.Channel.OpenOk())
    pair.expect(spec.Channel.Close)
    assert rec.kinds() == ["started", "succeeded"]
    assert kept.is_open and too_high.is_closed


def test_queue_renamed_twice_when_lost_again_during_the_replay() -> None:
    pair, rec = recovering_pair()
    chan = pair.open_channel()
    chan.queue_declare("", exclusive=True, callback=lambda f: None)
    pair.send(1, spec.Queue.DeclareOk("gen-1", 0, 0))
    chan.queue_bind("gen-1", "amq.direct", "k")
    chan.basic_consume("gen-1", lambda *a: None, consumer_tag="c")
    pair.sent()
    pair.send(1, spec.Basic.ConsumeOk("c"))
    pair.drop()
    reopen_channel_one(pair)
    pair.expect(spec.Queue.Declare)
    pair.send(2, spec.Queue.DeclareOk("gen-2", 0, 0))
    (bind,) = pair.expect(spec.Queue.Bind)
    assert bind.queue == "gen-2"
    pair.drop()
    reopen_channel_one(pair, after=2)
    pair.expect(spec.Queue.Declare)
    pair.send(2, spec.Queue.DeclareOk("gen-3", 0, 0))
    (bind,) = pair.expect(spec.Queue.Bind)
    assert bind.queue == "gen-3"
    pair.send(2, spec.Queue.BindOk())
    _close, consume = pair.expect(spec.Channel.Close, spec.Basic.Consume)
    assert (consume.queue, consume.consumer_tag) == ("gen-3", "c")
    assert [entry[1:] for entry in rec.log if entry[0] == "renamed"] == [
        ("gen-1", "gen-2"),
        ("gen-2", "gen-3"),
    ]
    recovery = pair.conn.recovery
    assert recovery is not None
    assert recovery.renamed_queues == {"gen-1": "gen-3", "gen-2": "gen-3"}
    assert list(recovery.topology.queues) == ["gen-3"]


def test_channel_closed_after_its_reopen_but_before_the_end() -> None:
    pair, rec = recovering_pair()
    closing = pair.open_channel()
    other = pair.open_channel()
    reasons: list[Exception] = []
    closing.add_on_close_callback(lambda _c, r: reasons.append(r))
    pair.drop()
    reconnect(pair)
    pair.expect(spec.Channel.Open, spec.Channel.Open)
    pair.send(1, spec.Channel.OpenOk())
    closing.close(200, "bye")
    (close,) = pair.expect(spec.Channel.Close)
    assert close.reply_text == "bye"
    pair.send(1, spec.Channel.CloseOk())
    assert closing.is_closed and isinstance(reasons[0], exceptions.ChannelClosedByClient)
    pair.send(2, spec.Channel.OpenOk())
    # The replay channel takes the freed number.
    assert pair.sent_methods() == [(1, spec.Channel.Open())]
    pair.send(1, spec.Channel.OpenOk())
    pair.expect(spec.Channel.Close)
    assert rec.kinds() == ["started", "succeeded"]
    assert other.is_open and closing.is_closed


def test_consumer_being_cancelled_at_the_loss_is_not_restarted() -> None:
    pair, _rec = recovering_pair()
    chan = pair.open_channel()
    chan.basic_consume("q", lambda *a: None, consumer_tag="c")
    pair.send(1, spec.Basic.ConsumeOk("c"))
    chan.basic_cancel("c", callback=lambda f: None)
    pair.sent()
    pair.drop()
    reopen_channel_one(pair)
    pair.expect(spec.Channel.Close)
    assert chan.consumer_tags == [] and chan.is_open


def test_confirm_mode_from_before_enable_recovery() -> None:
    pair = open_pair()
    chan = pair.open_channel()
    confirms: list[tuple[str, int, bool]] = []
    chan.confirm_delivery(
        lambda f: confirms.append((f.method.NAME, f.method.delivery_tag, f.method.multiple))
    )
    chan.basic_publish("", "q", b"1")
    chan.basic_publish("", "q", b"2")
    pair.sent()
    pair.send(1, spec.Basic.Ack(1))
    pair.conn.enable_recovery(POLICY)
    pair.drop()
    assert confirms == [("Basic.Ack", 1, False), ("Basic.Nack", 2, True)]
    reconnect(pair)
    pair.send(1, spec.Channel.OpenOk())
    pair.expect(spec.Channel.Open, spec.Confirm.Select, spec.Channel.Open)
    pair.send(2, spec.Channel.OpenOk())
    pair.expect(spec.Channel.Close)
    chan.basic_publish("", "q", b"3")
    pair.sent()
    pair.send(1, spec.Basic.Ack(1))
    assert confirms[-1] == ("Basic.Ack", 3, False)


def test_refused_login_on_a_reconnect_ends_the_recovery() -> None:
    pair, rec = recovering_pair()
    pair.drop()
    pair.advance(1)
    pair.sent()
    pair.send(0, server_start())
    pair.sent()
    pair.send(0, spec.Connection.Close(403, "ACCESS_REFUSED - login refused", 10, 11))
    assert rec.kinds() == ["started", "failed", "closed"]
    assert isinstance(rec.log[1][1], exceptions.ProbableAuthenticationError)
    assert pair.conn.is_closed and pair.clock.pending() == []


def test_a_reconnect_logs_in_with_the_updated_secret() -> None:
    params = ConnectionParameters(credentials=PlainCredentials("svc", "token-1"))
    pair = open_pair(params)
    pair.conn.enable_recovery(POLICY)
    pair.conn.update_secret("token-2", "refreshed")
    pair.expect(spec.Connection.UpdateSecret)
    pair.drop()
    pair.advance(1)
    assert pair.sent() == [frame.ProtocolHeader()]
    pair.send(0, server_start())
    (start_ok,) = pair.expect(spec.Connection.StartOk)
    assert start_ok.response == b"\0svc\0token-2"
    assert params.credentials.password == "token-1"
