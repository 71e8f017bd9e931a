"""max_message_size against the real broker: a message over the client's cap
is discarded, rejected without requeue (the dead-letter exchange receives
it) and reported, on every surface; the connection stays open."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import pika
from pika import exceptions, spec
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.channel import Channel
from pika.connection import URLParameters
from tests.integration.adapter_driver import in_reactor
from tests.integration.select_support import (
    Recorder,
    close_connection,
    open_channel,
    open_connection,
    pump,
)
from tests.utils.wait import wait_until

pytestmark = pytest.mark.broker

CAP = 1000
BIG = b"B" * 5000


def capped(url: str) -> URLParameters:
    params = URLParameters(url)
    params.max_message_size = CAP
    return params


@pytest.fixture
def admin(broker_url: str) -> Iterator[BlockingChannel]:
    """A channel of an uncapped connection, for setting up and checking."""
    with BlockingConnection(URLParameters(broker_url)) as conn:
        yield conn.channel()


@pytest.fixture
def queues(admin: BlockingChannel) -> Iterator[tuple[str, str]]:
    """(queue, its dead-letter queue): messages rejected without requeue
    from the first land in the second."""
    name = f"pika-test-limit-{uuid.uuid4().hex[:10]}"
    admin.exchange_declare(f"{name}-dlx", "fanout", auto_delete=True)
    admin.queue_declare(f"{name}-dead")
    admin.queue_bind(f"{name}-dead", f"{name}-dlx")
    admin.queue_declare(name, arguments={"x-dead-letter-exchange": f"{name}-dlx"})
    yield name, f"{name}-dead"
    admin.queue_delete(name)
    admin.queue_delete(f"{name}-dead")


def dead_lettered(admin: BlockingChannel, dead: str) -> bytes:
    """The body that reached the dead-letter queue (waits for it)."""
    method, _properties, body = wait_until(
        lambda: (lambda got: got if got[0] is not None else None)(
            admin.basic_get(dead, auto_ack=True)
        ),
        message="a dead-lettered message",
    )
    assert method is not None and body is not None
    return body


def publish_big_then_small(admin: BlockingChannel, queue: str) -> None:
    admin.basic_publish("", queue, BIG, pika.BasicProperties(message_id="big"))
    admin.basic_publish("", queue, b"small")


def check_error(error: Any, method_type: type, rejected: bool = True) -> None:
    assert isinstance(error, exceptions.MessageTooLargeError)
    assert isinstance(error.method, method_type)
    assert (error.body_size, error.max_message_size, error.rejected) == (5000, CAP, rejected)
    assert error.properties.message_id == "big"
    assert "5000 bytes" in str(error) and f"max_message_size {CAP}" in str(error)


@pytest.mark.timeout(60)
def test_blocking_consume_generator_raises_and_continues(
    broker_url: str, admin: BlockingChannel, queues: tuple[str, str]
) -> None:
    queue, dead = queues
    publish_big_then_small(admin, queue)
    with BlockingConnection(capped(broker_url)) as conn:
        chan = conn.channel()
        with pytest.raises(exceptions.MessageTooLargeError) as caught:
            next(chan.consume(queue, inactivity_timeout=10))
        check_error(caught.value, spec.Basic.Deliver)
        # Calling consume() again continues the same consumer.
        method, _properties, body = next(chan.consume(queue, inactivity_timeout=10))
        assert body == b"small"
        assert method is not None
        chan.basic_ack(method.delivery_tag)
        assert chan.cancel() == 0
        assert conn.is_open and chan.is_open
    assert dead_lettered(admin, dead) == BIG


@pytest.mark.timeout(60)
@pytest.mark.parametrize("auto_ack", [False, True])
def test_blocking_basic_get_raises(
    broker_url: str, admin: BlockingChannel, queues: tuple[str, str], auto_ack: bool
) -> None:
    queue, dead = queues
    publish_big_then_small(admin, queue)
    with BlockingConnection(capped(broker_url)) as conn:
        chan = conn.channel()
        with pytest.raises(exceptions.MessageTooLargeError) as caught:
            chan.basic_get(queue, auto_ack=auto_ack)
        # An auto-acked message is reported, not rejected (a reject of its
        # tag would make the broker close the channel with 406).
        check_error(caught.value, spec.Basic.GetOk, rejected=not auto_ack)
        assert chan.basic_get(queue, auto_ack=True)[2] == b"small"
        assert chan.basic_get(queue) == (None, None, None)
        assert chan.is_open
    if not auto_ack:
        assert dead_lettered(admin, dead) == BIG


@pytest.mark.timeout(60)
def test_blocking_basic_consume_callback_or_raise(
    broker_url: str, admin: BlockingChannel, queues: tuple[str, str]
) -> None:
    queue, dead = queues
    publish_big_then_small(admin, queue)
    publish_big_then_small(admin, queue)
    with BlockingConnection(capped(broker_url)) as conn:
        chan = conn.channel()
        bodies: list[bytes] = []

        def on_message(ch: BlockingChannel, method: Any, _props: Any, body: bytes) -> None:
            bodies.append(body)
            ch.basic_ack(method.delivery_tag)

        chan.basic_consume(queue, on_message)
        # Without a callback the first one is raised from the dispatching call.
        with pytest.raises(exceptions.MessageTooLargeError) as caught:
            conn.process_data_events(time_limit=10)
            conn.process_data_events(time_limit=10)
        check_error(caught.value, spec.Basic.Deliver)
        reported: list[exceptions.MessageTooLargeError] = []
        chan.add_on_message_too_large_callback(lambda _ch, error: reported.append(error))
        wait_until(
            lambda: conn.process_data_events(time_limit=0.1) or (len(bodies) == 2 and reported),
            message="the second pair",
        )
        check_error(reported[0], spec.Basic.Deliver)
        assert bodies == [b"small", b"small"]
    assert dead_lettered(admin, dead) == BIG
    assert dead_lettered(admin, dead) == BIG


@pytest.mark.timeout(60)
def test_callback_channel_reports_deliveries_and_returns(
    broker_url: str, admin: BlockingChannel, queues: tuple[str, str]
) -> None:
    queue, dead = queues
    publish_big_then_small(admin, queue)
    conn = open_connection(capped(broker_url))
    try:
        chan: Channel = open_channel(conn)
        rec = Recorder()
        chan.add_on_message_too_large_callback(rec.cb("too_large"))
        chan.add_on_return_callback(rec.cb("returned"))
        chan.basic_consume(queue, rec.cb("message"), auto_ack=True)
        pump(conn.ioloop, rec.has("message"), message="the small message")
        pump(conn.ioloop, rec.has("too_large"), message="the report")
        _ch, error = rec.one("too_large")
        # An auto-ack delivery is reported, not rejected.
        check_error(error, spec.Basic.Deliver, rejected=False)
        # A returned message over the cap is reported too.
        chan.basic_publish(
            "", f"{queue}-nowhere", BIG, pika.BasicProperties(message_id="big"), mandatory=True
        )
        pump(conn.ioloop, rec.has("too_large", 2), message="the returned message's report")
        check_error(rec.get("too_large")[1][1], spec.Basic.Return, rejected=False)
        assert not rec.get("returned")
        assert conn.is_open and chan.is_open
    finally:
        close_connection(conn)
    # Auto-ack: nothing was dead-lettered.
    assert admin.queue_declare(dead, passive=True).method.message_count == 0


@pytest.mark.timeout(60)
def test_callback_channel_without_a_callback_raises_out_of_the_loop(
    broker_url: str, admin: BlockingChannel, queues: tuple[str, str]
) -> None:
    queue, dead = queues
    publish_big_then_small(admin, queue)
    conn = open_connection(capped(broker_url))
    try:
        chan = open_channel(conn)
        rec = Recorder()
        chan.basic_consume(queue, rec.cb("message"))
        with pytest.raises(exceptions.MessageTooLargeError) as caught:
            pump(conn.ioloop, rec.has("message"), message="the small message")
        check_error(caught.value, spec.Basic.Deliver)
        pump(conn.ioloop, rec.has("message"), message="the small message")
        assert rec.one("message")[3] == b"small"
        assert conn.is_open and chan.is_open
    finally:
        close_connection(conn)
    assert dead_lettered(admin, dead) == BIG


@pytest.mark.timeout(60)
def test_thread_safe_channel(
    broker_url: str, admin: BlockingChannel, queues: tuple[str, str]
) -> None:
    queue, dead = queues
    publish_big_then_small(admin, queue)
    publish_big_then_small(admin, queue)
    with pika.Connection(capped(broker_url)) as conn:
        chan = conn.channel()
        with pytest.raises(exceptions.MessageTooLargeError) as caught:
            chan.basic_get(queue)
        check_error(caught.value, spec.Basic.GetOk)
        assert chan.basic_get(queue, auto_ack=True)[2] == b"small"
        reported: list[Any] = []
        bodies: list[bytes] = []
        chan.add_on_message_too_large_callback(lambda ch, error: reported.append((ch, error)))
        chan.basic_consume(queue, lambda _ch, _m, _p, body: bodies.append(body), auto_ack=True)
        wait_until(lambda: reported and bodies, message="the report and the small message")
        assert reported[0][0] is chan
        check_error(reported[0][1], spec.Basic.Deliver, rejected=False)
        assert conn.is_open and chan.is_open
    assert dead_lettered(admin, dead) == BIG


@pytest.mark.timeout(60)
def test_twisted_channel(
    reactor: Any, broker_url: str, admin: BlockingChannel, queues: tuple[str, str]
) -> None:
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    from pika.adapters.twisted_connection import TwistedProtocolConnection

    queue, dead = queues
    publish_big_then_small(admin, queue)
    publish_big_then_small(admin, queue)
    params = capped(broker_url)

    async def scenario() -> list[Any]:
        endpoint = TCP4ClientEndpoint(reactor, params.host, params.port)
        amqp = await connectProtocol(endpoint, TwistedProtocolConnection(params, reactor))
        await amqp.ready
        chan = await amqp.channel()
        got = await chan.basic_get(queue).addErrback(lambda failure: failure.value)
        small = await chan.basic_get(queue, auto_ack=True)
        messages, _tag = await chan.basic_consume(queue, auto_ack=True)
        consumed = await messages.get().addErrback(lambda failure: failure.value)
        after = await messages.get()
        still_open = amqp.is_open and chan.is_open
        await amqp.close()
        return [got, small.body, consumed, after.body, still_open]

    got, small, consumed, after, still_open = in_reactor(reactor, scenario)
    check_error(got, spec.Basic.GetOk)
    check_error(consumed, spec.Basic.Deliver, rejected=False)
    assert (small, after, still_open) == (b"small", b"small", True)
    assert dead_lettered(admin, dead) == BIG
