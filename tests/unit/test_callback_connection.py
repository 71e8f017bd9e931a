"""The callback `Connection` over an in-memory stream and a fake clock:
opening, closing, heartbeats, blocking notices, update_secret (no broker)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from pika import exceptions, frame, spec
from pika.connection import CLOSE_OK_TIMEOUT, ConnectionParameters
from tests.utils.memory_transport import ConnectionPair, open_pair, server_start


class Events:
    """Records the connection's callbacks."""

    def __init__(self) -> None:
        self.opened: list[Any] = []
        self.open_errors: list[BaseException] = []
        self.closed: list[BaseException] = []

    def kwargs(self) -> dict[str, Any]:
        return {
            "on_open_callback": self.opened.append,
            "on_open_error_callback": lambda _c, e: self.open_errors.append(e),
            "on_close_callback": lambda _c, e: self.closed.append(e),
        }


# ------------------------------------------------------------------ opening


def test_handshake_opens_and_reports_the_server() -> None:
    events = Events()
    pair = ConnectionPair(ConnectionParameters(virtual_host="vh"), **events.kwargs())
    assert "INIT" in repr(pair.conn)
    assert pair.connects == 1 and not pair.connected
    pair.run()
    assert pair.connected and not pair.conn.is_open
    pair.handshake()
    assert events.opened == [pair.conn]
    assert pair.conn.is_open and "OPEN" in repr(pair.conn)
    conn = pair.conn
    assert conn.server_properties["product"] == "memory broker"
    assert conn.server_capabilities["publisher_confirms"] is True
    assert conn.basic_nack and conn.consumer_cancel_notify
    assert conn.exchange_exchange_bindings and conn.publisher_confirms


def test_open_sends_the_virtual_host() -> None:
    pair = ConnectionPair(ConnectionParameters(virtual_host="vh"))
    pair.sent()
    pair.send(0, server_start())
    pair.expect(spec.Connection.StartOk)
    pair.send(0, spec.Connection.Tune(0, 0, 0))
    _tune_ok, open_ = pair.expect(spec.Connection.TuneOk, spec.Connection.Open)
    assert open_.virtual_host == "vh"


def test_stream_lost_before_start_is_an_open_error() -> None:
    """With an open-error callback of the application's, nothing is raised."""
    events = Events()
    pair = ConnectionPair(**events.kwargs())
    pair.run()
    pair.drop()
    (error,) = events.open_errors
    assert isinstance(error, exceptions.IncompatibleProtocolError)
    assert events.closed == [] and pair.conn.is_closed


def test_access_refused_during_open_reaches_the_open_error_callback() -> None:
    events = Events()
    pair = ConnectionPair(**events.kwargs())
    pair.sent()
    pair.send(0, server_start())
    pair.send(0, spec.Connection.Tune(0, 0, 0))
    pair.sent()
    pair.send(0, spec.Connection.Close(530, "NOT_ALLOWED - vhost", 10, 40))
    assert len(events.open_errors) == 1
    assert isinstance(events.open_errors[0], exceptions.ProbableAccessDeniedError)


def test_default_open_error_callback_logs_and_raises_out_of_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pair = ConnectionPair()
    pair.run()
    with caplog.at_level(logging.ERROR), pytest.raises(exceptions.ConnectionOpenFailed) as caught:
        pair.drop()
    assert "failed to open" in caplog.text
    assert isinstance(caught.value.error, exceptions.IncompatibleProtocolError)
    assert pair.conn.is_closed


def test_close_while_opening_aborts_the_open() -> None:
    events = Events()
    pair = ConnectionPair(**events.kwargs())
    pair.sent()
    pair.send(0, server_start())
    pair.sent()
    pair.conn.close()
    assert pair.conn.is_closed
    (error,) = events.open_errors
    assert isinstance(error, exceptions.AMQPConnectionError)
    assert events.opened == [] and events.closed == []


def test_constructor_checks() -> None:
    with pytest.raises(TypeError, match="Parameters"):
        ConnectionPair("amqp://")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="on_close_callback"):
        ConnectionPair(on_close_callback=5)


def test_channel_needs_an_open_connection() -> None:
    pair = ConnectionPair()
    with pytest.raises(exceptions.ConnectionWrongStateError):
        pair.conn.channel()
    pair.handshake()
    with pytest.raises(TypeError):
        pair.conn.channel(on_open_callback=3)
    opened: list[Any] = []
    chan = pair.open_channel(7, opened.append)
    assert chan.channel_number == 7 and opened == [chan]


# ------------------------------------------------------------------ closing


