"""`BlockingConnection` against the real broker: connecting (and every way
it can fail), closing, the loop-driving calls, timers, the thread-safe
callback, blocked notices, update_secret and the capability properties."""

from __future__ import annotations

import threading
import time
from typing import Callable

import pytest

from pika import exceptions, frame, spec
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.adapters.utils import connection_workflow
from pika.connection import ConnectionParameters, URLParameters
from pika.credentials import PlainCredentials
from tests.integration.blocking_support import (
    connection_fixture,
    memory_alarm,
    open_connection,
    parameters,
    unique,
)
from tests.utils.extra_node import ExtraBrokerNode
from tests.utils.proxy import TcpProxy
from tests.utils.sockets import free_ports

pytestmark = pytest.mark.broker


conn = connection_fixture()


def closed_port() -> int:
    """A local port nothing listens on."""
    return free_ports(1)[0]


# ------------------------------------------------------------------ opening


def test_opens_and_closes_as_a_context_manager(broker_url: str) -> None:
    with BlockingConnection(URLParameters(broker_url)) as connection:
        assert connection.is_open and not connection.is_closed
        assert isinstance(connection.channel(), BlockingChannel)
    assert connection.is_closed and not connection.is_open


def test_tries_a_sequence_of_parameters_in_turn(broker_url: str) -> None:
    dead = ConnectionParameters("127.0.0.1", closed_port(), connection_attempts=1)
    with BlockingConnection([dead, parameters(broker_url)]) as connection:
        assert connection.is_open


def test_refused_connection_raises_an_amqp_connection_error() -> None:
    params = ConnectionParameters("127.0.0.1", closed_port(), connection_attempts=2, retry_delay=0)
    with pytest.raises(exceptions.AMQPConnectionError) as caught:
        BlockingConnection(params)
    error = caught.value
    assert isinstance(error, connection_workflow.AMQPConnectionWorkflowFailed)
    assert len(error.exceptions) == 2
    assert all(
        isinstance(attempt, connection_workflow.AMQPConnectorSocketConnectError)
        for attempt in error.exceptions
    )


def test_wrong_password_raises_probable_authentication_error(broker_url: str) -> None:
    params = parameters(broker_url, credentials=PlainCredentials("guest", "wrong password"))
    with pytest.raises(exceptions.ProbableAuthenticationError):
        BlockingConnection(params)


def test_unknown_vhost_raises_probable_access_denied_error(broker_url: str) -> None:
    params = parameters(broker_url, virtual_host=unique("no-such-vhost"))
    with pytest.raises(exceptions.ProbableAccessDeniedError):
        BlockingConnection(params)


def test_stack_timeout_is_an_amqp_connection_error(broker_url: str) -> None:
    url = URLParameters(broker_url)
    with TcpProxy(url.host, url.port) as proxy:
        proxy.stall()
        params = parameters(proxy.rewrite_url(broker_url), stack_timeout=1.0)
        params.connection_attempts = 1
        started = time.monotonic()
        with pytest.raises(exceptions.AMQPConnectionError) as caught:
            BlockingConnection(params)
        assert time.monotonic() - started < 5
    attempts = caught.value.exceptions  # type: ignore[attr-defined]
    assert isinstance(attempts[-1], connection_workflow.AMQPConnectorStackTimeout)


def test_rejects_what_is_not_parameters() -> None:
    with pytest.raises(TypeError):
        BlockingConnection("amqp://localhost")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        BlockingConnection([])


# ------------------------------------------------------------------ closing


def test_second_close_raises_connection_wrong_state(conn: BlockingConnection) -> None:
    conn.close()
    assert conn.is_closed
    with pytest.raises(exceptions.ConnectionWrongStateError):
        conn.close()


def test_calls_on_a_closed_connection_raise_wrong_state(conn: BlockingConnection) -> None:
    conn.close()
    for call in (conn.process_data_events, conn.channel, lambda: conn.sleep(0)):
        with pytest.raises(exceptions.ConnectionWrongStateError):
            call()
    with pytest.raises(exceptions.ConnectionWrongStateError):
        conn.add_callback_threadsafe(lambda: None)


def test_close_closes_the_channels(conn: BlockingConnection) -> None:
    channels = [conn.channel() for _ in range(3)]
    conn.close()
    assert all(channel.is_closed for channel in channels)


def test_close_from_a_callback_ends_sleep_quietly(conn: BlockingConnection) -> None:
    conn.call_later(0.1, conn.close)
    started = time.monotonic()
    conn.sleep(5)
    assert time.monotonic() - started < 3
    assert conn.is_closed


