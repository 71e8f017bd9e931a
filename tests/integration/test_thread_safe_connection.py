"""The thread-safe `Connection` and `Channel` against the real broker.

Threads here are real: publishers, consumers and closers run concurrently
and every outcome is checked through the broker (message ids, queue
counters, ``rabbitmqctl``). Faults come from the test proxy (stall) and
from the broker (closing a connection, a memory alarm on an extra node).
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, Callable

import pytest

import pika
from pika import exceptions, spec
from pika.adapters import thread_safe_connection as tsc
from pika.adapters.thread_safe_connection import Channel, Connection, ReplyTimeout
from pika.connection import ConnectionParameters, URLParameters
from pika.credentials import PlainCredentials
from tests.utils import broker
from tests.utils.extra_node import ExtraBrokerNode
from tests.utils.proxy import TcpProxy
from tests.utils.wait import wait_until

pytestmark = pytest.mark.broker


def unique(prefix: str) -> str:
    return f"pika-test-tsc-{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def params(broker_url: str) -> URLParameters:
    return URLParameters(broker_url)


@pytest.fixture
def conn(params: URLParameters) -> Iterator[Connection]:
    connection = Connection(params)
    yield connection
    connection.abort()


@pytest.fixture
def chan(conn: Connection) -> Channel:
    return conn.channel()


def declare(channel: Channel, **arguments: Any) -> str:
    reply = channel.queue_declare("", exclusive=True, arguments=arguments or None)
    assert isinstance(reply.method, spec.Queue.DeclareOk)
    return str(reply.method.queue)


def run_threads(count: int, target: Callable[[int], None], timeout: float = 60) -> None:
    """Run ``target(i)`` on ``count`` threads at once; re-raise the first failure."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def body(index: int) -> None:
        try:
            start.wait()
            target(index)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a thread did not finish"
    if errors:
        raise errors[0]


def message_count(channel: Channel, queue: str) -> int:
    return int(channel.queue_declare(queue, passive=True).method.message_count)


# ----------------------------------------------------------- open and close


def test_module_constants_and_top_level_name() -> None:
    assert pika.Connection is Connection
    assert tsc.DEFAULT_RPC_TIMEOUT == 10
    assert tsc.DEFAULT_WORK_QUEUE_MAXSIZE == 1000
    assert tsc.DEFAULT_WORK_QUEUE_PUT_TIMEOUT == 30.0
    assert issubclass(ReplyTimeout, exceptions.AMQPError)
    assert issubclass(ReplyTimeout, TimeoutError)


def test_open_close_and_context_manager(params: URLParameters) -> None:
    closed: list[BaseException] = []
    with Connection(params, on_close_callback=lambda _c, error: closed.append(error)) as conn:
        assert conn.is_open and not conn.is_closed
        assert "open" in repr(conn)
        io_threads = [t for t in threading.enumerate() if t.name.startswith("pika-io-")]
        assert io_threads and all(t.daemon for t in io_threads)
    assert conn.is_closed and not conn.is_open
    wait_until(lambda: closed, message="on_close_callback")
    assert isinstance(closed[0], exceptions.ConnectionClosedByClient)
    conn.close()  # a second close is harmless
    with pytest.raises(exceptions.ConnectionWrongStateError):
        conn.channel()


def test_open_failure_is_a_connection_error(broker_url: str) -> None:
    good = URLParameters(broker_url)
    bad = ConnectionParameters(
        host=good.host,
        port=good.port,
        credentials=PlainCredentials("guest", "wrong-password"),
    )
    reported: list[BaseException] = []
    with pytest.raises(exceptions.AMQPConnectionError) as raised:
        Connection(bad, on_open_error_callback=lambda _c, error: reported.append(error))
    assert reported == [raised.value]


def test_open_refused_is_a_connection_error() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(exceptions.AMQPConnectionError):
        Connection(ConnectionParameters(host="127.0.0.1", port=port))


def test_open_timeout_aborts_the_attempt() -> None:
    # A listener that never answers: TCP connects, the AMQP handshake never starts.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        before = time.monotonic()
        with pytest.raises(exceptions.ConnectionOpenAborted):
            Connection(ConnectionParameters(host="127.0.0.1", port=port), timeout=0.5)
        assert time.monotonic() - before < 5
    wait_until(
        lambda: not [t for t in threading.enumerate() if t.name == f"pika-io-127.0.0.1:{port}"],
        message="the I/O thread ends",
    )