def test_client_close_handshake() -> None:
    events = Events()
    pair = open_pair(**events.kwargs())
    pair.conn.close(200, "done")
    (close,) = pair.expect(spec.Connection.Close)
    assert (close.reply_code, close.reply_text) == (200, "done")
    assert pair.conn.is_closing and "CLOSING" in repr(pair.conn)
    with pytest.raises(exceptions.ConnectionWrongStateError, match="closing"):
        pair.conn.close()
    pair.send(0, spec.Connection.CloseOk())
    assert pair.conn.is_closed and not pair.connected
    (error,) = events.closed
    assert isinstance(error, exceptions.ConnectionClosedByClient)
    assert (error.reply_code, error.reply_text) == (200, "done")
    with pytest.raises(exceptions.ConnectionWrongStateError, match="closed"):
        pair.conn.close()


def test_close_without_close_ok_ends_after_the_timeout() -> None:
    events = Events()
    pair = open_pair(**events.kwargs())
    pair.conn.close()
    pair.sent()
    pair.advance(CLOSE_OK_TIMEOUT - 1)
    assert events.closed == []
    pair.advance(2)
    (error,) = events.closed
    assert isinstance(error, exceptions.ConnectionClosedByClient)
    assert "no Close-Ok" in error.reply_text
    assert pair.conn.is_closed


def test_close_after_a_protocol_error_ends_without_close_ok() -> None:
    # The engine itself sends Connection.Close (a method on a channel never
    # opened): the wait for Close-Ok is bounded from the read that found it.
    events = Events()
    pair = open_pair(**events.kwargs())
    pair.send(7, spec.Basic.Ack(1))
    (close,) = pair.expect(spec.Connection.Close)
    assert close.reply_code == spec.CHANNEL_ERROR
    assert pair.conn.is_closing
    pair.advance(CLOSE_OK_TIMEOUT - 1)
    assert events.closed == []
    pair.advance(2)
    (error,) = events.closed
    assert isinstance(error, exceptions.ConnectionClosedByClient)
    assert error.reply_code == spec.CHANNEL_ERROR
    assert pair.conn.is_closed


def test_broker_closes_the_connection() -> None:
    events = Events()
    pair = open_pair(**events.kwargs())
    chan = pair.open_channel()
    reasons: list[Exception] = []
    chan.add_on_close_callback(lambda _c, r: reasons.append(r))
    pair.send(0, spec.Connection.Close(320, "CONNECTION_FORCED - shutdown", 0, 0))
    pair.expect(spec.Connection.CloseOk)
    (error,) = events.closed
    assert isinstance(error, exceptions.ConnectionClosedByBroker)
    assert error.reply_code == 320
    assert reasons == [error] and chan.is_closed


def test_stream_lost_when_open() -> None:
    events = Events()
    pair = open_pair(**events.kwargs())
    pair.drop(OSError("gone"))
    (error,) = events.closed
    assert isinstance(error, exceptions.StreamLostError)


def test_protocol_violation_closes_with_its_code() -> None:
    events = Events()
    pair = open_pair(**events.kwargs())
    # A content header with no method before it.
    pair.send_bytes(frame.Header(1, 3, spec.BasicProperties()).marshal())
    (close,) = pair.expect(spec.Connection.Close)
    assert close.reply_code in (503, 504, 505)
    pair.send(0, spec.Connection.CloseOk())
    (error,) = events.closed
    assert isinstance(error, exceptions.ConnectionClosedByClient)
    assert error.reply_code == close.reply_code


# ------------------------------------------------------------ the fake clock


def test_heartbeats_sent_when_idle_and_the_silent_broker_declared_dead() -> None:
    events = Events()
    pair = open_pair(heartbeat=10, **events.kwargs())
    pair.sent()
    assert pair.clock.pending() == [5.0]
    # The first half interval carried the handshake: nothing to add.
    pair.advance(5)
    assert pair.sent() == []
    pair.advance(5)
    assert pair.sent() == [frame.Heartbeat()]
    # The broker's heartbeats keep the connection alive.
    for _ in range(6):
        pair.send_bytes(frame.Heartbeat().marshal())
        pair.advance(5)
    assert pair.conn.is_open and events.closed == []
    # Then silence: dead after two intervals.
    pair.advance(15)
    assert pair.conn.is_open
    pair.advance(5)
    (error,) = events.closed
    assert isinstance(error, exceptions.AMQPHeartbeatTimeout)
    assert pair.conn.is_closed and pair.clock.pending() == []


def test_no_heartbeat_no_timer() -> None:
    pair = open_pair(heartbeat=0)
    assert pair.clock.pending() == []
    pair.advance(3600)
    assert pair.conn.is_open and pair.sent() == []