def test_close_from_a_callback_ends_process_data_events(conn: BlockingConnection) -> None:
    conn.call_later(0.1, conn.close)
    conn.process_data_events(time_limit=None)
    assert conn.is_closed
    with pytest.raises(exceptions.ConnectionWrongStateError):
        conn.process_data_events()


def test_channel_numbers(conn: BlockingConnection) -> None:
    first = conn.channel()
    chosen = conn.channel(7)
    assert first.channel_number == 1 and int(first) == 1
    assert chosen.channel_number == 7
    assert chosen.connection is conn


# ------------------------------------------------------- driving the loop


def test_process_data_events_zero_returns_at_once(conn: BlockingConnection) -> None:
    started = time.monotonic()
    conn.process_data_events()
    conn.process_data_events(0)
    assert time.monotonic() - started < 0.5


def test_process_data_events_waits_up_to_its_time_limit(conn: BlockingConnection) -> None:
    started = time.monotonic()
    conn.process_data_events(time_limit=0.3)
    assert 0.25 <= time.monotonic() - started < 2


def test_process_data_events_none_returns_after_a_dispatch(conn: BlockingConnection) -> None:
    fired: list[float] = []
    conn.call_later(0.2, lambda: fired.append(time.monotonic()))
    started = time.monotonic()
    conn.process_data_events(time_limit=None)
    assert fired and fired[0] - started >= 0.15


def test_sleep_runs_timers_and_lasts_its_duration(conn: BlockingConnection) -> None:
    fired: list[str] = []
    conn.call_later(0.1, lambda: fired.append("a"))
    cancelled = conn.call_later(0.2, lambda: fired.append("cancelled"))
    conn.call_later(0.3, lambda: fired.append("b"))
    conn.remove_timeout(cancelled)
    started = time.monotonic()
    conn.sleep(0.5)
    assert time.monotonic() - started >= 0.45
    assert fired == ["a", "b"]
    conn.remove_timeout(cancelled)


