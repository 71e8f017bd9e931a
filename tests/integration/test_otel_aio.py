"""Native OpenTelemetry support (`pika.otel`) on `pika.aio`, read back with
the SDK's in-memory exporters: publish spans and confirm metrics, process
spans around plain and ``async def`` consumer callbacks (covering the whole
coroutine, and current in it across awaits), the ``consume()`` iterator
(counted, no span: the application's loop handles the message),
``basic_get``'s receive span, and tracing across a recovery."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import pika
import pika.aio
import pika.otel
from pika import spec
from pika.aio import Channel
from tests.integration.aio_support import eventually, run, unique
from tests.integration.otel_native_support import (
    ReadableSpan,
    SpanKind,
    Telemetry,
    check_process_span,
    check_publish_span,
    trace,
)
from tests.integration.otel_support import traceparent
from tests.integration.recovery_support import FAST_POLICY
from tests.utils.proxy import TcpProxy

pytestmark = pytest.mark.broker


def _producer_of(spans: list[ReadableSpan], properties: pika.BasicProperties) -> ReadableSpan:
    span_id = traceparent(properties)[1]
    return next(span for span in spans if span.context.span_id == span_id)


def test_publish_confirms_consumers_iterator_and_get(broker_url: str, otel: Telemetry) -> None:
    tracer = otel.tracer_provider.get_tracer("test")
    plain: list[tuple[pika.BasicProperties, Any]] = []
    awaited: list[tuple[pika.BasicProperties, Any, Any]] = []

    def on_plain(channel: Channel, method: spec.Basic.Deliver, props: Any, body: bytes) -> None:
        plain.append((props, trace.get_current_span().get_span_context()))

    async def on_async(
        channel: Channel, method: spec.Basic.Deliver, props: Any, body: bytes
    ) -> None:
        before = trace.get_current_span().get_span_context()
        await asyncio.sleep(0.05)
        # Still current after an await, and the parent of the handler's spans.
        with tracer.start_as_current_span("handle") as handled:
            await channel.basic_ack(method.delivery_tag)
        awaited.append((props, before, handled.get_span_context()))

    async def main() -> tuple[str, str, str]:
        async with pika.aio.connect(broker_url) as conn:
            channel = await conn.channel()
            plain_queue = str((await channel.queue_declare("", exclusive=True)).method.queue)
            async_queue = str((await channel.queue_declare("", exclusive=True)).method.queue)
            other_queue = str((await channel.queue_declare("", exclusive=True)).method.queue)
            await channel.basic_consume(plain_queue, on_plain, auto_ack=True)
            await channel.basic_consume(async_queue, on_async)
            # Without confirms, then with them.
            await channel.basic_publish("", plain_queue, b"plain")
            await channel.confirm_delivery()
            await channel.basic_publish("", async_queue, b"awaited")
            await channel.basic_publish("", other_queue, b"iterated")
            await eventually(lambda: plain and awaited, 30, "both consumers called")
            async with channel.consume(other_queue) as messages:
                method, props, body = await messages.__anext__()
                assert method is not None and props is not None and body == b"iterated"
                carried = trace.get_current_span(pika.otel.extract_context(props))
                assert carried.get_span_context().span_id == traceparent(props)[1]
                # The iterator's message got no span of its own.
                assert len(otel.finished(SpanKind.CONSUMER)) == 2
                await channel.basic_ack(method.delivery_tag)
            await channel.basic_publish("", other_queue, b"fetched")
            method, props, body = await channel.basic_get(other_queue, auto_ack=True)
            assert body == b"fetched" and props is not None
            (receive,) = otel.finished(SpanKind.CLIENT)
            assert receive.name == "receive amq.default"
            producers = otel.finished(SpanKind.PRODUCER)
            assert [link.context.span_id for link in receive.links] == [
                _producer_of(producers, props).context.span_id
            ]
        return plain_queue, async_queue, other_queue

    plain_queue, async_queue, _other = run(main)
    producers = otel.finished(SpanKind.PRODUCER)
    assert len(producers) == 4
    for span in producers:
        assert span.attributes is not None
        queue = span.attributes["messaging.rabbitmq.destination.routing_key"]
        check_publish_span(span, str(queue), broker_url)
    consumers = {span.name: span for span in otel.finished(SpanKind.CONSUMER)}
    assert set(consumers) == {f"process {plain_queue}", f"process {async_queue}"}

    props, current = plain[0]
    check_process_span(
        consumers[f"process {plain_queue}"],
        plain_queue,
        _producer_of(producers, props),
        current,
        len(b"plain"),
    )
    props, before, handled = awaited[0]
    processed = consumers[f"process {async_queue}"]
    check_process_span(processed, async_queue, _producer_of(producers, props), before, 7)
    (handle,) = [span for span in otel.spans.get_finished_spans() if span.name == "handle"]
    assert handle.parent is not None and handle.parent.span_id == processed.context.span_id
    assert handle.context.span_id == handled.span_id
    # The span covers the whole coroutine, not only the creation of its task.
    assert processed.end_time is not None and handle.end_time is not None
    assert processed.end_time >= handle.end_time

    assert otel.metric("messaging.client.sent.messages") == 4
    assert (
        otel.metric("rabbitmq.client.confirmed.messages", **{"rabbitmq.confirm.outcome": "ack"})
        == 3
    )
    assert otel.metric("rabbitmq.client.publish_confirm.duration") == 3
    process = {"messaging.operation.name": "process"}
    assert otel.metric("messaging.client.consumed.messages", **process) == 3
    receive = {"messaging.operation.name": "receive"}
    assert otel.metric("messaging.client.consumed.messages", **receive) == 1
    assert otel.metric("messaging.process.duration") == 2
    assert otel.metric("rabbitmq.client.acknowledged.messages") == 2


def test_an_async_callback_that_raises_marks_its_span(broker_url: str, otel: Telemetry) -> None:
    async def on_message(_ch: Channel, _m: spec.Basic.Deliver, _p: Any, _b: bytes) -> None:
        await asyncio.sleep(0)
        raise ValueError("async consumer failed")

    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn:
            channel = await conn.channel()
            queue = str((await channel.queue_declare("", exclusive=True)).method.queue)
            await channel.basic_consume(queue, on_message, auto_ack=True)
            await channel.basic_publish("", queue, b"boom")
            await eventually(lambda: otel.finished(SpanKind.CONSUMER), 30, "the process span")

    reports: list[dict[str, Any]] = []
    run(main, expect_errors=reports)
    assert [type(report.get("exception")) for report in reports] == [ValueError]
    (consumer,) = otel.finished(SpanKind.CONSUMER)
    assert consumer.attributes is not None
    assert consumer.attributes["error.type"] == "ValueError"
    assert not consumer.status.is_ok
    assert otel.metric("messaging.process.duration", **{"error.type": "ValueError"}) == 1


@pytest.mark.timeout(120)
def test_tracing_goes_on_across_a_recovery(
    broker_url: str, proxy: TcpProxy, otel: Telemetry
) -> None:
    received: list[tuple[bytes, pika.BasicProperties, Any]] = []

    async def on_message(_ch: Channel, method: spec.Basic.Deliver, props: Any, body: bytes) -> None:
        await asyncio.sleep(0)
        received.append((body, props, trace.get_current_span().get_span_context()))

    def recoveries(outcome: str) -> float:
        return otel.metric("rabbitmq.client.recoveries", **{"rabbitmq.recovery.outcome": outcome})

    async def main() -> str:
        async with pika.aio.connect(proxy.rewrite_url(broker_url), recovery=FAST_POLICY) as conn:
            channel = await conn.channel()
            await channel.confirm_delivery()
            queue = unique("otel")
            await channel.queue_declare(queue, auto_delete=True)
            await channel.basic_consume(queue, on_message, auto_ack=True)
            await channel.basic_publish("", queue, b"before")
            await eventually(lambda: len(received) == 1, 30, "the first message")
            proxy.cut()
            await eventually(lambda: recoveries("succeeded") == 1 and conn.is_open, 30, "recovery")
            await channel.basic_publish("", queue, b"after")
            await eventually(lambda: len(received) == 2, 30, "the message after the recovery")
        return queue

    queue = run(main, timeout=90)
    assert recoveries("started") == 1 and recoveries("failed") == 0
    assert [body for body, _p, _c in received] == [b"before", b"after"]
    producers = otel.finished(SpanKind.PRODUCER)
    consumers = otel.finished(SpanKind.CONSUMER)
    assert len(producers) == len(consumers) == 2
    for _body, props, current in received:
        # The callback ran in its process span, the child of its publish.
        (consumer,) = [span for span in consumers if span.context.span_id == current.span_id]
        assert consumer.name == f"process {queue}"
        producer = _producer_of(producers, props)
        assert consumer.parent is not None and consumer.parent.span_id == producer.context.span_id
    assert (
        otel.metric("rabbitmq.client.confirmed.messages", **{"rabbitmq.confirm.outcome": "ack"})
        == 2
    )