def test_close_from_many_threads_at_once(conn: Connection) -> None:
    channels = [conn.channel() for _ in range(3)]
    run_threads(8, lambda _i: conn.close())
    assert conn.is_closed
    assert all(channel.is_closed for channel in channels)
    with pytest.raises(exceptions.AMQPError):
        channels[0].queue_declare("whatever")
    with pytest.raises(exceptions.AMQPError):
        channels[0].basic_publish("", "whatever", b"late")


def named_connection(params: URLParameters, closed: list[BaseException]) -> tuple[Connection, str]:
    """A connection the broker lists under a unique connection_name, and that name."""
    name = unique("named")
    conn = Connection(
        ConnectionParameters(
            host=params.host,
            port=params.port,
            credentials=params.credentials,
            client_properties={"connection_name": name},
        ),
        on_close_callback=lambda _c, error: closed.append(error),
    )
    return conn, name


def broker_pids(name: str) -> list[str]:
    """The broker's pids of the connections named ``name``."""
    rows = broker.list_connections(("pid", "client_properties"))
    return [row["pid"] for row in rows if name in row["client_properties"]]


def test_abort_drops_the_connection(params: URLParameters) -> None:
    closed: list[BaseException] = []
    conn, name = named_connection(params, closed)
    conn.abort()
    assert conn.is_closed
    conn.abort()  # harmless once closed
    conn.close()
    wait_until(lambda: closed, message="on_close_callback")
    wait_until(lambda: not broker_pids(name), message="the broker forgets the connection")


def test_connection_closed_by_broker(params: URLParameters) -> None:
    closed: list[BaseException] = []
    conn, name = named_connection(params, closed)
    channel = conn.channel()
    pids = wait_until(lambda: broker_pids(name), message="the broker lists the connection")
    broker.close_connection(pids[0], "closed by the thread-safe test")
    wait_until(lambda: closed, message="on_close_callback")
    assert isinstance(closed[0], exceptions.ConnectionClosedByBroker)
    assert conn.is_closed and channel.is_closed
    with pytest.raises(exceptions.AMQPError):
        channel.queue_declare(unique("after"))
    conn.close()


# ------------------------------------------------------------ the channels


def test_every_queue_and_exchange_method(chan: Channel) -> None:
    exchange, other = unique("x"), unique("x2")
    assert isinstance(chan.channel_number, int) and chan.is_open and not chan.is_closed
    reply = chan.exchange_declare(exchange, "fanout")
    assert isinstance(reply.method, spec.Exchange.DeclareOk)
    chan.exchange_declare(other, exchange_type="direct", durable=False, auto_delete=True)
    assert isinstance(chan.exchange_bind(other, exchange).method, spec.Exchange.BindOk)
    assert isinstance(chan.exchange_unbind(other, exchange).method, spec.Exchange.UnbindOk)
    queue = declare(chan)
    assert isinstance(chan.queue_bind(queue, exchange, "k").method, spec.Queue.BindOk)
    chan.basic_publish(exchange, "k", b"via the exchange")
    wait_until(lambda: message_count(chan, queue) == 1, message="the message arrives")
    assert isinstance(chan.queue_unbind(queue, exchange, "k").method, spec.Queue.UnbindOk)
    purged = chan.queue_purge(queue)
    assert purged.method.message_count == 1
    assert isinstance(chan.basic_qos(prefetch_count=10).method, spec.Basic.QosOk)
    assert isinstance(chan.exchange_delete(other).method, spec.Exchange.DeleteOk)
    assert isinstance(
        chan.exchange_delete(exchange, if_unused=False).method, spec.Exchange.DeleteOk
    )
    assert isinstance(chan.queue_delete(queue).method, spec.Queue.DeleteOk)
    chan.close()
    assert chan.is_closed
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.close()
    chan.abort()  # harmless on a closed channel