def test_call_later_returns_distinct_ids_and_checks_arguments(conn: BlockingConnection) -> None:
    first = conn.call_later(10, lambda: None)
    second = conn.call_later(10, lambda: None)
    assert isinstance(first, int) and first != second
    with pytest.raises(TypeError):
        conn.call_later(1, "not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        conn.sleep(-1)


def test_timer_removed_after_it_fired_but_before_dispatch(conn: BlockingConnection) -> None:
    fired: list[int] = []
    timer = conn.call_later(0, lambda: fired.append(1))
    channel = conn.channel()
    # A blocking call turns the loop (the timer fires) but does not dispatch.
    channel.queue_declare("", exclusive=True)
    conn.remove_timeout(timer)
    conn.process_data_events(0.1)
    assert fired == []


def test_callback_exception_propagates_and_later_callbacks_still_run(
    conn: BlockingConnection,
) -> None:
    ran: list[str] = []

    def boom() -> None:
        raise RuntimeError("from a timer")

    conn.call_later(0, boom)
    conn.call_later(0, lambda: ran.append("second"))
    with pytest.raises(RuntimeError, match="from a timer"):
        conn.process_data_events(time_limit=1)
    assert ran == []
    conn.process_data_events()
    assert ran == ["second"]


def test_add_callback_threadsafe_runs_in_the_connection_thread(
    conn: BlockingConnection,
) -> None:
    ran_in: list[int] = []

    def from_other_thread() -> None:
        time.sleep(0.2)
        conn.add_callback_threadsafe(lambda: ran_in.append(threading.get_ident()))

    worker = threading.Thread(target=from_other_thread)
    worker.start()
    started = time.monotonic()
    conn.process_data_events(time_limit=None)
    worker.join()
    assert ran_in == [threading.get_ident()]
    assert time.monotonic() - started < 5


def test_add_callback_threadsafe_checks_its_argument(conn: BlockingConnection) -> None:
    with pytest.raises(TypeError):
        conn.add_callback_threadsafe("no")  # type: ignore[arg-type]


# ------------------------------------------------------- broker features


def test_capability_properties(conn: BlockingConnection) -> None:
    for name in (
        "basic_nack",
        "consumer_cancel_notify",
        "exchange_exchange_bindings",
        "publisher_confirms",
    ):
        assert getattr(conn, name) is True
        assert getattr(conn, f"{name}_supported") is True


def test_update_secret(conn: BlockingConnection, broker_url: str) -> None:
    credentials = URLParameters(broker_url).credentials
    assert isinstance(credentials, PlainCredentials)
    password = credentials.password
    conn.update_secret(password, "a refreshed secret")
    assert conn.is_open
    conn.channel().queue_declare("", exclusive=True)


def test_update_secret_refuses_a_secret_that_is_not_str_even_under_python_o(
    broker_url: str,
) -> None:
    """A TypeError, not an assert (which ``python -O`` removes): nothing is
    sent, and the connection stays usable."""
    import subprocess
    import sys

    program = (
        "import sys, pika\n"
        "with pika.BlockingConnection(pika.URLParameters(sys.argv[1])) as conn:\n"
        "    for secret, reason in ((b'bytes', 'r'), (None, 'r'), ('s', b'r')):\n"
        "        try:\n"
        "            conn.update_secret(secret, reason)\n"
        "        except TypeError:\n"
        "            pass\n"
        "        else:\n"
        "            sys.exit('no TypeError for %r, %r' % (secret, reason))\n"
        "    conn.channel().queue_declare('', exclusive=True)\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-O", "-c", program, broker_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def idle_in_sleep(conn: BlockingConnection, seconds: float) -> None:
    conn.sleep(seconds)


def idle_in_process_data_events(conn: BlockingConnection, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        conn.process_data_events(time_limit=deadline - time.monotonic())


def idle_in_start_consuming(conn: BlockingConnection, seconds: float) -> None:
    chan = conn.channel()
    queue = str(chan.queue_declare("", exclusive=True).method.queue)
    chan.basic_consume(queue, lambda *args: None)
    conn.call_later(seconds, chan.stop_consuming)
    chan.start_consuming()


def idle_in_consume_generator(conn: BlockingConnection, seconds: float) -> None:
    chan = conn.channel()
    queue = str(chan.queue_declare("", exclusive=True).method.queue)
    assert next(chan.consume(queue, inactivity_timeout=seconds)) == (None, None, None)
    chan.cancel()


@pytest.mark.parametrize(
    "idle",
    [
        idle_in_sleep,
        idle_in_process_data_events,
        idle_in_start_consuming,
        idle_in_consume_generator,
    ],
)
def test_heartbeats_keep_an_idle_connection_alive(
    broker_url: str, idle: Callable[[BlockingConnection, float], None]
) -> None:
    # With a 1 s heartbeat, both sides give up after about 2 s of silence:
    # the connection survives 3.5 s only if heartbeats flow both ways.
    with open_connection(broker_url, heartbeat=1) as connection:
        idle(connection, 3.5)
        assert connection.is_open
        connection.channel().queue_declare("", exclusive=True)


@pytest.mark.timeout(120)
def test_blocked_and_unblocked_callbacks(extra_broker: ExtraBrokerNode) -> None:
    notices: list[tuple[object, object]] = []
    with open_connection(extra_broker.url()) as connection:
        connection.add_on_connection_blocked_callback(lambda *args: notices.append(args))
        connection.add_on_connection_unblocked_callback(lambda *args: notices.append(args))
        channel = connection.channel()
        deadline = time.monotonic() + 30
        with memory_alarm(extra_broker):
            channel.basic_publish("", "nowhere", b"sets off the block")
            while not notices and time.monotonic() < deadline:
                connection.process_data_events(0.5)
        while len(notices) < 2 and time.monotonic() < deadline:
            connection.process_data_events(0.5)
    (blocked_conn, blocked), (unblocked_conn, unblocked) = notices
    assert blocked_conn is connection and unblocked_conn is connection
    assert isinstance(blocked, frame.Method) and isinstance(blocked.method, spec.Connection.Blocked)
    assert isinstance(unblocked, frame.Method)
    assert isinstance(unblocked.method, spec.Connection.Unblocked)


@pytest.mark.timeout(120)
def test_blocked_connection_timeout_raises_from_the_waiting_call(
    extra_broker: ExtraBrokerNode,
) -> None:
    params = parameters(extra_broker.url(), blocked_connection_timeout=1.0)
    connection = BlockingConnection(params)
    channel = connection.channel()
    with memory_alarm(extra_broker):
        channel.basic_publish("", "nowhere", b"sets off the block")
        started = time.monotonic()
        with pytest.raises(exceptions.ConnectionBlockedTimeout):
            connection.process_data_events(time_limit=30)
        assert time.monotonic() - started < 20
    assert connection.is_closed