def test_heartbeat_callable_sees_the_connection_and_the_broker_value() -> None:
    seen: list[tuple[Any, int]] = []

    def choose(conn: Any, broker_value: int) -> int:
        seen.append((conn, broker_value))
        return 4

    pair = ConnectionPair(ConnectionParameters(heartbeat=choose))
    pair.sent()
    pair.send(0, server_start())
    pair.sent()
    pair.send(0, spec.Connection.Tune(0, 0, 60))
    tune_ok, _open = pair.expect(spec.Connection.TuneOk, spec.Connection.Open)
    assert tune_ok.heartbeat == 4
    assert seen == [(pair.conn, 60)]


# ------------------------------------------------------- blocked, unblocked


def test_blocked_and_unblocked_notices() -> None:
    pair = open_pair()
    notices: list[tuple[str, Any]] = []

    def on_blocked(conn: Any, method_frame: Any) -> None:
        notices.append(("blocked", method_frame.method.reason))

    def on_unblocked(conn: Any, method_frame: Any) -> None:
        notices.append(("unblocked", type(method_frame.method)))

    pair.conn.add_on_connection_blocked_callback(on_blocked)
    pair.conn.add_on_connection_unblocked_callback(on_unblocked)
    pair.send(0, spec.Connection.Blocked("low on memory"))
    assert pair.conn.is_blocked
    pair.send(0, spec.Connection.Unblocked())
    assert not pair.conn.is_blocked
    assert notices == [("blocked", "low on memory"), ("unblocked", spec.Connection.Unblocked)]
    assert pair.conn.remove_on_connection_blocked_callback(on_blocked) is True
    assert pair.conn.remove_on_connection_unblocked_callback(on_unblocked) is True
    assert pair.conn.remove_on_connection_unblocked_callback(on_unblocked) is False


def test_blocked_connection_timeout() -> None:
    events = Events()
    pair = open_pair(ConnectionParameters(blocked_connection_timeout=30), **events.kwargs())
    pair.send(0, spec.Connection.Blocked("disk"))
    pair.advance(20)
    pair.send(0, spec.Connection.Unblocked())
    pair.advance(20)
    assert pair.conn.is_open
    pair.send(0, spec.Connection.Blocked("disk"))
    pair.advance(31)
    (error,) = events.closed
    assert isinstance(error, exceptions.ConnectionBlockedTimeout)
    assert pair.conn.is_closed


# ------------------------------------------------------------ update_secret


def test_update_secret() -> None:
    pair = open_pair()
    answers: list[Any] = []
    pair.conn.update_secret("new-token", "refresh", answers.append)
    pair.conn.update_secret("newer-token", "refresh")
    first, second = pair.expect(spec.Connection.UpdateSecret, spec.Connection.UpdateSecret)
    assert (first.new_secret, first.reason) == (b"new-token", "refresh")
    assert second.new_secret == b"newer-token"
    pair.send(0, spec.Connection.UpdateSecretOk(), spec.Connection.UpdateSecretOk())
    (answer,) = answers
    assert answer.channel_number == 0
    assert isinstance(answer.method, spec.Connection.UpdateSecretOk)
    with pytest.raises(TypeError):
        pair.conn.update_secret(b"bytes", "reason")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pair.conn.update_secret("s", "r", callback=1)  # type: ignore[arg-type]


# ------------------------------------------------------------- callbacks


def test_callback_registration() -> None:
    events = Events()
    pair = ConnectionPair(**events.kwargs())
    conn = pair.conn
    extra: list[Any] = []
    conn.add_on_open_callback(extra.append)
    assert conn.remove_on_open_callback(extra.append) is True
    assert conn.remove_on_open_callback(extra.append) is False
    conn.add_on_open_error_callback(lambda c, e: extra.append(e), remove_default=False)
    conn.add_on_close_callback(extra.append)
    assert conn.remove_on_close_callback(extra.append) is True
    for add in (
        conn.add_on_open_callback,
        conn.add_on_open_error_callback,
        conn.add_on_close_callback,
        conn.add_on_connection_blocked_callback,
        conn.add_on_connection_unblocked_callback,
        conn.add_backpressure_callback,
    ):
        with pytest.raises(TypeError):
            add(None)
    pair.run()
    pair.drop()
    assert len(events.open_errors) == 1 and len(extra) == 1
    assert conn.remove_on_open_error_callback(print) is False