def test_basic_get_ack_nack_and_reject(chan: Channel) -> None:
    queue = declare(chan)
    assert chan.basic_get(queue) == (None, None, None)
    for body in (b"one", b"two", b"three"):
        chan.basic_publish("", queue, body, spec.BasicProperties(content_type="text/plain"))
    wait_until(lambda: message_count(chan, queue) == 3, message="three messages queued")
    method, properties, body = chan.basic_get(queue)
    assert isinstance(method, spec.Basic.GetOk) and body == b"one"
    assert properties.content_type == "text/plain"
    chan.basic_reject(int(method.delivery_tag or 0), requeue=False)
    method, _, body = chan.basic_get(queue)
    assert body == b"two"
    chan.basic_nack(int(method.delivery_tag), requeue=True)
    seen = set()
    for _ in range(2):
        method, _, body = chan.basic_get(queue)
        seen.add(body)
        chan.basic_ack(method.delivery_tag)
    assert seen == {b"two", b"three"}
    assert chan.basic_get(queue, auto_ack=True) == (None, None, None)
    with pytest.raises(TypeError):
        chan.basic_ack("1")  # type: ignore[arg-type]


def test_basic_get_from_many_threads(conn: Connection) -> None:
    channel = conn.channel()
    queue = declare(channel)
    for number in range(200):
        channel.basic_publish("", queue, str(number))
    wait_until(lambda: message_count(channel, queue) == 200, message="messages queued")
    bodies: list[bytes] = []

    def drain(_index: int) -> None:
        while True:
            method, _properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return
            bodies.append(body)

    run_threads(6, drain)
    assert sorted(bodies) == sorted(str(n).encode() for n in range(200))


def test_consume_cancel_and_broker_cancel(conn: Connection, chan: Channel) -> None:
    queue = declare(chan)
    got: list[tuple[str, bytes, Channel]] = []
    cancelled: list[Any] = []
    chan.add_on_cancel_callback(cancelled.append)

    def on_message(ch: Channel, method: Any, _properties: Any, body: bytes) -> None:
        got.append((threading.current_thread().name, body, ch))
        ch.basic_ack(method.delivery_tag)

    tag = chan.basic_consume(queue, on_message, consumer_tag=unique("ctag"))
    chan.basic_publish("", queue, b"hello")
    wait_until(lambda: got, message="delivery")
    assert got[0][0] == f"pika-channel-{chan.channel_number}"
    assert got[0][1:] == (b"hello", chan)
    assert isinstance(chan.basic_cancel(tag).method, spec.Basic.CancelOk)
    chan.basic_publish("", queue, b"after cancel")
    wait_until(lambda: message_count(chan, queue) == 1, message="message stays queued")
    assert len(got) == 1
    # The broker cancels a consumer whose queue is deleted.
    queue2 = unique("cancelled")
    chan.queue_declare(queue2, auto_delete=False)
    chan.basic_consume(queue2, lambda *_args: None, auto_ack=True)
    conn.channel().queue_delete(queue2)
    wait_until(lambda: cancelled, message="on_cancel callback")
    assert isinstance(cancelled[0].method, spec.Basic.Cancel)


def test_return_callback_runs_for_unroutable_mandatory(chan: Channel) -> None:
    returned: list[tuple[Any, ...]] = []
    chan.add_on_return_callback(lambda *args: returned.append(args))
    chan.basic_publish("", unique("nowhere"), "unroutable", mandatory=True)
    wait_until(lambda: returned, message="on_return callback")
    channel, method, _properties, body = returned[0]
    assert channel is chan and body == b"unroutable"
    assert isinstance(method, spec.Basic.Return) and method.reply_code == 312


def test_confirms_and_on_publish(chan: Channel) -> None:
    queue = declare(chan)
    outcomes: list[Any] = []
    chan.basic_publish("", queue, b"unconfirmed", on_publish=outcomes.append)
    wait_until(lambda: outcomes, message="on_publish without confirms")
    assert outcomes == [None]
    confirmations: list[Any] = []
    reply = chan.confirm_delivery(confirmations.append)
    assert isinstance(reply.method, spec.Confirm.SelectOk)
    assert chan.next_publish_seq_no == 1
    outcomes.clear()
    for n in range(5):
        chan.basic_publish("", queue, b"confirmed %d" % n, on_publish=outcomes.append)
    assert chan.next_publish_seq_no == 6
    wait_until(lambda: len(outcomes) == 5, message="five confirmations")
    assert outcomes == [None] * 5
    assert {type(c.method) for c in confirmations} == {spec.Basic.Ack}
    # A queue that refuses new messages makes the broker nack them.
    full = declare(chan, **{"x-max-length": 0, "x-overflow": "reject-publish"})
    outcomes.clear()
    chan.basic_publish("", full, b"refused", on_publish=outcomes.append)
    wait_until(lambda: outcomes, message="nack")
    assert isinstance(outcomes[0], exceptions.NackError)
    assert outcomes[0].messages[0].body == b"refused"
    wait_until(
        lambda: any(isinstance(c.method, spec.Basic.Nack) for c in confirmations),
        message="ack_nack_callback gets the nack",
    )


