"""Consuming with `BlockingChannel`: basic_consume with start/stop_consuming,
basic_cancel's pending messages, the consume generator, broker-side
cancellation, callbacks from other threads, and the rule that user
callbacks only run from dispatching calls."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from pika import exceptions, frame, spec
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from tests.integration.blocking_support import (
    channel_fixture,
    connection_fixture,
    later,
)

pytestmark = pytest.mark.broker


conn = connection_fixture()
chan = channel_fixture()


def private_queue(chan: BlockingChannel) -> str:
    return str(chan.queue_declare("", exclusive=True).method.queue)


def publish(chan: BlockingChannel, queue: str, count: int, prefix: bytes = b"m") -> None:
    for index in range(count):
        chan.basic_publish("", queue, prefix + b"%d" % index)


def wait_until_delivered(chan: BlockingChannel, queue: str) -> None:
    """Until the broker has handed every ready message of ``queue`` out.

    The reply to a passive declare comes after every delivery the broker
    sent before it on this channel, so once it reports 0 ready messages,
    those deliveries are in the client (queued, not dispatched).
    """
    for _ in range(200):
        if chan.queue_declare(queue, passive=True).method.message_count == 0:
            return
        time.sleep(0.01)
    raise AssertionError("the broker kept messages in the queue")


def queued(chan: BlockingChannel, queue: str) -> int:
    """Ready messages in ``queue``, asked on a channel of its own."""
    with chan.connection.channel() as check:
        return check.queue_declare(queue, passive=True).method.message_count or 0


# ----------------------------------------------------- basic_consume


def test_start_consuming_until_stop_consuming_from_a_callback(chan: BlockingChannel) -> None:
    queue = private_queue(chan)
    publish(chan, queue, 5)
    received: list[tuple[Any, ...]] = []

    def on_message(
        channel: BlockingChannel,
        method: spec.Basic.Deliver,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        received.append((channel, method, properties, body))
        channel.basic_ack(method.delivery_tag or 0)
        if len(received) == 5:
            channel.stop_consuming()

    tag = chan.basic_consume(queue, on_message)
    assert tag.startswith("ctag") and chan.consumer_tags == [tag]
    chan.start_consuming()
    assert [item[3] for item in received] == [b"m%d" % index for index in range(5)]
    assert all(item[0] is chan for item in received)
    assert all(isinstance(item[1], spec.Basic.Deliver) for item in received)
    assert all(isinstance(item[2], spec.BasicProperties) for item in received)
    assert chan.consumer_tags == []
    assert queued(chan, queue) == 0


@pytest.mark.amqp_0_9_1_only
def test_consumer_tag_and_arguments_are_passed(chan: BlockingChannel) -> None:
    queue = private_queue(chan)
    tag = chan.basic_consume(
        queue,
        lambda *args: None,
        auto_ack=True,
        exclusive=True,
        consumer_tag="my-tag",
        arguments={"x-priority": 5},
    )
    assert tag == "my-tag"
    with pytest.raises(exceptions.DuplicateConsumerTag):
        chan.basic_consume(queue, lambda *args: None, consumer_tag="my-tag")
    assert chan.basic_cancel("my-tag") == []
    assert chan.basic_cancel("unknown-tag") == []


def test_stop_consuming_from_another_thread(conn: BlockingConnection) -> None:
    chan = conn.channel()
    queue = private_queue(chan)
    chan.basic_consume(queue, lambda *args: None)
    helper = later(0.3, lambda: conn.add_callback_threadsafe(chan.stop_consuming))
    started = time.monotonic()
    chan.start_consuming()
    helper.join()
    assert time.monotonic() - started < 5
    assert chan.consumer_tags == []


def test_closing_the_connection_in_a_callback_ends_start_consuming(
    conn: BlockingConnection, chan: BlockingChannel
) -> None:
    queue = private_queue(chan)
    publish(chan, queue, 3)
    seen: list[bytes] = []

    def on_message(_c: BlockingChannel, _m: Any, _p: Any, body: bytes) -> None:
        seen.append(body)
        conn.close()

    chan.basic_consume(queue, on_message)
    chan.start_consuming()
    assert seen == [b"m0"]
    assert conn.is_closed and chan.is_closed


def test_closing_the_channel_in_a_callback_ends_start_consuming(
    conn: BlockingConnection, chan: BlockingChannel
) -> None:
    queue = private_queue(chan)
    publish(chan, queue, 3)
    seen: list[bytes] = []

    def on_message(channel: BlockingChannel, _m: Any, _p: Any, body: bytes) -> None:
        seen.append(body)
        channel.close()

    chan.basic_consume(queue, on_message)
    chan.start_consuming()
    assert seen == [b"m0"]
    assert chan.is_closed and conn.is_open
    assert chan.consumer_tags == []


def test_start_consuming_without_consumers_returns(chan: BlockingChannel) -> None:
    chan.start_consuming()


def test_start_consuming_inside_a_callback_raises_reentrancy_error(
    chan: BlockingChannel,
) -> None:
    queue = private_queue(chan)
    publish(chan, queue, 1)
    errors: list[BaseException] = []

    def on_message(channel: BlockingChannel, *args: Any) -> None:
        try:
            channel.start_consuming()
        except exceptions.ReentrancyError as exc:
            errors.append(exc)
        channel.stop_consuming()

    chan.basic_consume(queue, on_message, auto_ack=True)
    chan.start_consuming()
    assert len(errors) == 1


def test_consumer_exception_propagates_and_consuming_resumes(chan: BlockingChannel) -> None:
    queue = private_queue(chan)
    publish(chan, queue, 3)
    seen: list[bytes] = []

    def on_message(channel: BlockingChannel, method: Any, _props: Any, body: bytes) -> None:
        seen.append(body)
        if body == b"m0":
            raise ValueError("bad message")
        if len(seen) == 3:
            channel.stop_consuming()

    chan.basic_consume(queue, on_message, auto_ack=True)
    with pytest.raises(ValueError, match="bad message"):
        chan.start_consuming()
    chan.start_consuming()
    assert seen == [b"m0", b"m1", b"m2"]


def test_callbacks_never_run_inside_other_blocking_calls(
    conn: BlockingConnection, chan: BlockingChannel
) -> None:
    queue = private_queue(chan)
    received: list[bytes] = []
    chan.basic_consume(queue, lambda _c, _m, _p, body: received.append(body), auto_ack=True)
    publish(chan, queue, 3)
    wait_until_delivered(chan, queue)
    other = conn.channel()
    other.queue_declare("", exclusive=True)
    assert received == []
    conn.process_data_events()
    assert received == [b"m0", b"m1", b"m2"]


def test_blocking_calls_from_inside_a_callback(conn: BlockingConnection) -> None:
    chan = conn.channel()
    queue = private_queue(chan)
    publish(chan, queue, 2)
    replies: list[Any] = []

    def on_message(channel: BlockingChannel, method: Any, _props: Any, body: bytes) -> None:
        # A nested wait turns the loop but dispatches nothing.
        replies.append(channel.queue_declare(queue, passive=True).method)
        conn.process_data_events(0.05)
        channel.basic_ack(method.delivery_tag)
        if len(replies) == 2:
            channel.stop_consuming()

    chan.basic_consume(queue, on_message)
    chan.start_consuming()
    assert all(isinstance(reply, spec.Queue.DeclareOk) for reply in replies)


def test_basic_cancel_returns_pending_messages_of_an_auto_ack_consumer(
    chan: BlockingChannel,
) -> None:
    queue = private_queue(chan)
    publish(chan, queue, 4)
    received: list[bytes] = []
    tag = chan.basic_consume(queue, lambda _c, _m, _p, body: received.append(body), auto_ack=True)
    wait_until_delivered(chan, queue)
    pending = chan.basic_cancel(tag)
    assert received == []
    assert [body for _method, _props, body in pending] == [b"m0", b"m1", b"m2", b"m3"]
    assert all(isinstance(method, spec.Basic.Deliver) for method, _props, _body in pending)
    assert all(isinstance(props, spec.BasicProperties) for _method, props, _body in pending)
    chan.connection.process_data_events()
    assert received == []


def test_basic_cancel_requeues_pending_messages_of_a_manual_ack_consumer(
    chan: BlockingChannel,
) -> None:
    queue = private_queue(chan)
    publish(chan, queue, 3)
    tag = chan.basic_consume(queue, lambda *args: None)
    wait_until_delivered(chan, queue)
    assert chan.basic_cancel(tag) == []
    for _ in range(100):
        if queued(chan, queue) == 3:
            break
        time.sleep(0.02)
    assert queued(chan, queue) == 3


@pytest.mark.amqp_0_9_1_only
def test_broker_cancel_ends_start_consuming_and_calls_cancel_callbacks(
    conn: BlockingConnection,
) -> None:
    chan = conn.channel()
    queue = str(chan.queue_declare("", auto_delete=False).method.queue)
    cancels: list[frame.Method] = []
    chan.add_on_cancel_callback(cancels.append)
    chan.basic_consume(queue, lambda *args: None)
    conn.channel().queue_delete(queue)
    chan.start_consuming()
    assert len(cancels) == 1
    assert isinstance(cancels[0].method, spec.Basic.Cancel)
    assert chan.consumer_tags == []


# -------------------------------------------------------- threads


def test_threaded_workers_ack_through_add_callback_threadsafe(conn: BlockingConnection) -> None:
    chan = conn.channel()
    queue = private_queue(chan)
    publish(chan, queue, 20)
    chan.basic_qos(prefetch_count=5)
    done: list[bytes] = []
    ack_threads: set[int] = set()
    workers: list[threading.Thread] = []

    def ack(tag: int, body: bytes) -> None:
        ack_threads.add(threading.get_ident())
        chan.basic_ack(tag)
        done.append(body)
        if len(done) == 20:
            chan.stop_consuming()

    def work(tag: int, body: bytes) -> None:
        time.sleep(0.01)
        conn.add_callback_threadsafe(lambda: ack(tag, body))

    def on_message(_c: BlockingChannel, method: Any, _p: Any, body: bytes) -> None:
        worker = threading.Thread(target=work, args=(method.delivery_tag, body))
        workers.append(worker)
        worker.start()

    chan.basic_consume(queue, on_message)
    chan.start_consuming()
    for worker in workers:
        worker.join()
    assert sorted(done) == sorted(b"m%d" % index for index in range(20))
    assert ack_threads == {threading.get_ident()}
    assert queued(chan, queue) == 0


# ------------------------------------------------------- consume()


def test_consume_generator_yields_messages_and_timeouts(chan: BlockingChannel) -> None:
    queue = private_queue(chan)
    publish(chan, queue, 3)
    seen: list[Any] = []
    for method, properties, body in chan.consume(queue, inactivity_timeout=0.3):
        if method is None:
            assert properties is None and body is None
            break
        assert isinstance(method, spec.Basic.Deliver)
        assert isinstance(properties, spec.BasicProperties)
        seen.append(body)
        chan.basic_ack(method.delivery_tag or 0)
    assert seen == [b"m0", b"m1", b"m2"]
    assert chan.cancel() == 0
    assert chan.cancel() == 0
    assert queued(chan, queue) == 0


def test_consume_cancel_requeues_unyielded_messages(chan: BlockingChannel) -> None:
    queue = private_queue(chan)
    publish(chan, queue, 5)
    generator = chan.consume(queue)
    first = next(generator)
    assert first[2] == b"m0"
    wait_until_delivered(chan, queue)
    assert chan.get_waiting_message_count() == 4
    assert len(chan.consumer_tags) == 1
    requeued = chan.cancel()
    assert requeued == 4
    assert chan.get_waiting_message_count() == 0
    assert chan.consumer_tags == []
    assert list(generator) == []
    chan.basic_reject(first[0].delivery_tag or 0)  # type: ignore[union-attr]
    for _ in range(100):
        if queued(chan, queue) == 5:
            break
        time.sleep(0.02)
    assert queued(chan, queue) == 5


def test_consume_auto_ack_cancel_requeues_nothing(chan: BlockingChannel) -> None:
    queue = private_queue(chan)
    publish(chan, queue, 3)
    generator = chan.consume(queue, auto_ack=True)
    assert next(generator)[2] == b"m0"
    wait_until_delivered(chan, queue)
    assert chan.cancel() == 0


def test_consume_again_continues_and_other_arguments_raise(chan: BlockingChannel) -> None:
    queue = private_queue(chan)
    publish(chan, queue, 2)
    assert next(chan.consume(queue, auto_ack=True))[2] == b"m0"
    assert next(chan.consume(queue, auto_ack=True))[2] == b"m1"
    with pytest.raises(ValueError):
        next(chan.consume(queue, auto_ack=False))
    chan.cancel()


def test_consume_generator_dispatches_other_callbacks_while_waiting(
    conn: BlockingConnection, chan: BlockingChannel
) -> None:
    queue = private_queue(chan)
    fired: list[str] = []
    conn.call_later(0.1, lambda: fired.append("timer"))
    assert next(chan.consume(queue, inactivity_timeout=0.5)) == (None, None, None)
    assert fired == ["timer"]
    chan.cancel()


@pytest.mark.amqp_0_9_1_only
def test_broker_cancel_ends_the_consume_generator(conn: BlockingConnection) -> None:
    chan = conn.channel()
    queue = str(chan.queue_declare("", auto_delete=False).method.queue)
    cancels: list[frame.Method] = []
    chan.add_on_cancel_callback(cancels.append)
    publish(chan, queue, 1)
    helper = later(0.5, lambda: _delete_queue(conn, queue))
    bodies = [body for _m, _p, body in chan.consume(queue, auto_ack=True, inactivity_timeout=5)]
    helper.join()
    assert bodies == [b"m0"]
    assert len(cancels) == 1
    assert chan.consumer_tags == []


def _delete_queue(conn: BlockingConnection, queue: str) -> None:
    # Another connection: BlockingConnection is not thread-safe.
    with open_connection_like(conn) as other:
        other.channel().queue_delete(queue)


def open_connection_like(conn: BlockingConnection) -> BlockingConnection:
    return BlockingConnection(conn._impl.params)


def test_consume_generator_raises_when_the_broker_closes_the_channel(
    conn: BlockingConnection,
) -> None:
    chan = conn.channel()
    queue = private_queue(chan)
    generator = chan.consume(queue, inactivity_timeout=5)
    assert chan.get_waiting_message_count() == 0
    chan._impl.basic_ack(999)  # an unknown delivery tag: the broker closes the channel (406)
    with pytest.raises(exceptions.ChannelClosedByBroker) as caught:
        next(generator)
    assert caught.value.reply_code == 406


def test_consume_generator_ends_when_the_channel_is_closed_by_the_client(
    chan: BlockingChannel,
) -> None:
    queue = private_queue(chan)
    publish(chan, queue, 2)
    seen: list[bytes] = []
    for _method, _props, body in chan.consume(queue, auto_ack=True):
        seen.append(body or b"")
        chan.close()
    assert seen == [b"m0"]
