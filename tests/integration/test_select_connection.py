"""`SelectConnection` against the real broker: open and close callbacks,
broker-forced close, blocked/unblocked (memory alarm on an extra node),
update_secret, capabilities, the IOLoop in use (threads, a shared custom
loop) and exceptions raised by user callbacks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pika import exceptions, frame, spec
from pika.adapters.select_connection import IOLoop, SelectConnection
from pika.channel import Channel
from pika.connection import ConnectionParameters, URLParameters
from pika.credentials import PlainCredentials
from tests.integration.select_support import (
    Recorder,
    broker_pid_of,
    close_connection,
    open_channel,
    open_connection,
    pump,
    run_loop,
    unique,
)
from tests.utils import broker
from tests.utils.extra_node import ExtraBrokerNode

pytestmark = pytest.mark.broker


@pytest.fixture
def params(broker_url: str) -> URLParameters:
    return URLParameters(broker_url)


@pytest.fixture
def conn(params: URLParameters) -> Iterator[SelectConnection]:
    connection = open_connection(params)
    yield connection
    if not connection.is_closed:
        close_connection(connection)
    connection.ioloop.close()


def declare_queue(chan: Channel, loop: IOLoop) -> str:
    rec = Recorder()
    chan.queue_declare("", exclusive=True, callback=rec.cb("ok"))
    pump(loop, rec.has("ok"))
    return str(rec.one("ok").method.queue)


def test_open_and_close_callbacks(params: URLParameters) -> None:
    rec = Recorder()
    conn = SelectConnection(
        params,
        on_open_callback=rec.cb("open"),
        on_open_error_callback=rec.cb("error"),
        on_close_callback=rec.cb("close"),
    )
    assert not conn.is_open and not conn.is_closed
    pump(conn.ioloop, rec.has("open"))
    assert rec.one("open") is conn and conn.is_open
    assert conn.server_properties["product"] in ("RabbitMQ", b"RabbitMQ")
    conn.close(reply_code=200, reply_text="bye now")
    assert conn.is_closing
    with pytest.raises(exceptions.ConnectionWrongStateError):
        conn.close()
    pump(conn.ioloop, rec.has("close"))
    closed_conn, error = rec.one("close")
    assert closed_conn is conn and conn.is_closed
    assert isinstance(error, exceptions.ConnectionClosedByClient)
    assert (error.reply_code, error.reply_text) == (200, "bye now")
    assert rec.get("error") == []
    with pytest.raises(exceptions.ConnectionWrongStateError):
        conn.channel()
    conn.ioloop.close()


def test_open_callbacks_added_later_and_removed(params: URLParameters) -> None:
    rec = Recorder()
    conn = SelectConnection(params)
    extra, removed = rec.cb("extra"), rec.cb("removed")
    conn.add_on_open_callback(extra)
    conn.add_on_open_callback(removed)
    assert conn.remove_on_open_callback(removed) is True
    assert conn.remove_on_open_callback(removed) is False
    conn.add_on_close_callback(rec.cb("close"))
    pump(conn.ioloop, rec.has("extra"))
    assert rec.get("removed") == []
    close_connection(conn)
    assert isinstance(rec.one("close")[1], exceptions.ConnectionClosedByClient)
    conn.ioloop.close()


def test_capability_properties(conn: SelectConnection) -> None:
    assert conn.publisher_confirms is True
    assert conn.basic_nack is True
    assert conn.consumer_cancel_notify is True
    assert conn.exchange_exchange_bindings is True
    assert conn.server_capabilities["connection.blocked"] is True


def test_client_properties_announce_capabilities(params: URLParameters) -> None:
    name = unique("conn")
    params.client_properties = {"connection_name": name}
    conn = open_connection(params)
    rows = broker.list_connections(("client_properties",))
    mine = [row["client_properties"] for row in rows if name in row["client_properties"]]
    assert len(mine) == 1
    for capability in (
        "publisher_confirms",
        "exchange_exchange_bindings",
        "basic.nack",
        "consumer_cancel_notify",
        "connection.blocked",
        "authentication_failure_close",
        "per_consumer_qos",
    ):
        assert capability in mine[0], capability
    close_connection(conn)
    conn.ioloop.close()


def test_broker_forced_close_reaches_on_close(params: URLParameters) -> None:
    name = unique("forced")
    params.client_properties = {"connection_name": name}
    rec = Recorder()
    conn = open_connection(params, on_close_callback=rec.cb("close"))
    chan = open_channel(conn)
    chan.add_on_close_callback(rec.cb("chan-close"))
    broker.close_connection(broker_pid_of(name), "forced by a test")
    pump(conn.ioloop, rec.has("close"))
    _conn, error = rec.one("close")
    assert isinstance(error, exceptions.ConnectionClosedByBroker)
    assert error.reply_code == 320 and "forced by a test" in error.reply_text
    assert rec.one("chan-close")[1] is error
    assert conn.is_closed and chan.is_closed
    conn.ioloop.close()


def test_update_secret_callback(conn: SelectConnection) -> None:
    rec = Recorder()
    conn.update_secret("guest", "rotating the password", callback=rec.cb("ok"))
    pump(conn.ioloop, rec.has("ok"))
    reply = rec.one("ok")
    assert isinstance(reply, frame.Method) and reply.channel_number == 0
    assert isinstance(reply.method, spec.Connection.UpdateSecretOk)
    # Still usable afterwards.
    open_channel(conn)


def test_update_secret_checks_arguments(conn: SelectConnection) -> None:
    with pytest.raises(TypeError):
        conn.update_secret(b"bytes", "reason")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        conn.update_secret("secret", "reason", callback="no")  # type: ignore[arg-type]


@pytest.fixture
def alarm_node(extra_broker: ExtraBrokerNode) -> Iterator[ExtraBrokerNode]:
    extra_broker.set_vm_memory_high_watermark(0.4)
    yield extra_broker
    extra_broker.set_vm_memory_high_watermark(0.4)


@pytest.mark.timeout(120)
def test_blocked_and_unblocked_callbacks(alarm_node: ExtraBrokerNode) -> None:
    rec = Recorder()
    conn = open_connection(URLParameters(alarm_node.url()))
    conn.add_on_connection_blocked_callback(rec.cb("blocked"))
    conn.add_on_connection_unblocked_callback(rec.cb("unblocked"))
    chan = open_channel(conn)
    alarm_node.set_vm_memory_high_watermark(0.0000001)
    chan.basic_publish("", "nowhere", b"sets off the block")
    pump(conn.ioloop, rec.has("blocked"), timeout=30)
    blocked_conn, blocked = rec.one("blocked")
    assert blocked_conn is conn and conn.is_blocked
    assert isinstance(blocked, frame.Method)
    assert isinstance(blocked.method, spec.Connection.Blocked)
    alarm_node.set_vm_memory_high_watermark(0.4)
    pump(conn.ioloop, rec.has("unblocked"), timeout=30)
    _conn, unblocked = rec.one("unblocked")
    assert isinstance(unblocked.method, spec.Connection.Unblocked)
    assert not conn.is_blocked and conn.is_open
    close_connection(conn)
    conn.ioloop.close()


@pytest.mark.timeout(120)
def test_blocked_connection_timeout_closes_connection(alarm_node: ExtraBrokerNode) -> None:
    rec = Recorder()
    params = URLParameters(alarm_node.url())
    params.blocked_connection_timeout = 1.0
    conn = open_connection(params, on_close_callback=rec.cb("close"))
    conn.add_on_connection_blocked_callback(rec.cb("blocked"))
    chan = open_channel(conn)
    alarm_node.set_vm_memory_high_watermark(0.0000001)
    chan.basic_publish("", "nowhere", b"sets off the block")
    pump(conn.ioloop, rec.has("blocked"), timeout=30)
    blocked_at = time.monotonic()
    pump(conn.ioloop, rec.has("close"), timeout=10)
    assert 0.8 <= time.monotonic() - blocked_at < 5
    _conn, error = rec.one("close")
    assert isinstance(error, exceptions.ConnectionBlockedTimeout)
    assert isinstance(error, exceptions.AMQPConnectionError)
    assert conn.is_closed
    conn.ioloop.close()


def test_add_callback_threadsafe_from_another_thread(conn: SelectConnection) -> None:
    chan = open_channel(conn)
    queue = declare_queue(chan, conn.ioloop)
    received: list[bytes] = []

    def on_message(ch: Channel, method: Any, _props: Any, body: bytes) -> None:
        received.append(body)
        ch.basic_ack(method.delivery_tag)
        if len(received) == 3:
            conn.ioloop.stop()

    chan.basic_consume(queue, on_message)
    loop_threads: list[int] = []

    def publish(number: int) -> None:
        loop_threads.append(threading.get_ident())
        chan.basic_publish("", queue, f"from thread {number}")

    def producer() -> None:
        for number in range(3):
            time.sleep(0.05)
            conn.ioloop.add_callback_threadsafe(lambda number=number: publish(number))

    thread = threading.Thread(target=producer)
    thread.start()
    run_loop(conn.ioloop)
    thread.join()
    assert received == [b"from thread 0", b"from thread 1", b"from thread 2"]
    assert set(loop_threads) == {threading.get_ident()}


def test_stop_from_another_thread_wakes_an_idle_loop(conn: SelectConnection) -> None:
    timer = threading.Timer(0.2, conn.ioloop.stop)
    started = time.monotonic()
    timer.start()
    run_loop(conn.ioloop, timeout=5)
    assert time.monotonic() - started < 2


def test_two_connections_on_one_custom_ioloop(params: URLParameters) -> None:
    loop = IOLoop()
    first = open_connection(params, ioloop=loop)
    second = open_connection(params, ioloop=loop)
    assert first.ioloop is loop and second.ioloop is loop
    chan_a, chan_b = open_channel(first), open_channel(second)
    queue = declare_queue(chan_b, loop)
    rec = Recorder()
    chan_b.basic_consume(queue, rec.cb("message"), auto_ack=True)
    chan_a.basic_publish("", queue, b"across connections")
    pump(loop, rec.has("message"))
    assert rec.one("message")[3] == b"across connections"
    close_connection(first)
    close_connection(second)
    loop.close()


def test_call_later_and_remove_timeout_in_use(conn: SelectConnection) -> None:
    rec = Recorder()
    loop = conn.ioloop
    cancelled = loop.call_later(0.05, rec.cb("cancelled"))
    loop.call_later(0.1, rec.cb("fired"))
    loop.remove_timeout(cancelled)
    loop.call_later(0.2, loop.stop)
    run_loop(loop)
    assert len(rec.get("fired")) == 1
    assert rec.get("cancelled") == []


def test_exception_from_on_message_leaves_connection_usable(conn: SelectConnection) -> None:
    chan = open_channel(conn)
    queue = declare_queue(chan, conn.ioloop)
    received: list[bytes] = []

    class Boom(Exception):
        pass

    def on_message(ch: Channel, method: Any, _props: Any, body: bytes) -> None:
        received.append(body)
        ch.basic_ack(method.delivery_tag)
        if body == b"raise":
            raise Boom("user callback failed")
        if body == b"stop":
            conn.ioloop.stop()

    chan.basic_consume(queue, on_message)
    for body in (b"before", b"raise", b"after", b"stop"):
        chan.basic_publish("", queue, body)
    with pytest.raises(Boom):
        run_loop(conn.ioloop)
    assert received == [b"before", b"raise"]
    assert conn.is_open and chan.is_open
    # Started again, the loop carries on with what was already received.
    run_loop(conn.ioloop)
    assert received == [b"before", b"raise", b"after", b"stop"]
    assert conn.is_open and chan.is_open
    pump(conn.ioloop, lambda: broker.queue_info(queue) is not None)
    info = broker.queue_info(queue)
    assert info is not None and info.messages == 0


def test_exception_from_open_callback_propagates_and_connection_stays_open(
    params: URLParameters,
) -> None:
    def on_open(_conn: Any) -> None:
        raise RuntimeError("from on_open")

    params.stack_timeout = 1.0
    conn = SelectConnection(params, on_open_callback=on_open)
    with pytest.raises(RuntimeError, match="from on_open"):
        run_loop(conn.ioloop)
    assert conn.is_open
    chan = open_channel(conn)
    assert chan.is_open
    # The connection workflow finished too: its stack timeout does not fire.
    until = time.monotonic() + 1.5
    pump(conn.ioloop, lambda: time.monotonic() >= until)
    assert conn.is_open
    close_connection(conn)
    conn.ioloop.close()


def test_exception_from_close_callback_still_closes(params: URLParameters) -> None:
    def on_close(_conn: Any, _error: Any) -> None:
        raise RuntimeError("from on_close")

    conn = open_connection(params, on_close_callback=on_close)
    conn.close()
    with pytest.raises(RuntimeError, match="from on_close"):
        run_loop(conn.ioloop)
    assert conn.is_closed
    conn.ioloop.close()


def test_failing_channel_close_callback_does_not_starve_the_others(
    params: URLParameters,
) -> None:
    rec = Recorder()
    conn = open_connection(params, on_close_callback=rec.cb("connection"))
    first, second = open_channel(conn), open_channel(conn)

    def failing(_chan: Channel, _error: Exception) -> None:
        raise RuntimeError("from a channel close callback")

    first.add_on_close_callback(failing)
    first.add_on_close_callback(rec.cb("first"))
    second.add_on_close_callback(rec.cb("second"))
    conn.close()
    with pytest.raises(RuntimeError, match="from a channel close callback"):
        pump(conn.ioloop, lambda: conn.is_closed)
    assert conn.is_closed and first.is_closed and second.is_closed
    assert len(rec.get("first")) == len(rec.get("second")) == 1
    assert isinstance(rec.one("connection")[1], exceptions.ConnectionClosedByClient)
    conn.ioloop.close()


def test_wrong_credentials_report_probable_authentication_error(params: URLParameters) -> None:
    rec = Recorder()
    bad = ConnectionParameters(
        host=params.host, port=params.port, credentials=PlainCredentials("guest", "wrong")
    )
    conn = SelectConnection(bad, on_open_error_callback=rec.cb("error"))
    pump(conn.ioloop, rec.has("error"))
    _conn, error = rec.one("error")
    assert isinstance(error, exceptions.ProbableAuthenticationError)
    assert isinstance(error, exceptions.AMQPConnectionError)
    assert conn.is_closed
    conn.ioloop.close()


def test_unknown_vhost_reports_probable_access_denied(params: URLParameters) -> None:
    rec = Recorder()
    bad = ConnectionParameters(host=params.host, port=params.port, virtual_host=unique("vhost"))
    conn = SelectConnection(bad, on_open_error_callback=rec.cb("error"))
    pump(conn.ioloop, rec.has("error"))
    _conn, error = rec.one("error")
    assert isinstance(error, exceptions.ProbableAccessDeniedError)
    conn.ioloop.close()


@pytest.mark.parametrize("stage", ["connecting", "handshake"])
def test_close_while_opening_reports_open_aborted(params: URLParameters, stage: str) -> None:
    rec = Recorder()
    conn = SelectConnection(params, on_open_error_callback=rec.cb("error"))
    if stage == "handshake":
        pump(conn.ioloop, lambda: conn.connection_state == conn.CONNECTION_PROTOCOL)
    conn.close()
    pump(conn.ioloop, rec.has("error"))
    _conn, error = rec.one("error")
    assert isinstance(error, exceptions.ConnectionOpenAborted)
    assert conn.is_closed
    conn.ioloop.close()