def test_on_publish_reports_a_connection_lost_before_the_confirm(broker_url: str) -> None:
    target = URLParameters(broker_url)
    with TcpProxy(target.host, target.port) as proxy:
        conn = Connection(URLParameters(proxy.rewrite_url(broker_url)))
        channel = conn.channel()
        queue = declare(channel)
        channel.confirm_delivery(lambda _frame: None)
        outcomes: list[Any] = []
        proxy.stall()  # the broker's Basic.Ack never comes back
        channel.basic_publish("", queue, b"unconfirmed", on_publish=outcomes.append)
        conn.abort()
        wait_until(lambda: outcomes, message="on_publish gets the failure")
        assert isinstance(outcomes[0], (exceptions.ChannelClosed, exceptions.ConnectionClosed))
        assert "aborted" in str(outcomes[0])


def test_channel_closed_by_broker(chan: Channel) -> None:
    with pytest.raises(exceptions.ChannelClosedByBroker) as raised:
        chan.queue_declare(unique("missing"), passive=True)
    assert raised.value.reply_code == 404
    assert chan.is_closed
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.basic_publish("", "q", b"x")
    with pytest.raises(exceptions.ChannelWrongStateError):
        chan.queue_declare(unique("after"))


def test_channel_close_from_many_threads(conn: Connection) -> None:
    channel = conn.channel()
    run_threads(6, lambda _i: channel.abort())
    assert channel.is_closed and conn.is_open
    other = conn.channel()
    assert other.channel_number == channel.channel_number  # the number was freed


def test_add_callback_threadsafe_runs_on_the_io_thread(conn: Connection, chan: Channel) -> None:
    seen: list[Any] = []

    def on_io_thread() -> None:
        seen.append(threading.current_thread().name)
        try:
            chan.queue_declare(unique("reentrant"))
        except exceptions.ReentrancyError as error:
            seen.append(error)

    conn.add_callback_threadsafe(on_io_thread)
    wait_until(lambda: len(seen) == 2, message="callback ran")
    assert str(seen[0]).startswith("pika-io-")
    assert isinstance(seen[1], exceptions.ReentrancyError)
    with pytest.raises(TypeError):
        conn.add_callback_threadsafe("not callable")  # type: ignore[arg-type]


# ---------------------------------------------------------------- timeouts


def test_timeouts(broker_url: str) -> None:
    target = URLParameters(broker_url)
    with TcpProxy(target.host, target.port) as proxy:
        conn = Connection(URLParameters(proxy.rewrite_url(broker_url)))
        channel = conn.channel()
        first, second = unique("late"), unique("next")
        proxy.stall()
        with pytest.raises(ReplyTimeout):
            channel.queue_declare(first, exclusive=True, timeout=0.3)
        with pytest.raises(ReplyTimeout):
            conn.channel(timeout=0.3)
        proxy.resume()
        # The late Queue.DeclareOk is discarded; the next reply pairs up correctly.
        assert channel.queue_declare(second, exclusive=True).method.queue == second
        assert conn.channel().is_open
        proxy.stall()
        with pytest.raises(ReplyTimeout):
            conn.close(timeout=0.3)
        wait_until(lambda: conn.is_closed, message="the dropped connection closes")
        with pytest.raises(ValueError):
            channel.queue_declare("x", timeout=-1)


# ------------------------------------------------------- threads and load


