"""AMQP 0-8 against the local RabbitMQ (3.x answers the 0-8 header): the
blocking and thread-safe connections connect, declare, bind, publish, get,
consume, ack, reject, use transactions and close, and the broker lists the
connection as {0,8,0}. The callback adapters and Twisted run the same
session in test_adapters.py. The operations 0-8 lacks are refused at the
call site; a blocking connection recovers over 0-8."""

from __future__ import annotations

from typing import Any

import pytest

from pika import exceptions, spec
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.adapters.thread_safe_connection import Connection as ThreadSafeConnection
from pika.connection import URLParameters
from pika.recovery import RecoveryPolicy
from tests.integration.blocking_support import broker_close, parameters, unique
from tests.integration.select_support import acking_consumer
from tests.utils import broker
from tests.utils.wait import wait_until

pytestmark = pytest.mark.broker


def params_0_8(broker_url: str, name: str) -> URLParameters:
    return parameters(broker_url, name=name, amqp_version="0-8")


def assert_listed_as_0_8(name: str) -> None:
    protocol = wait_until(
        lambda: broker.connection_protocol(name), timeout=15, message=f"{name} listed"
    )
    assert protocol == "{0,8,0}"


def blocking_session(chan: BlockingChannel) -> None:
    exchange, queue = unique("x08"), unique("q08")
    chan.exchange_declare(exchange, "direct", auto_delete=True)
    chan.queue_declare(queue, exclusive=True)
    chan.queue_bind(queue, exchange, "rk")
    properties = spec.BasicProperties(content_type="text/plain", headers={"n": 1})
    for number in range(4):
        chan.basic_publish(exchange, "rk", b"m%d" % number, properties)
    method, props, body = chan.basic_get(queue)
    assert (body, props.content_type, props.headers) == (b"m0", "text/plain", {"n": 1})
    chan.basic_ack(method.delivery_tag)
    method, _props, body = chan.basic_get(queue)
    assert body == b"m1"
    chan.basic_reject(method.delivery_tag, requeue=False)
    consumed = []
    for method, _props, body in chan.consume(queue, inactivity_timeout=5):
        assert method is not None, "a delivery did not arrive"
        consumed.append(body)
        chan.basic_ack(method.delivery_tag)
        if len(consumed) == 2:
            break
    chan.cancel()
    assert consumed == [b"m2", b"m3"]
    chan.tx_select()
    chan.basic_publish("", queue, b"rolled back")
    chan.tx_rollback()
    chan.basic_publish("", queue, b"committed")
    chan.tx_commit()
    method, _props, body = chan.basic_get(queue, auto_ack=True)
    assert body == b"committed"
    assert chan.basic_get(queue) == (None, None, None)
    chan.queue_unbind(queue, exchange, "rk")
    chan.queue_purge(queue)
    chan.queue_delete(queue)
    chan.exchange_delete(exchange)


@pytest.mark.timeout(60)
def test_blocking_connection_over_0_8(broker_url: str) -> None:
    name = unique("blocking08")
    conn = BlockingConnection(params_0_8(broker_url, name))
    assert_listed_as_0_8(name)
    assert not conn.publisher_confirms and not conn.basic_nack
    assert not conn.exchange_exchange_bindings and not conn.consumer_cancel_notify
    chan = conn.channel()
    blocking_session(chan)
    chan.close()
    conn.close()
    assert conn.is_closed


