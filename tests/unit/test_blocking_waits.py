"""What a blocking call costs between its reply's arrival and its return:
turns of the private loop and writes, over in-memory streams (the loop's
wake-up socket is real, the broker is a `ScriptedBroker`).

Each blocking call writes what it queued itself before the loop waits, so
no flush callback is left on the loop to make the wait return at once (a
second turn, a second epoll_wait, per request). What an RPC server sends
while it holds a message of the consume generator (the reply, then the
message's ack) leaves in one write. A wait with a time limit ends by it
without making (and cancelling) a timer on the loop.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from pika import frame, spec
from pika.adapters import blocking_connection
from pika.adapters.blocking_connection import BlockingConnection
from pika.connection import ConnectionParameters
from tests.utils.frames import content_bytes, decode_all
from tests.utils.memory_transport import ScriptedBroker, memory_select_connection

PARAMS = ConnectionParameters(host="memory", port=1, connection_attempts=1, retry_delay=0)


@pytest.fixture
def broker() -> ScriptedBroker:
    return ScriptedBroker()


@pytest.fixture
def conn(broker: ScriptedBroker) -> Iterator[BlockingConnection]:
    connection = BlockingConnection(PARAMS, _impl_class=memory_select_connection(broker))
    yield connection
    if connection.is_open:
        connection.close()


def count_turns(conn: BlockingConnection) -> list[int]:
    """A one-item list counting the turns of ``conn``'s loop from now on."""
    loop = conn._ioloop
    turns = [0]
    poll = loop.poll

    def counted() -> None:
        turns[0] += 1
        poll()

    loop.poll = counted  # type: ignore[method-assign]
    return turns


def record_writes(broker: ScriptedBroker) -> list[list[str]]:
    """What each write to the broker's stream carries from now on: the
    names of its frames (the method's name for a method frame)."""
    stream = broker.stream
    writelines = stream.writelines
    writes: list[list[str]] = []

    def recorded(buffers: Any) -> None:
        frames = decode_all(b"".join(bytes(chunk) for chunk in buffers))
        writes.append(
            [f.method.NAME if isinstance(f, frame.Method) else type(f).__name__ for f in frames]
        )
        writelines(buffers)

    stream.writelines = recorded  # type: ignore[method-assign]
    return writes


def test_a_request_returns_after_the_turn_that_brought_its_reply(
    conn: BlockingConnection,
) -> None:
    chan = conn.channel()
    turns = count_turns(conn)
    for _ in range(5):
        chan.queue_declare("q", passive=True)
    assert turns == [5]


def test_a_publish_leaves_no_turn_behind(
    conn: BlockingConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the first publish makes the periodic service turn (it reads what
    # arrived meanwhile); the next one is an hour away.
    monkeypatch.setattr(blocking_connection, "SERVICE_INTERVAL", 3600.0)
    chan = conn.channel()
    chan.basic_publish("", "q", b"first")
    turns = count_turns(conn)
    for _ in range(3):
        chan.basic_publish("", "q", b"request")
        chan.queue_declare("q", passive=True)
    assert turns == [3]


def serve_one_request(conn: BlockingConnection, broker: ScriptedBroker) -> list[list[str]]:
    """Take one request from the consume generator, publish the reply, ack
    the request, ask for the next message; returns the writes made."""
    chan = conn.channel()
    messages = chan.consume("requests", inactivity_timeout=0.01)
    assert next(messages) == (None, None, None)
    ((_n, consume),) = broker.received(spec.Basic.Consume)
    request = spec.Basic.Deliver(consume.consumer_tag, 1, False, "", "requests")
    broker.stream.push(content_bytes(1, request, b"ping", reply_to="client"))
    writes = record_writes(broker)
    method, properties, body = next(messages)
    assert method is not None and properties is not None and body == b"ping"
    chan.basic_publish("", str(properties.reply_to), b"pong")
    chan.basic_ack(method.delivery_tag)
    assert next(messages) == (None, None, None)
    return writes


def test_a_reply_and_its_ack_leave_in_one_write(
    conn: BlockingConnection, broker: ScriptedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Any previous write counts as recent: time.monotonic() counts from the
    # machine's boot, so a finite window would pass or fail with its uptime.
    monkeypatch.setattr(blocking_connection, "COALESCE_SECONDS", math.inf)
    writes = serve_one_request(conn, broker)
    assert writes == [["Basic.Publish", "Header", "Body", "Basic.Ack"]]


def test_a_reply_long_after_the_last_write_leaves_at_once(
    conn: BlockingConnection, broker: ScriptedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blocking_connection, "COALESCE_SECONDS", 0.0)
    writes = serve_one_request(conn, broker)
    assert writes == [["Basic.Publish", "Header", "Body"], ["Basic.Ack"]]


def test_waits_with_a_time_limit_make_no_timer(conn: BlockingConnection) -> None:
    chan = conn.channel()
    loop = conn._ioloop
    made: list[float] = []
    call_later = loop.call_later

    def counted(delay: float, callback: Any) -> Any:
        made.append(delay)
        return call_later(delay, callback)

    loop.call_later = counted  # type: ignore[method-assign]
    messages = chan.consume("q", inactivity_timeout=0.001)
    for _ in range(5):
        assert next(messages) == (None, None, None)
    conn.process_data_events(time_limit=0.001)
    conn.sleep(0.001)
    assert made == []