@pytest.mark.timeout(240)
def test_eight_threads_publish_while_a_consumer_acks(conn: Connection) -> None:
    threads, per_thread = 8, 10_000
    total = threads * per_thread
    consumer = conn.channel()
    queue = declare(consumer)
    consumer.basic_qos(prefetch_count=500)
    received: list[str] = []
    last_seen: dict[str, int] = {}
    disorder: list[str] = []
    done = threading.Event()

    def on_message(ch: Channel, method: Any, properties: Any, _body: bytes) -> None:
        sender, number = properties.message_id.split("-")
        if int(number) <= last_seen.get(sender, -1):
            disorder.append(properties.message_id)
        last_seen[sender] = int(number)
        received.append(properties.message_id)
        ch.basic_ack(method.delivery_tag)
        if len(received) >= total:
            done.set()

    consumer.basic_consume(queue, on_message)
    publishers = [conn.channel(), conn.channel()]

    def publish(index: int) -> None:
        channel = publishers[index % len(publishers)]
        for number in range(per_thread):
            channel.basic_publish(
                "", queue, b"payload", spec.BasicProperties(message_id=f"{index}-{number}")
            )

    started = time.monotonic()
    run_threads(threads, publish, timeout=180)
    assert done.wait(180), f"received {len(received)} of {total}"
    elapsed = time.monotonic() - started
    time.sleep(0.5)  # any duplicate would have arrived by now
    assert len(received) == total
    assert set(received) == {f"{i}-{n}" for i in range(threads) for n in range(per_thread)}
    assert not disorder, f"out of order per publisher: {disorder[:5]}"
    assert message_count(consumer, queue) == 0
    assert conn.is_open
    print(f"\n{total} messages through in {elapsed:.1f} s ({total / elapsed:.0f} msg/s)")


@pytest.mark.timeout(60)
def test_slow_consumer_callback_keeps_the_connection_alive(broker_url: str) -> None:
    conn = Connection(URLParameters(broker_url + "?heartbeat=2"))
    try:
        channel = conn.channel()
        queue = declare(channel)
        finished: list[float] = []

        def slow(ch: Channel, method: Any, _properties: Any, _body: bytes) -> None:
            time.sleep(7)  # more than three heartbeat intervals
            ch.basic_ack(method.delivery_tag)
            finished.append(time.monotonic())

        channel.basic_consume(queue, slow)
        channel.basic_publish("", queue, b"slow")
        wait_until(lambda: finished, timeout=20, message="the slow callback finished")
        assert conn.is_open and channel.is_open
        assert message_count(channel, queue) == 0
        assert channel.queue_declare(unique("alive"), exclusive=True).method is not None
    finally:
        conn.close()


@pytest.mark.timeout(120)
def test_blocked_and_unblocked_callbacks(extra_broker: ExtraBrokerNode) -> None:
    conn = Connection(URLParameters(extra_broker.url()))
    events: list[tuple[str, Any, str]] = []
    conn.add_on_connection_blocked_callback(
        lambda c, f: events.append(("blocked", f, threading.current_thread().name))
    )
    conn.add_on_connection_unblocked_callback(
        lambda c, f: events.append(("unblocked", f, threading.current_thread().name))
    )
    try:
        broker.set_vm_memory_high_watermark(0.0000001, node=extra_broker.name)
        channel = conn.channel()
        channel.basic_publish("", unique("blocked"), b"x")
        wait_until(lambda: events, timeout=30, message="blocked callback")
    finally:
        broker.set_vm_memory_high_watermark(0.4, node=extra_broker.name)
    wait_until(lambda: len(events) == 2, timeout=30, message="unblocked callback")
    assert [kind for kind, _f, _t in events] == ["blocked", "unblocked"]
    assert isinstance(events[0][1].method, spec.Connection.Blocked)
    assert all(name == "pika-connection-callbacks" for _k, _f, name in events)
    conn.close()


def test_close_from_inside_a_consumer_callback(conn: Connection, chan: Channel) -> None:
    queue = declare(chan)
    outcome: list[Any] = []

    def close_everything(ch: Channel, method: Any, _properties: Any, _body: bytes) -> None:
        ch.basic_ack(method.delivery_tag)
        try:
            conn.close()
            outcome.append(conn.is_closed)
        except BaseException as error:
            outcome.append(error)

    chan.basic_consume(queue, close_everything)
    chan.basic_publish("", queue, b"close")
    wait_until(lambda: outcome, message="close() returned in the callback")
    assert outcome == [True]