@pytest.mark.timeout(60)
def test_blocking_operations_0_8_lacks_raise_at_the_call_site(broker_url: str) -> None:
    conn = BlockingConnection(params_0_8(broker_url, unique("lacks08")))
    chan = conn.channel()
    queue = chan.queue_declare("", exclusive=True).method.queue
    calls: list[tuple[str, Any]] = [
        ("Confirm.Select", chan.confirm_delivery),
        ("Basic.Nack", lambda: chan.basic_nack(1)),
        ("Exchange.Bind", lambda: chan.exchange_bind("amq.direct", "amq.fanout")),
        ("Exchange.Unbind", lambda: chan.exchange_unbind("amq.direct", "amq.fanout")),
        (
            "arguments",
            lambda: chan.basic_consume(queue, lambda *_: None, arguments={"x-priority": 1}),
        ),
        ("UpdateSecret", lambda: conn.update_secret("secret", "refresh")),
    ]
    for what, call in calls:
        with pytest.raises(exceptions.UnsupportedByAMQPVersion, match=what):
            call()
    # Nothing was sent: the channel and connection are still open and usable.
    assert chan.is_open and conn.is_open
    assert chan.queue_declare(queue, passive=True).method.consumer_count == 0
    conn.close()


@pytest.mark.timeout(60)
def test_thread_safe_connection_over_0_8(broker_url: str) -> None:
    name = unique("threadsafe08")
    conn = ThreadSafeConnection(params_0_8(broker_url, name))
    try:
        assert_listed_as_0_8(name)
        chan = conn.channel()
        exchange = unique("x08")
        chan.exchange_declare(exchange, "fanout", auto_delete=True)
        queue = chan.queue_declare("", exclusive=True).method.queue
        chan.queue_bind(queue, exchange)
        for number in range(4):
            chan.basic_publish(exchange, "", b"t%d" % number)
        # Publishes and the get go out in order on one channel.
        method, _props, body = chan.basic_get(queue)
        assert body == b"t0"
        chan.basic_ack(method.delivery_tag)
        method, _props, body = chan.basic_get(queue)
        assert body == b"t1"
        chan.basic_reject(method.delivery_tag, requeue=False)
        received: list[bytes] = []
        tag = chan.basic_consume(queue, acking_consumer(received))
        wait_until(lambda: len(received) == 2, timeout=15, message="two deliveries")
        chan.basic_cancel(tag)
        assert received == [b"t2", b"t3"]
        chan.tx_select()
        chan.basic_publish("", queue, b"committed")
        chan.tx_commit()
        assert wait_until(lambda: chan.basic_get(queue, auto_ack=True)[2], timeout=10) == (
            b"committed"
        )
        with pytest.raises(exceptions.UnsupportedByAMQPVersion, match="Confirm"):
            chan.confirm_delivery(lambda _frame: None)
        with pytest.raises(exceptions.UnsupportedByAMQPVersion, match="Nack"):
            chan.basic_nack(1)
        with pytest.raises(exceptions.UnsupportedByAMQPVersion, match="arguments"):
            chan.basic_consume(queue, acking_consumer([]), arguments={"x-priority": 1})
        assert chan.is_open
        chan.close()
    finally:
        conn.close()


@pytest.mark.timeout(90)
def test_blocking_recovery_over_0_8(broker_url: str) -> None:
    name = unique("recover08")
    conn = BlockingConnection(
        params_0_8(broker_url, name), recovery=RecoveryPolicy(initial_delay=0.2)
    )
    chan = conn.channel()
    queue = unique("q08")
    chan.queue_declare(queue, auto_delete=True)
    chan.basic_qos(prefetch_count=5)
    received: list[bytes] = []
    chan.basic_consume(
        queue, lambda ch, m, _p, b: (received.append(b), ch.basic_ack(m.delivery_tag))
    )
    chan.basic_publish("", queue, b"before")
    wait_until(lambda: conn.process_data_events(0.1) or received, timeout=15)
    recovered: list[object] = []
    conn.add_on_recovery_succeeded_callback(recovered.append)
    broker_close(name, "a recovery test over 0-8")
    wait_until(lambda: conn.process_data_events(0.1) or recovered, timeout=30)
    # The recovery reconnected over 0-8, redeclared the queue and restarted the consumer.
    chan.basic_publish("", queue, b"after")
    wait_until(lambda: conn.process_data_events(0.1) or len(received) == 2, timeout=30)
    assert received == [b"before", b"after"]
    assert_listed_as_0_8(name)
    conn.close()
