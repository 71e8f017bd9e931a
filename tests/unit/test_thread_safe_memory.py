"""The thread-safe `Connection` and `Channel` over in-memory streams: calls
from several threads, the I/O thread, worker threads and recovery, with a
scripted broker (no socket, no RabbitMQ)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from pika import exceptions, spec
from pika.adapters import thread_safe_connection as ts
from pika.connection import ConnectionParameters
from pika.recovery import RecoveryPolicy
from tests.utils.frames import content_bytes, method_bytes
from tests.utils.memory_transport import ScriptedBroker, memory_select_connection
from tests.utils.sync_requests import SYNC_REQUESTS, check_request

PARAMS = ConnectionParameters(host="memory", port=1, connection_attempts=1, retry_delay=0)

#: How long a test waits for something another thread does.
WAIT = 20.0


def connect(broker: ScriptedBroker, parameters: Any = PARAMS, **kwargs: Any) -> ts.Connection:
    class MemoryConnection(ts.Connection):
        _impl_class = memory_select_connection(broker)

    return MemoryConnection(parameters, **kwargs)


@pytest.fixture
def broker() -> ScriptedBroker:
    return ScriptedBroker()


@pytest.fixture
def conn(broker: ScriptedBroker) -> Iterator[ts.Connection]:
    connection = connect(broker)
    yield connection
    connection.close()


def deliver(channel: int, tag: str, delivery_tag: int, body: bytes = b"m") -> bytes:
    return content_bytes(channel, spec.Basic.Deliver(tag, delivery_tag, False, "", "q"), body)


@pytest.mark.parametrize(
    ("call", "request_class", "reply_class"),
    [
        *SYNC_REQUESTS,
        (lambda c: c.basic_qos(prefetch_count=4), spec.Basic.Qos, spec.Basic.QosOk),
    ],
)
def test_each_request_returns_its_reply(
    broker: ScriptedBroker,
    conn: ts.Connection,
    call: Any,
    request_class: type,
    reply_class: type,
) -> None:
    check_request(broker, conn.channel(), call, request_class, reply_class)


def test_state_and_close(broker: ScriptedBroker) -> None:
    with connect(broker) as conn:
        assert conn.is_open and not conn.is_closed and not conn.is_recovering
        assert "open memory:1" in repr(conn)
        chan = conn.channel()
        assert chan.is_open and chan.channel_number == 1
        assert "number=1 open" in repr(chan)
        chan.close()
        assert chan.is_closed
        with pytest.raises(exceptions.ChannelWrongStateError):
            chan.close()
        chan.abort()  # harmless on a closed channel
        with pytest.raises(exceptions.ChannelWrongStateError):
            chan.queue_declare("q")
    assert conn.is_closed
    conn.close()  # again: returns at once
    conn.abort()
    with pytest.raises(exceptions.ConnectionWrongStateError):
        conn.channel()


def test_publish_with_and_without_confirms(broker: ScriptedBroker, conn: ts.Connection) -> None:
    chan = conn.channel()
    fates: queue.Queue[Any] = queue.Queue()
    chan.basic_publish("", "q", "plain", on_publish=fates.put)
    assert fates.get(timeout=WAIT) is None
    with pytest.raises(TypeError):
        chan.basic_publish("", "q", 5)
    with pytest.raises(TypeError):
        chan.basic_publish("", "q", b"x", properties={})
    with pytest.raises(TypeError):
        chan.basic_publish("", "q", b"x", on_publish=3)
    confirms: queue.Queue[Any] = queue.Queue()
    chan.confirm_delivery(confirms.put)
    assert chan.next_publish_seq_no == 1
    chan.basic_publish("", "q", b"acked", on_publish=fates.put)
    assert fates.get(timeout=WAIT) is None
    assert confirms.get(timeout=WAIT).method.delivery_tag == 1
    broker.answer(spec.Basic.Publish, lambda ch, m: method_bytes(ch, spec.Basic.Nack(2)))
    chan.basic_publish("", "q", b"nacked", on_publish=fates.put)
    assert isinstance(fates.get(timeout=WAIT), exceptions.NackError)
    assert isinstance(confirms.get(timeout=WAIT).method, spec.Basic.Nack)


def test_consumer_on_its_worker_thread(broker: ScriptedBroker, conn: ts.Connection) -> None:
    chan = conn.channel()
    got: queue.Queue[tuple[str, int, bytes]] = queue.Queue()
    main = threading.get_ident()

    def on_message(ch: Any, method: Any, _props: Any, body: bytes) -> None:
        assert threading.get_ident() != main
        got.put((threading.current_thread().name, method.delivery_tag, body))
        ch.basic_ack(method.delivery_tag)

    tag = chan.basic_consume("q", on_message)
    broker.stream.push(deliver(1, tag, 1, b"one") + deliver(1, tag, 2, b"two"))
    first = got.get(timeout=WAIT)
    second = got.get(timeout=WAIT)
    assert [first[1:], second[1:]] == [(1, b"one"), (2, b"two")]
    assert first[0] == "pika-channel-1"
    assert isinstance(chan.basic_cancel(tag).method, spec.Basic.CancelOk)
    chan.basic_nack(9, requeue=False)
    chan.basic_reject(10)
    with pytest.raises(TypeError):
        chan.basic_ack("1")
    conn.channel().close()  # a round trip: the acks before it were written
    assert [m.delivery_tag for _n, m in broker.received(spec.Basic.Ack)] == [1, 2]
    assert [m.delivery_tag for _n, m in broker.received(spec.Basic.Nack)] == [9]
    assert [m.delivery_tag for _n, m in broker.received(spec.Basic.Reject)] == [10]


def test_cancel_from_two_threads_at_once(broker: ScriptedBroker, conn: ts.Connection) -> None:
    chan = conn.channel()
    tag = chan.basic_consume("q", lambda *a: None)
    broker.answer(spec.Basic.Cancel, lambda ch, m: b"")
    answers: queue.Queue[Any] = queue.Queue()
    threads = [
        threading.Thread(target=lambda: answers.put(chan.basic_cancel(tag, timeout=WAIT)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    broker.wait_for_received(spec.Basic.Cancel, 2, WAIT)
    broker.stream.push(method_bytes(1, spec.Basic.CancelOk(tag)) * 2)
    for thread in threads:
        thread.join(WAIT)
    replies = [answers.get_nowait(), answers.get_nowait()]
    assert [type(reply.method) for reply in replies] == [spec.Basic.CancelOk] * 2


def test_basic_get(broker: ScriptedBroker, conn: ts.Connection) -> None:
    chan = conn.channel()
    assert chan.basic_get("q") == (None, None, None)
    broker.answer(
        spec.Basic.Get,
        lambda ch, m: content_bytes(ch, spec.Basic.GetOk(1, False, "", m.queue, 0), b"got"),
    )
    method, _props, body = chan.basic_get("q", auto_ack=True)
    assert (method.delivery_tag, body) == (1, b"got")


def test_returns_cancels_and_notices(broker: ScriptedBroker, conn: ts.Connection) -> None:
    chan = conn.channel()
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    chan.add_on_return_callback(lambda ch, m, p, b: events.put(("return", b)))
    chan.add_on_cancel_callback(lambda f: events.put(("cancel", f.method.consumer_tag)))
    conn.add_on_connection_blocked_callback(lambda c, f: events.put(("blocked", f.method.reason)))
    conn.add_on_connection_unblocked_callback(lambda c, f: events.put(("unblocked", None)))
    tag = chan.basic_consume("q", lambda *a: None)
    broker.stream.push(content_bytes(1, spec.Basic.Return(312, "NO_ROUTE", "", "q"), b"back"))
    assert events.get(timeout=WAIT) == ("return", b"back")
    broker.stream.push(method_bytes(1, spec.Basic.Cancel(tag, nowait=True)))
    assert events.get(timeout=WAIT) == ("cancel", tag)
    broker.stream.push(
        method_bytes(0, spec.Connection.Blocked("disk"))
        + method_bytes(0, spec.Connection.Unblocked())
    )
    assert events.get(timeout=WAIT) == ("blocked", "disk")
    assert events.get(timeout=WAIT) == ("unblocked", None)


def test_add_callback_threadsafe_runs_on_the_io_thread(conn: ts.Connection) -> None:
    ran: queue.Queue[str] = queue.Queue()
    conn.add_callback_threadsafe(lambda: ran.put(threading.current_thread().name))
    assert ran.get(timeout=WAIT).startswith("pika-io-")
    chan = conn.channel()

    def reenter() -> None:
        try:
            chan.queue_declare("q")
        except exceptions.ReentrancyError as error:
            ran.put(type(error).__name__)

    conn.add_callback_threadsafe(reenter)
    assert ran.get(timeout=WAIT) == "ReentrancyError"
    with pytest.raises(TypeError):
        conn.add_callback_threadsafe(None)


def test_reply_timeout(broker: ScriptedBroker, conn: ts.Connection) -> None:
    chan = conn.channel()
    broker.answer(spec.Queue.Declare, lambda ch, m: b"")
    with pytest.raises(ts.ReplyTimeout):
        chan.queue_declare("slow", timeout=0.1)
    # The late reply is discarded; the channel goes on.
    broker.stream.push(method_bytes(1, spec.Queue.DeclareOk("slow", 0, 0)))
    broker.answer(spec.Queue.Declare, None)
    assert chan.queue_declare("next").method.queue == "next"
    with pytest.raises(ValueError):
        chan.queue_declare("q", timeout=-1)


def test_channel_closed_by_the_broker(broker: ScriptedBroker, conn: ts.Connection) -> None:
    chan = conn.channel()
    broker.answer(
        spec.Queue.Declare,
        lambda ch, m: method_bytes(ch, spec.Channel.Close(404, "NOT_FOUND", 50, 10)),
    )
    with pytest.raises(exceptions.ChannelClosedByBroker):
        chan.queue_declare("missing", passive=True)
    assert chan.is_closed


def test_connection_closed_by_the_broker(broker: ScriptedBroker) -> None:
    closed: queue.Queue[BaseException] = queue.Queue()
    conn = connect(broker, on_close_callback=lambda c, e: closed.put(e))
    chan = conn.channel()
    broker.stream.push(method_bytes(0, spec.Connection.Close(320, "CONNECTION_FORCED", 0, 0)))
    assert isinstance(closed.get(timeout=WAIT), exceptions.ConnectionClosedByBroker)
    assert conn.is_closed
    with pytest.raises(exceptions.AMQPError):
        chan.queue_declare("q")


def test_open_failures(broker: ScriptedBroker) -> None:
    errors: list[BaseException] = []
    broker.refuse = 1
    with pytest.raises(exceptions.AMQPConnectionError):
        connect(broker, on_open_error_callback=lambda c, e: errors.append(e))
    assert len(errors) == 1
    # Several parameters: the next one is tried.
    broker.refuse = 1
    conn = connect(broker, [PARAMS, ConnectionParameters(host="memory", port=2)])
    assert conn.is_open and "memory:2" in repr(conn)
    conn.close()
    with pytest.raises(ValueError, match="empty"):
        connect(broker, [])
    with pytest.raises(TypeError):
        connect(broker, recovery="yes")
    with pytest.raises(TypeError):
        connect(broker, on_close_callback=1)


def test_recovery_interrupts_waiting_calls_and_holds_new_ones(broker: ScriptedBroker) -> None:
    events: queue.Queue[str] = queue.Queue()
    conn = connect(broker, recovery=RecoveryPolicy(initial_delay=0, jitter=0))
    conn.add_on_recovery_started_callback(lambda c, e: events.put("started"))
    conn.add_on_recovery_succeeded_callback(lambda c: events.put("succeeded"))
    conn.add_on_recovery_failed_callback(lambda c, e: events.put("failed"))
    conn.add_on_queue_renamed_callback(lambda c, o, n: events.put(f"renamed {o} {n}"))
    chan = conn.channel()
    name = chan.queue_declare("", exclusive=True).method.queue
    tag = chan.basic_consume(name, lambda *a: None)
    broker.cut_on(spec.Queue.Purge)
    with pytest.raises(ts.ConnectionInterrupted):
        chan.queue_purge(name)
    broker.answer(spec.Queue.Purge, None)
    assert events.get(timeout=WAIT) == "started"
    # A call made now waits for the recovery and then runs.
    assert chan.queue_purge("other").method.message_count == 0
    assert events.get(timeout=WAIT).startswith(f"renamed {name} amq.gen-")
    assert events.get(timeout=WAIT) == "succeeded"
    assert conn.is_open and chan.is_open
    consumes = [m for _n, m in broker.streams[-1].received if type(m) is spec.Basic.Consume]
    assert [m.consumer_tag for m in consumes] == [tag]
    assert not chan.is_stale_delivery_tag(1) and chan.stale_tags_dropped == 0
    conn.close()
    assert conn.is_closed


def test_recovery_api_needs_a_policy(conn: ts.Connection) -> None:
    with pytest.raises(exceptions.ConnectionWrongStateError):
        conn.add_on_recovery_started_callback(print)


def test_work_queue_full_closes_the_connection(broker: ScriptedBroker) -> None:
    closed: queue.Queue[BaseException] = queue.Queue()
    conn = connect(
        broker,
        on_close_callback=lambda c, e: closed.put(e),
        work_queue_maxsize=1,
        work_queue_put_timeout=0.1,
    )
    chan = conn.channel()
    release = threading.Event()
    started: queue.Queue[int] = queue.Queue()

    def slow(_ch: Any, method: Any, _props: Any, _body: bytes) -> None:
        started.put(method.delivery_tag)
        release.wait(WAIT)

    tag = chan.basic_consume("q", slow)
    broker.stream.push(b"".join(deliver(1, tag, n) for n in range(1, 5)))
    assert started.get(timeout=WAIT) == 1
    broker.wait_for_received(spec.Connection.Close, 1, WAIT)
    error = closed.get(timeout=WAIT)
    assert isinstance(error, exceptions.WorkQueueFullError), repr(error)
    assert "work_queue_maxsize=1" in str(error)
    assert conn.is_closed
    with pytest.raises(exceptions.WorkQueueFullError, match="work_queue_maxsize=1"):
        chan.basic_ack(1)
    release.set()
    conn.close()


def test_abort_drops_the_stream_without_the_close_handshake(broker: ScriptedBroker) -> None:
    closed: queue.Queue[BaseException] = queue.Queue()
    conn = connect(broker, on_close_callback=lambda c, e: closed.put(e))
    conn.channel()
    conn.abort()
    assert conn.is_closed
    assert broker.received(spec.Connection.Close) == []
    assert isinstance(closed.get(timeout=WAIT), exceptions.AMQPConnectionError)