def test_publishers_wait_when_the_io_thread_falls_behind(
    params: URLParameters, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tsc, "MAX_PENDING_CALLS", 10)
    conn = Connection(params)
    try:
        channel = conn.channel()
        queue = declare(channel)
        gate = threading.Event()
        conn.add_callback_threadsafe(lambda: gate.wait(30))  # the I/O thread is busy

        def publish() -> None:
            for number in range(50):
                channel.basic_publish("", queue, b"%d" % number)

        publisher = threading.Thread(target=publish)
        publisher.start()
        publisher.join(0.5)
        assert publisher.is_alive(), "the publisher should wait for the I/O thread"
        gate.set()
        publisher.join(10)
        assert not publisher.is_alive()
        wait_until(lambda: message_count(channel, queue) == 50, message="every message arrives")
    finally:
        conn.close()


@pytest.mark.timeout(90)
def test_publishers_wait_for_a_slow_socket(
    broker_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tsc, "MAX_PENDING_CALLS", 20)
    monkeypatch.setattr(tsc, "WRITE_BUFFER_HIGH_WATER", 256 * 1024)
    target = URLParameters(broker_url)
    with TcpProxy(target.host, target.port) as proxy:
        conn = Connection(URLParameters(proxy.rewrite_url(broker_url)))
        try:
            channel = conn.channel()
            queue = declare(channel)
            proxy.set_rate_limit(8 * 1024 * 1024)
            body = b"x" * (64 * 1024)
            started = time.monotonic()
            for _ in range(400):  # 25 MiB at 8 MiB/s
                channel.basic_publish("", queue, body)
            publishing = time.monotonic() - started
            wait_until(
                lambda: message_count(channel, queue) == 400,
                timeout=60,
                message="every message arrives",
            )
            total = time.monotonic() - started
            # Held back by the socket: publishing took most of the transfer time.
            assert publishing > total / 3, (publishing, total)
        finally:
            conn.close()


def test_synchronous_calls_from_many_threads_pair_with_their_replies(chan: Channel) -> None:
    names = [unique(f"pair{i}") for i in range(8)]
    answers: dict[str, list[str]] = {name: [] for name in names}

    def declare_many(index: int) -> None:
        name = names[index]
        for _ in range(20):
            reply = chan.queue_declare(name, exclusive=True)
            answers[name].append(str(reply.method.queue))

    run_threads(len(names), declare_many)
    assert all(replies == [name] * 20 for name, replies in answers.items())


def test_connection_loss_fails_waiting_calls(broker_url: str) -> None:
    target = URLParameters(broker_url)
    with TcpProxy(target.host, target.port) as proxy:
        closed: list[BaseException] = []
        conn = Connection(
            URLParameters(proxy.rewrite_url(broker_url)),
            on_close_callback=lambda _c, error: closed.append(error),
        )
        channel = conn.channel()
        proxy.stall()
        outcome: list[BaseException] = []

        def waiting_call() -> None:
            try:
                channel.queue_declare(unique("lost"), exclusive=True, timeout=30)
            except BaseException as error:
                outcome.append(error)

        waiter = threading.Thread(target=waiting_call)
        waiter.start()
        time.sleep(0.2)
        proxy.cut()
        waiter.join(10)
        assert outcome and not isinstance(outcome[0], ReplyTimeout)
        assert isinstance(outcome[0], exceptions.AMQPError)
        wait_until(lambda: closed, message="on_close_callback")
        assert isinstance(closed[0], exceptions.AMQPConnectionError)
        assert conn.is_closed and channel.is_closed


@pytest.mark.timeout(60)
def test_heartbeat_timeout_on_a_silent_broker(broker_url: str) -> None:
    target = URLParameters(broker_url)
    with TcpProxy(target.host, target.port) as proxy:
        closed: list[BaseException] = []
        conn = Connection(
            URLParameters(proxy.rewrite_url(broker_url) + "?heartbeat=1"),
            on_close_callback=lambda _c, error: closed.append(error),
        )
        proxy.stall()
        stalled = time.monotonic()
        wait_until(lambda: closed, timeout=20, message="heartbeat timeout")
        assert isinstance(closed[0], exceptions.AMQPHeartbeatTimeout)
        assert time.monotonic() - stalled < 10
        assert conn.is_closed
