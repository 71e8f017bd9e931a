"""Native OpenTelemetry support (`pika.otel`) against the broker, read back
with the SDK's in-memory span exporter and metric reader: spans, their
kinds, parents and attributes, the trace context carried in the headers,
and the metrics, on the select, blocking, thread-safe, asyncio, Tornado,
gevent and Twisted connections, and across a recovery (`pika.aio`'s are in
test_otel_aio.py)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import pika
import pika.otel
from pika import telemetry
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.adapters.select_connection import SelectConnection
from pika.channel import Channel
from pika.connection import URLParameters
from pika.recovery import RecoveryPolicy
from tests.integration.adapter_driver import KITS, AdapterDriver, in_reactor
from tests.integration.otel_native_support import (
    SpanKind,
    Telemetry,
    check_process_span,
    check_publish_span,
    trace,
)
from tests.integration.otel_support import blocking_channel, traceparent
from tests.integration.select_support import broker_pid_of, close_connection, pump
from tests.integration.test_adapters import twisted_connect
from tests.integration.test_blocking_examples import run_example
from tests.utils import broker
from tests.utils.wait import wait_until

pytestmark = pytest.mark.broker


def test_select_publish_and_consume(broker_url: str, otel: Telemetry) -> None:
    seen: list[tuple[pika.BasicProperties, Any]] = []
    state: dict[str, Any] = {}

    def on_message(channel: Channel, method: Any, properties: Any, body: bytes) -> None:
        seen.append((properties, trace.get_current_span().get_span_context()))
        channel.basic_ack(method.delivery_tag)

    def on_channel(channel: Channel) -> None:
        def declared(frame: Any) -> None:
            queue = state["queue"] = frame.method.queue
            channel.basic_consume(queue, on_message)
            channel.basic_publish("", queue, b"select", pika.BasicProperties(message_id="s-1"))

        channel.queue_declare("", exclusive=True, callback=declared)

    conn = SelectConnection(
        URLParameters(broker_url),
        on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
    )
    try:
        pump(conn.ioloop, lambda: seen, 30, "the message consumed")
    finally:
        close_connection(conn)

    queue = state["queue"]
    (producer,) = otel.finished(SpanKind.PRODUCER)
    check_publish_span(producer, queue, broker_url)
    assert producer.attributes is not None and producer.attributes["messaging.message.id"] == "s-1"
    properties, current = seen[0]
    assert traceparent(properties) == (producer.context.trace_id, producer.context.span_id)
    (consumer,) = otel.finished(SpanKind.CONSUMER)
    check_process_span(consumer, queue, producer, current, len(b"select"))
    assert otel.metric("messaging.client.sent.messages") == 1
    assert (
        otel.metric("messaging.client.consumed.messages", **{"messaging.operation.name": "process"})
        == 1
    )
    assert otel.metric("rabbitmq.client.acknowledged.messages") == 1
    assert otel.metric("messaging.process.duration") == 1


@pytest.fixture
def blocking(broker_url: str, otel: Telemetry) -> Iterator[BlockingChannel]:
    with blocking_channel(broker_url) as channel:
        yield channel


def test_blocking_consumer_publish_confirms_get_and_settles(
    blocking: BlockingChannel, otel: Telemetry, broker_url: str
) -> None:
    chan = blocking
    queue = str(chan.queue_declare("", exclusive=True).method.queue)
    chan.confirm_delivery()
    properties = pika.BasicProperties(headers={"app": "kept"})
    for body in (b"one", b"two", b"three", b"four"):
        chan.basic_publish("", queue, body, properties)
    # The application's properties object is not changed.
    assert properties.headers == {"app": "kept"}
    producers = otel.finished(SpanKind.PRODUCER)
    assert len(producers) == 4
    for span in producers:
        check_publish_span(span, queue, broker_url)
    assert (
        otel.metric("rabbitmq.client.confirmed.messages", **{"rabbitmq.confirm.outcome": "ack"})
        == 4
    )
    assert otel.metric("rabbitmq.client.publish_confirm.duration") == 4

    seen: list[tuple[pika.BasicProperties, Any]] = []

    def on_message(ch: BlockingChannel, method: Any, props: Any, body: bytes) -> None:
        seen.append((props, trace.get_current_span().get_span_context()))
        assert props.headers["app"] == "kept"
        ch.basic_ack(method.delivery_tag)
        ch.stop_consuming()

    chan.basic_consume(queue, on_message)
    chan.start_consuming()
    (consumer,) = otel.finished(SpanKind.CONSUMER)
    props, current = seen[0]
    producer = next(span for span in producers if span.context.span_id == traceparent(props)[1])
    check_process_span(consumer, queue, producer, current, len(b"one"))

    # basic_get: a CLIENT receive span linked to the producer's context.
    method, got, body = chan.basic_get(queue)
    assert method is not None and got is not None and body == b"two"
    (receive,) = otel.finished(SpanKind.CLIENT)
    assert receive.name == "receive amq.default"
    assert receive.attributes is not None
    assert receive.attributes["messaging.operation.type"] == "receive"
    assert [link.context.span_id for link in receive.links] == [traceparent(got)[1]]
    # (stop_consuming rejected the consumer's prefetched messages already.)
    requeued = otel.metric("rabbitmq.client.rejected.messages", **{"rabbitmq.requeue": True})
    chan.basic_nack(method.delivery_tag, requeue=False)
    method, got, body = chan.basic_get(queue)
    assert method is not None
    chan.basic_reject(method.delivery_tag, requeue=True)
    assert otel.metric("rabbitmq.client.rejected.messages", **{"rabbitmq.requeue": False}) == 1
    assert (
        otel.metric("rabbitmq.client.rejected.messages", **{"rabbitmq.requeue": True})
        == requeued + 1
    )
    assert (
        otel.metric("messaging.client.consumed.messages", **{"messaging.operation.name": "receive"})
        == 2
    )

    # The consume generator: counted, and the context is there for the loop body.
    for method, got, _body in chan.consume(queue, inactivity_timeout=30):
        assert method is not None and got is not None
        carried = trace.get_current_span(pika.otel.extract_context(got)).get_span_context()
        assert carried.span_id == traceparent(got)[1]
        chan.basic_ack(method.delivery_tag)
        break
    chan.cancel()
    assert otel.metric("rabbitmq.client.acknowledged.messages") == 2


def test_synchronous_operations_are_timed(
    blocking: BlockingChannel, otel: Telemetry, broker_url: str
) -> None:
    queue = str(blocking.queue_declare("", exclusive=True).method.queue)
    blocking.basic_qos(prefetch_count=10)
    assert blocking.basic_get(queue) == (None, None, None)
    blocking.queue_purge(queue)
    blocking.queue_purge(queue)
    params = URLParameters(broker_url)
    where = {"server.address": params.host, "server.port": params.port}
    for name, count in [
        ("queue.declare", 1),
        ("basic.qos", 1),
        ("basic.get", 1),
        ("queue.purge", 2),
    ]:
        operation = {"messaging.operation.name": name, **where}
        assert otel.metric("rabbitmq.client.operation.duration", **operation) == count, name
    blocking.basic_publish("", queue, b"not an operation")
    blocking.basic_ack(blocking.basic_get(queue)[0].delivery_tag)  # type: ignore[union-attr]
    # Only the requests that await a reply count: not the publish, nor the ack.
    assert otel.metric("rabbitmq.client.operation.duration") == 6


def test_returned_message_is_counted(blocking: BlockingChannel, otel: Telemetry) -> None:
    returned: list[bytes] = []
    blocking.add_on_return_callback(lambda ch, method, props, body: returned.append(body))
    blocking.basic_publish("", f"nowhere-{uuid.uuid4().hex}", b"lost", mandatory=True)
    deadline = time.monotonic() + 30
    while not returned and time.monotonic() < deadline:
        blocking.connection.process_data_events(0.05)
    assert returned == [b"lost"]
    assert (
        otel.metric("rabbitmq.client.returned.messages", **{"rabbitmq.return.reply_code": 312}) == 1
    )


def test_consumer_error_marks_the_process_span(blocking: BlockingChannel, otel: Telemetry) -> None:
    queue = str(blocking.queue_declare("", exclusive=True).method.queue)
    blocking.basic_publish("", queue, b"boom")

    def on_message(ch: BlockingChannel, method: Any, props: Any, body: bytes) -> None:
        raise ValueError("consumer failed")

    blocking.basic_consume(queue, on_message, auto_ack=True)
    with pytest.raises(ValueError, match="consumer failed"):
        blocking.start_consuming()
    (consumer,) = otel.finished(SpanKind.CONSUMER)
    assert consumer.attributes is not None
    assert consumer.attributes["error.type"] == "ValueError"
    assert not consumer.status.is_ok
    assert otel.metric("messaging.process.duration", **{"error.type": "ValueError"}) == 1


def test_thread_safe_consumer_runs_in_its_process_span(broker_url: str, otel: Telemetry) -> None:
    connection = pika.Connection(URLParameters(broker_url))
    try:
        chan = connection.channel()
        queue = str(chan.queue_declare("", exclusive=True).method.queue)
        seen: list[tuple[pika.BasicProperties, Any, str]] = []
        done = threading.Event()

        def on_message(ch: Any, method: Any, props: Any, body: bytes) -> None:
            seen.append(
                (
                    props,
                    trace.get_current_span().get_span_context(),
                    threading.current_thread().name,
                )
            )
            ch.basic_ack(method.delivery_tag)
            done.set()

        chan.basic_consume(queue, on_message)
        chan.basic_publish("", queue, b"threads")
        assert done.wait(30)
    finally:
        connection.close()
    (producer,) = otel.finished(SpanKind.PRODUCER)
    check_publish_span(producer, queue, broker_url)
    props, current, thread_name = seen[0]
    assert thread_name != threading.main_thread().name
    assert traceparent(props) == (producer.context.trace_id, producer.context.span_id)
    wait_until(lambda: otel.finished(SpanKind.CONSUMER), message="the process span ended")
    (consumer,) = otel.finished(SpanKind.CONSUMER)
    check_process_span(consumer, queue, producer, current, len(b"threads"))
    assert otel.metric("rabbitmq.client.acknowledged.messages") == 1


def test_recovery_is_counted_and_tracing_goes_on(broker_url: str, otel: Telemetry) -> None:
    params = URLParameters(broker_url)
    name = f"pika-test-otel-{uuid.uuid4().hex[:10]}"
    params.client_properties = {"connection_name": name}
    connection = BlockingConnection(
        params, recovery=RecoveryPolicy(initial_delay=0.05, max_delay=0.5)
    )
    try:
        chan = connection.channel()
        queue = f"pika-test-otel-{uuid.uuid4().hex[:10]}"
        chan.queue_declare(queue, auto_delete=True)
        bodies: list[bytes] = []
        chan.basic_consume(queue, lambda ch, m, p, body: bodies.append(body), auto_ack=True)
        broker.close_connection(broker_pid_of(name), "test: otel recovery")
        deadline = time.monotonic() + 30
        while (
            otel.metric("rabbitmq.client.recoveries", **{"rabbitmq.recovery.outcome": "succeeded"})
            < 1
            and time.monotonic() < deadline
        ):
            connection.process_data_events(0.05)
        assert (
            otel.metric("rabbitmq.client.recoveries", **{"rabbitmq.recovery.outcome": "started"})
            == 1
        )
        assert (
            otel.metric("rabbitmq.client.recoveries", **{"rabbitmq.recovery.outcome": "succeeded"})
            == 1
        )
        otel.spans.clear()
        chan.basic_publish("", queue, b"after")
        while not bodies and time.monotonic() < deadline:
            connection.process_data_events(0.05)
        assert bodies == [b"after"]
        (producer,) = otel.finished(SpanKind.PRODUCER)
        (consumer,) = otel.finished(SpanKind.CONSUMER)
        assert consumer.parent is not None and consumer.parent.span_id == producer.context.span_id
    finally:
        connection.close()


def test_uninstrumented_library_makes_no_spans(broker_url: str) -> None:
    recorded = Telemetry()
    pika.otel.instrument(recorded.tracer_provider, recorded.meter_provider)
    pika.otel.uninstrument()
    assert not pika.otel.is_instrumented() and telemetry.installed() is None
    connection = BlockingConnection(URLParameters(broker_url))
    try:
        chan = connection.channel()
        queue = str(chan.queue_declare("", exclusive=True).method.queue)
        chan.basic_publish("", queue, b"quiet")
        _method, properties, body = chan.basic_get(queue, auto_ack=True)
        assert body == b"quiet" and properties is not None and not properties.headers
    finally:
        connection.close()
    assert recorded.spans.get_finished_spans() == ()


def test_console_example_prints_linked_spans_and_metrics(broker_url: str) -> None:
    queue = f"pika-test-otel-example-{uuid.uuid4().hex[:10]}"
    try:
        done = run_example(broker_url, "otel_console.py", queue, "2")
    finally:
        broker.rabbitmqctl("delete_queue", queue)
    assert done.returncode == 0, done.stderr
    printed = []
    decoder = json.JSONDecoder()
    text, at = done.stdout, 0
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        item, at = decoder.raw_decode(text, at)
        printed.append(item)
    spans = [item for item in printed if "context" in item]
    publishes = {
        span["context"]["span_id"] for span in spans if span["name"] == "publish amq.default"
    }
    processes = [span for span in spans if span["name"] == f"process {queue}"]
    assert len(publishes) == 2 and len(processes) == 2
    assert {span["parent_id"] for span in processes} == publishes
    assert all(span["kind"] == "SpanKind.CONSUMER" for span in processes)
    metric_names = {
        metric["name"]
        for item in printed
        for resource in item.get("resource_metrics", [])
        for scope in resource["scope_metrics"]
        for metric in scope["metrics"]
    }
    assert {"messaging.client.sent.messages", "messaging.client.consumed.messages"} <= metric_names


@pytest.mark.parametrize("kit", sorted(KITS))
def test_every_event_loop_adapter_is_traced(kit: str, broker_url: str, otel: Telemetry) -> None:
    driver = AdapterDriver(KITS[kit]())
    try:
        chan = driver.channel(driver.connect(URLParameters(broker_url)))
        ok = driver.method(lambda done: chan.queue_declare("", exclusive=True, callback=done))
        queue = str(ok.queue)
        seen: list[tuple[pika.BasicProperties, Any]] = []

        def on_message(channel: Any, method: Any, props: Any, body: bytes) -> None:
            seen.append((props, trace.get_current_span().get_span_context()))
            channel.basic_ack(method.delivery_tag)

        chan.basic_consume(queue, on_message)
        chan.basic_publish("", queue, b"loop")
        driver.until(lambda: seen, what="the delivery")
    finally:
        driver.close()
    (producer,) = otel.finished(SpanKind.PRODUCER)
    check_publish_span(producer, queue, broker_url)
    props, current = seen[0]
    assert traceparent(props) == (producer.context.trace_id, producer.context.span_id)
    (consumer,) = otel.finished(SpanKind.CONSUMER)
    check_process_span(consumer, queue, producer, current, len(b"loop"))
    assert otel.metric("rabbitmq.client.acknowledged.messages") == 1


def test_twisted_is_traced(reactor: Any, broker_url: str, otel: Telemetry) -> None:
    """Twisted's publishes get their spans and confirm metrics; its consumer
    queue's messages are counted and carry the context (no span: the
    Deferred chain handles them); ``basic_get`` gets its receive span."""

    async def scenario() -> tuple[str, list[Any]]:
        amqp = await twisted_connect(reactor, URLParameters(broker_url))
        chan = await amqp.channel()
        queue = str((await chan.queue_declare("", exclusive=True)).method.queue)
        await chan.confirm_delivery()
        for body in (b"consumed", b"fetched"):
            await chan.basic_publish("", queue, body)
        await chan.basic_qos(prefetch_count=1)
        messages, tag = await chan.basic_consume(queue)
        consumed = await messages.get()
        chan.basic_ack(consumed.method.delivery_tag)
        await chan.basic_cancel(tag)
        fetched = await chan.basic_get(queue, auto_ack=True)
        await amqp.close()
        return queue, [consumed, fetched]

    queue, (consumed, fetched) = in_reactor(reactor, scenario)
    assert [consumed.body, fetched.body] == [b"consumed", b"fetched"]
    producers = otel.finished(SpanKind.PRODUCER)
    assert len(producers) == 2
    for span in producers:
        check_publish_span(span, queue, broker_url)
    producer_ids = [span.context.span_id for span in producers]
    assert [traceparent(consumed.properties)[1], traceparent(fetched.properties)[1]] == producer_ids
    carried = trace.get_current_span(pika.otel.extract_context(consumed.properties))
    assert carried.get_span_context().span_id == producer_ids[0]
    assert otel.finished(SpanKind.CONSUMER) == []
    (receive,) = otel.finished(SpanKind.CLIENT)
    assert [link.context.span_id for link in receive.links] == [producer_ids[1]]
    assert (
        otel.metric("rabbitmq.client.confirmed.messages", **{"rabbitmq.confirm.outcome": "ack"})
        == 2
    )
    process = {"messaging.operation.name": "process"}
    assert otel.metric("messaging.client.consumed.messages", **process) == 1
    receive_op = {"messaging.operation.name": "receive"}
    assert otel.metric("messaging.client.consumed.messages", **receive_op) == 1
    assert otel.metric("rabbitmq.client.acknowledged.messages") == 1