def test_backpressure_callback_when_writes_pile_up() -> None:
    pair = open_pair()
    chan = pair.open_channel()
    calls: list[Any] = []
    pair.conn.add_backpressure_callback(calls.append)
    pair.conn.set_backpressure_multiplier(2)
    chan.basic_publish("", "q", b"x" * 100)
    pair.run()
    assert calls == []
    pair.write_buffer_size = 10_000
    chan.basic_publish("", "q", b"x" * 100)
    pair.run()
    assert calls == [pair.conn]
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError):
            pair.conn.set_backpressure_multiplier(bad)  # type: ignore[arg-type]


def test_user_callback_error_propagates_and_the_rest_is_handled_next_turn() -> None:
    pair = open_pair()

    def broken(_conn: Any, _frame: Any) -> None:
        raise RuntimeError("user bug")

    unblocked: list[Any] = []
    pair.conn.add_on_connection_blocked_callback(broken)
    pair.conn.add_on_connection_unblocked_callback(lambda c, f: unblocked.append(f))
    data = b"".join(
        frame.Method(0, m).marshal()
        for m in (spec.Connection.Blocked("x"), spec.Connection.Unblocked())
    )
    with pytest.raises(RuntimeError, match="user bug"):
        pair.send_bytes(data)
    pair.run()
    assert len(unblocked) == 1 and pair.conn.is_open


def test_recovery_api_needs_enable_recovery() -> None:
    pair = open_pair()
    conn = pair.conn
    assert conn.recovery is None and not conn.is_recovering
    for add in (
        conn.add_on_recovery_started_callback,
        conn.add_on_recovery_succeeded_callback,
        conn.add_on_recovery_failed_callback,
        conn.add_on_queue_renamed_callback,
    ):
        with pytest.raises(exceptions.ConnectionWrongStateError):
            add(print)
    conn.enable_recovery()
    with pytest.raises(exceptions.ConnectionWrongStateError):
        conn.enable_recovery()
    with pytest.raises(TypeError):
        conn.add_on_recovery_started_callback(None)  # type: ignore[arg-type]


# ------------------------------------------------- when output is written


def writes_of(pair: ConnectionPair) -> list[int]:
    """A one-item list counting the connection's writes from now on."""
    count = [0]
    wrote = pair._client_wrote

    def counted(buffers: list[Any]) -> None:
        count[0] += 1
        wrote(buffers)

    pair._client_wrote = counted  # type: ignore[method-assign]
    return count


def test_a_command_after_a_quiet_spell_is_written_at_once_on_event_loops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pair = open_pair()
    chan = pair.open_channel()
    pair.conn._writes_at_once = True  # what BaseConnection's adapters say
    writes = writes_of(pair)
    pair.conn._written_at = float("-inf")
    chan.basic_publish("", "q", b"lone request")
    assert writes == [1]  # before the loop's turn ends
    # Those that follow within the quiet spell wait for the end of the turn, together.
    monkeypatch.setattr("pika.connection.WRITE_AT_ONCE_AFTER", 3600.0)
    chan.basic_publish("", "q", b"burst 1")
    chan.basic_publish("", "q", b"burst 2")
    assert writes == [1]
    pair.run()
    assert writes == [2]
    assert len([f for f in pair.sent() if isinstance(f, frame.Method)]) == 3


def test_commands_wait_for_the_end_of_the_turn_while_writes_are_held() -> None:
    pair = open_pair()
    chan = pair.open_channel()
    pair.conn._writes_at_once = True
    writes = writes_of(pair)
    pair.conn._written_at = float("-inf")
    pair.conn._hold_writes = 1
    chan.basic_publish("", "q", b"reply")
    chan.basic_ack(1)
    assert writes == [0]
    pair.run()
    assert writes == [1]


def test_without_writes_at_once_a_command_waits_for_the_end_of_the_turn() -> None:
    pair = open_pair()
    chan = pair.open_channel()
    writes = writes_of(pair)
    pair.conn._written_at = float("-inf")
    chan.basic_publish("", "q", b"request")
    assert writes == [0]
    pair.run()
    assert writes == [1]


def test_every_turn_writes_what_its_commands_queued() -> None:
    # Publishes and acks skip `_output_ready` while a flush is arranged;
    # once the turn's flush has run, the next command arranges another.
    pair = open_pair()
    chan = pair.open_channel()
    writes = writes_of(pair)
    for turn in range(1, 4):
        chan.basic_publish("", "q", b"%d" % turn)
        chan.basic_ack(turn)
        assert writes == [turn - 1]
        pair.run()
        assert writes == [turn]
    assert len([f for f in pair.sent() if isinstance(f, frame.Method)]) == 6
