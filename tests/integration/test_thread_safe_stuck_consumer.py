"""The thread-safe `Connection` with a consumer callback that never returns
(it waits on an event the test sets only at the end), against the real broker.

``close(timeout=T)`` still returns within about 2*T, abandoning the stuck
callback thread with a warning; a work queue that stays full for
``work_queue_put_timeout`` closes the whole connection with
`pika.exceptions.WorkQueueFullError`. The broker's queue counters, read
through another connection, show that nothing was lost.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pika import exceptions
from pika.adapters.blocking_connection import BlockingConnection
from pika.adapters.thread_safe_connection import Channel, Connection
from pika.connection import URLParameters
from tests.utils.wait import wait_until

pytestmark = pytest.mark.broker

CLOSE_TIMEOUT = 2.0
MESSAGES = 5


@pytest.fixture
def params(broker_url: str) -> URLParameters:
    return URLParameters(broker_url)


@pytest.fixture
def observer(params: URLParameters) -> Iterator[BlockingConnection]:
    """Another connection, to read the broker's counters and clean up."""
    with BlockingConnection(params) as conn:
        yield conn


@pytest.fixture
def queue(observer: BlockingConnection) -> Iterator[str]:
    """A queue that outlives the connection under test."""
    name = f"pika-test-stuck-{uuid.uuid4().hex[:10]}"
    channel = observer.channel()
    channel.queue_declare(name)
    yield name
    channel.queue_delete(name)


class StuckConsumer:
    """A consumer callback that blocks on an event until `release`."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()
        self.bodies: list[bytes] = []
        self.thread: threading.Thread | None = None

    def __call__(self, _ch: Channel, _method: Any, _properties: Any, body: bytes) -> None:
        self.bodies.append(body)
        self.thread = threading.current_thread()
        self.entered.set()
        self.released.wait(60)

    def release(self) -> None:
        self.released.set()
        if self.thread is not None:
            self.thread.join(10)
            assert not self.thread.is_alive(), "the callback thread ended once released"


def wait_for_every_message_back(observer: BlockingConnection, queue: str) -> None:
    """Until the broker has taken back every message the consumer had not
    acked: all ready in the queue, which has no consumer any more."""

    def ready_and_consumers() -> tuple[int, int]:
        ok = observer.channel().queue_declare(queue, passive=True).method
        return int(ok.message_count), int(ok.consumer_count)

    wait_until(lambda: ready_and_consumers() == (MESSAGES, 0), message="every message back")


def start_stuck_consumer(conn: Connection, queue: str, stuck: StuckConsumer) -> Channel:
    channel = conn.channel()
    channel.basic_consume(queue, stuck)
    for number in range(MESSAGES):
        channel.basic_publish("", queue, b"%d" % number)
    assert stuck.entered.wait(20), "the consumer received its first message"
    return channel


@pytest.mark.timeout(60)
@pytest.mark.parametrize("queue_room", ["ample", "full"])
def test_close_returns_within_twice_its_timeout_despite_a_stuck_consumer(
    params: URLParameters,
    observer: BlockingConnection,
    queue: str,
    queue_room: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``full``: the work queue holds one message and the put timeout is
    long, so the I/O thread is waiting for room when close() is called."""
    closed: list[BaseException] = []
    conn = Connection(
        params,
        on_close_callback=lambda _conn, error: closed.append(error),
        work_queue_maxsize=1000 if queue_room == "ample" else 1,
        work_queue_put_timeout=30,
    )
    stuck = StuckConsumer()
    try:
        channel = start_stuck_consumer(conn, queue, stuck)
        if queue_room == "full":
            # One delivery waits in the queue: the I/O thread waits for room
            # with the next one.
            wait_until(lambda: len(channel._worker._items) == 1, message="the work queue full")
        caplog.set_level(logging.WARNING)
        started = time.monotonic()
        conn.close(timeout=CLOSE_TIMEOUT)
        elapsed = time.monotonic() - started
        assert conn.is_closed
        # It waited for the callback thread (T), and no longer than 2*T
        # plus what a loaded machine adds.
        assert CLOSE_TIMEOUT * 0.9 <= elapsed < 2 * CLOSE_TIMEOUT + 5, elapsed
        abandoned = [r for r in caplog.records if "abandoning it" in r.getMessage()]
        assert len(abandoned) == 1, [r.getMessage() for r in caplog.records]
        assert "pika-channel-1" in abandoned[0].getMessage()
        assert stuck.thread is not None and stuck.thread.daemon
        wait_until(lambda: closed, message="on_close_callback ran")
        assert isinstance(closed[0], exceptions.ConnectionClosedByClient), closed
        wait_for_every_message_back(observer, queue)
    finally:
        stuck.release()
        conn.abort()
    assert stuck.bodies == [b"0"], "nothing queued was run after the close"


@pytest.mark.timeout(60)
def test_work_queue_full_closes_the_connection_with_work_queue_full_error(
    params: URLParameters, observer: BlockingConnection, queue: str
) -> None:
    closed: list[BaseException] = []
    conn = Connection(
        params,
        on_close_callback=lambda _conn, error: closed.append(error),
        work_queue_maxsize=1,
        work_queue_put_timeout=0.5,
    )
    stuck = StuckConsumer()
    try:
        channel = start_stuck_consumer(conn, queue, stuck)
        wait_until(lambda: closed, timeout=20, message="on_close_callback ran")
        try:
            raise closed[0]
        except exceptions.WorkQueueFullError as error:  # catchable by its type
            assert "work_queue_put_timeout=0.5" in str(error)
        assert conn.is_closed and not conn.is_open and channel.is_closed
        with pytest.raises(exceptions.WorkQueueFullError):
            channel.basic_ack(1)
        with pytest.raises(exceptions.WorkQueueFullError):
            channel.queue_declare("", exclusive=True)
        with pytest.raises(exceptions.AMQPConnectionError):
            conn.channel()
        wait_for_every_message_back(observer, queue)
    finally:
        stuck.release()
        conn.close()
    assert stuck.bodies == [b"0"], "the deliveries that found no room were dropped, not run late"
