"""A lost connection raises from whatever blocking call was waiting, and
never hangs it.

Each waiting call (queue_declare, basic_publish with confirms, the consume
generator, start_consuming, process_data_events) is hit by each fault, the
client talking to the broker through the TCP proxy:

- the proxy resets the TCP connection: StreamLostError at once;
- ``rabbitmqctl close_connection``: ConnectionClosedByBroker (320) at once.
  The proxy holds traffic while the broker closes, so the request the call
  waits on never reaches a broker that would still answer it;
- the proxy goes silent: AMQPHeartbeatTimeout within two heartbeat
  intervals (plus the half-interval tick granularity).
"""

from __future__ import annotations

import time
from typing import Any, Callable

import pytest

from pika import exceptions
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from tests.integration.blocking_support import (
    broker_close,
    broker_connection_id,
    connection_name,
    later,
    parameters,
)
from tests.utils import broker
from tests.utils.proxy import TcpProxy
from tests.utils.wait import wait_until

pytestmark = pytest.mark.broker

HEARTBEAT = 1
PROMPT = 3.0
"""Seconds within which a reset or a broker close must surface."""


def wait_for_queue_declare(conn: BlockingConnection, chan: BlockingChannel, queue: str) -> None:
    chan.queue_declare(queue, passive=True)


def wait_for_confirm(conn: BlockingConnection, chan: BlockingChannel, queue: str) -> None:
    chan.basic_publish("", queue, b"awaiting its confirm")


def wait_in_consume_generator(conn: BlockingConnection, chan: BlockingChannel, queue: str) -> None:
    for _message in chan.consume(queue):
        raise AssertionError("no message was published")


def wait_in_start_consuming(conn: BlockingConnection, chan: BlockingChannel, queue: str) -> None:
    chan.start_consuming()


def wait_in_process_data_events(
    conn: BlockingConnection, chan: BlockingChannel, queue: str
) -> None:
    conn.process_data_events(time_limit=None)


WaitingCall = Callable[[BlockingConnection, BlockingChannel, str], None]

WAITING_CALLS: dict[str, WaitingCall] = {
    "queue_declare": wait_for_queue_declare,
    "basic_publish_confirmed": wait_for_confirm,
    "consume_generator": wait_in_consume_generator,
    "start_consuming": wait_in_start_consuming,
    "process_data_events": wait_in_process_data_events,
}


def prepared(
    proxy: TcpProxy, broker_url: str, call: str, **settings: Any
) -> tuple[BlockingConnection, BlockingChannel, str, str]:
    params = parameters(proxy.rewrite_url(broker_url), **settings)
    conn = BlockingConnection(params)
    chan = conn.channel()
    queue = str(chan.queue_declare("", exclusive=True).method.queue)
    if call == "basic_publish_confirmed":
        chan.confirm_delivery()
    if call == "start_consuming":
        chan.basic_consume(queue, lambda *args: None)
    return conn, chan, queue, connection_name(params)


def raises_from(
    call: str, conn: BlockingConnection, chan: BlockingChannel, queue: str
) -> tuple[BaseException, float]:
    """Run the waiting call; return what it raised and when."""
    with pytest.raises(exceptions.AMQPConnectionError) as caught:
        WAITING_CALLS[call](conn, chan, queue)
    return caught.value, time.monotonic()


def assert_dead_and_quiet(conn: BlockingConnection, chan: BlockingChannel) -> None:
    """After the error: everything is closed and further calls fail at once."""
    assert conn.is_closed and chan.is_closed
    with pytest.raises(exceptions.ConnectionWrongStateError):
        conn.process_data_events()
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.queue_declare("", exclusive=True)
    with pytest.raises(exceptions.ConnectionWrongStateError):
        conn.close()


@pytest.mark.parametrize("call", list(WAITING_CALLS))
def test_proxy_reset_raises_stream_lost_error(proxy: TcpProxy, broker_url: str, call: str) -> None:
    conn, chan, queue, _name = prepared(proxy, broker_url, call)
    proxy.stall()
    fault = later(0.5, proxy.cut)
    error, raised_at = raises_from(call, conn, chan, queue)
    fault.join()
    assert isinstance(error, exceptions.StreamLostError), repr(error)
    assert fault.done_at is not None and raised_at - fault.done_at < PROMPT
    assert_dead_and_quiet(conn, chan)


@pytest.mark.parametrize("call", list(WAITING_CALLS))
def test_broker_close_raises_connection_closed_by_broker(
    proxy: TcpProxy, broker_url: str, call: str
) -> None:
    conn, chan, queue, name = prepared(proxy, broker_url, call)
    connection_id = wait_until(lambda: broker_connection_id(name), message="connection listed")

    def close_then_resume() -> None:
        try:
            broker.close_connection(connection_id, "closed by a fault test")
            time.sleep(0.2)
        finally:
            proxy.resume()

    proxy.stall()
    fault = later(0.3, close_then_resume)
    error, raised_at = raises_from(call, conn, chan, queue)
    fault.join()
    assert isinstance(error, exceptions.ConnectionClosedByBroker), repr(error)
    assert error.reply_code == 320
    assert "closed by a fault test" in error.reply_text
    assert fault.done_at is not None and raised_at - fault.done_at < PROMPT
    assert_dead_and_quiet(conn, chan)


@pytest.mark.parametrize("call", list(WAITING_CALLS))
def test_silent_peer_raises_heartbeat_timeout(proxy: TcpProxy, broker_url: str, call: str) -> None:
    conn, chan, queue, _name = prepared(proxy, broker_url, call, heartbeat=HEARTBEAT)
    proxy.stall()
    stalled_at = time.monotonic()
    error, raised_at = raises_from(call, conn, chan, queue)
    assert isinstance(error, exceptions.AMQPHeartbeatTimeout), repr(error)
    # Two intervals without data, detected at a tick (every half interval).
    assert raised_at - stalled_at < 3.5 * HEARTBEAT
    assert_dead_and_quiet(conn, chan)


def test_broker_close_while_idle_is_raised_by_the_next_call(broker_url: str) -> None:
    params = parameters(broker_url)
    conn = BlockingConnection(params)
    chan = conn.channel()
    # The broker sends Connection.Close at once and waits for Close-Ok,
    # which this idle client sends only when a call turns its loop.
    broker_close(connection_name(params))
    time.sleep(0.2)
    with pytest.raises(exceptions.ConnectionClosedByBroker):
        chan.queue_declare("", exclusive=True)
    assert_dead_and_quiet(conn, chan)


def test_reconnecting_after_a_loss_works(proxy: TcpProxy, broker_url: str) -> None:
    conn, _chan, _queue, _name = prepared(proxy, broker_url, "process_data_events")
    proxy.cut()
    with pytest.raises(exceptions.StreamLostError):
        conn.process_data_events(time_limit=5)
    with BlockingConnection(parameters(proxy.rewrite_url(broker_url))) as again:
        again.channel().queue_declare("", exclusive=True)
