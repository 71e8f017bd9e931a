"""OpenTelemetry's own Pika instrumentation over this library, as a real component.

``opentelemetry-instrumentation-pika`` (installed by the ``dev`` extra) patches
`BlockingConnection`, `BlockingChannel`, the callback `Connection` and the
consume generator's internals (see `pika.adapters.blocking_consumers`). These
tests instrument for real, talk to the broker, and read the spans from the
SDK's in-memory exporter: span names and kinds, attributes, the
``traceparent`` header the producer span injects, and the consumer span
that continues its trace, for publish, callback consumers and the consume
generator.

Which release ran is printed in the report header (``tests/conftest.py``);
``make otel-releases`` (``scripts/otel_instrumentation_releases.py``) runs
this file against other releases, each in a virtualenv of its own.
"""

from __future__ import annotations

import importlib.metadata
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.adapters.select_connection import SelectConnection
from pika.connection import URLParameters
from tests.conftest import skip_or_fail
from tests.integration.otel_support import blocking_channel, traceparent

try:
    from opentelemetry import context, trace
    from opentelemetry.instrumentation.dependencies import get_dependency_conflicts
    from opentelemetry.instrumentation.pika import PikaInstrumentor
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind
    from packaging.version import Version
except ImportError as missing:  # pragma: no cover - the dev extra installs them
    skip_or_fail(f"OpenTelemetry's Pika instrumentation is not installed: {missing}")

pytestmark = pytest.mark.broker

RELEASE = Version(importlib.metadata.version("opentelemetry-instrumentation-pika"))
# What changed across the releases (over Pika as over this library):
# - from 0.46b0 on, the consume generator is traced;
TRACES_GENERATOR = Version("0.46b0") <= RELEASE
# - from 0.56b0 on, the callback Connection's channel() is patched too; the
#   blocking channel publishes through its callback channel, so a blocking
#   publish makes a second PRODUCER span, a child of the first, and the
#   header carries the inner one;
WRAPS_CALLBACK_CONNECTION = Version("0.56b0") <= RELEASE
# - before 0.63b0, "messaging.destination" held the consumer tag (or
#   "(temporary)" for a publish) rather than the exchange or routing key.
DESTINATION_IS_NAME = Version("0.63b0") <= RELEASE


def destination(name: str, otherwise: str) -> str:
    """The "messaging.destination" value this release sets."""
    return name if DESTINATION_IS_NAME else otherwise


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """Instrument the library (with hooks) for one test; the finished spans."""
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    hooks: dict[str, list[tuple[Any, ...]]] = {"publish": [], "consume": []}
    # The generator's span context stays attached after its last message
    # (the instrumentation's doing): start and end the test from a clean one.
    token = context.attach(context.Context())
    PikaInstrumentor().instrument(
        tracer_provider=provider,
        publish_hook=lambda span, body, properties: hooks["publish"].append((span, body)),
        consume_hook=lambda span, body, properties: hooks["consume"].append((span, body)),
    )
    spans.hooks = hooks  # type: ignore[attr-defined]
    try:
        yield spans
    finally:
        PikaInstrumentor().uninstrument()
        context.detach(token)
        provider.shutdown()


@pytest.fixture
def chan(broker_url: str, exporter: InMemorySpanExporter) -> Iterator[BlockingChannel]:
    """A channel of a connection opened after instrumenting."""
    with blocking_channel(broker_url) as channel:
        yield channel


def private_queue(chan: BlockingChannel) -> str:
    return str(chan.queue_declare("", exclusive=True).method.queue)


def finished(exporter: InMemorySpanExporter, kind: SpanKind) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.kind is kind]


def injecting_span(producers: list[ReadableSpan]) -> ReadableSpan:
    """The innermost PRODUCER span of one publish: its context is in the header."""
    parents = {span.parent.span_id for span in producers if span.parent is not None}
    inner = [span for span in producers if span.context.span_id not in parents]
    assert len(inner) == 1, producers
    return inner[0]


def check_peer(span: ReadableSpan, broker_url: str) -> None:
    params = URLParameters(broker_url)
    assert span.attributes is not None
    assert span.attributes["net.peer.name"] == params.host
    assert span.attributes["net.peer.port"] == params.port


def test_the_dependency_check_finds_this_library_as_pika() -> None:
    # The instrumentation declares "pika >= 0.12.0": our distribution must
    # satisfy it, and be the only "pika" installed (nothing pulled PyPI's in).
    requirements = PikaInstrumentor().instrumentation_dependencies()
    assert get_dependency_conflicts(requirements) is None
    found = [
        dist
        for dist in importlib.metadata.distributions()
        if (dist.metadata["Name"] or "").lower() == "pika"
    ]
    assert len(found) == 1
    assert found[0].version == pika.__version__
    assert Path(pika.__file__).resolve().parents[1] == Path(__file__).resolve().parents[2]


def test_blocking_publish_makes_producer_spans_and_injects_traceparent(
    chan: BlockingChannel, exporter: InMemorySpanExporter, broker_url: str
) -> None:
    queue = private_queue(chan)
    properties = pika.BasicProperties(message_id="m-1", correlation_id="c-1")
    chan.basic_publish("", queue, b"traced", properties)

    producers = finished(exporter, SpanKind.PRODUCER)
    assert len(producers) == (2 if WRAPS_CALLBACK_CONNECTION else 1)
    for span in producers:
        assert span.name == f"{queue} send"
        assert span.attributes is not None
        assert span.attributes["messaging.system"] == "rabbitmq"
        assert span.attributes["messaging.destination"] == destination(queue, "(temporary)")
        assert span.attributes["messaging.message.id"] == "m-1"
        assert span.attributes["messaging.conversation_id"] == "c-1"
        check_peer(span, broker_url)
    assert [body for _span, body in exporter.hooks["publish"]] == [b"traced"] * len(producers)  # type: ignore[attr-defined]

    _method, received, body = chan.basic_get(queue, auto_ack=True)
    assert body == b"traced" and received is not None
    inner = injecting_span(producers)
    assert traceparent(received) == (inner.context.trace_id, inner.context.span_id)


# What a consumer saw of one message: its body, the (trace id, span id) of its
# traceparent header, and the span context current while it was handled.
Seen = tuple[bytes, tuple[int, int], Any]


def publish_traced(
    chan: BlockingChannel, exporter: InMemorySpanExporter, queue: str, bodies: list[bytes]
) -> set[tuple[int, int]]:
    """Publish ``bodies``; the (trace id, span id) of every PRODUCER span made."""
    for body in bodies:
        chan.basic_publish("", queue, body)
    spans = finished(exporter, SpanKind.PRODUCER)
    exporter.clear()
    return {(span.context.trace_id, span.context.span_id) for span in spans}


def seen_now(properties: Any, body: bytes) -> Seen:
    return body, traceparent(properties), trace.get_current_span().get_span_context()


def check_consumer_spans(
    exporter: InMemorySpanExporter,
    seen: list[Seen],
    bodies: list[bytes],
    publishes: set[tuple[int, int]],
    queue: str,
    tag: str,
) -> list[ReadableSpan]:
    """One CONSUMER span per message, in order, each continuing the trace its
    message carried and current while the message was handled."""
    consumers = finished(exporter, SpanKind.CONSUMER)
    assert [body for body, _parent, _current in seen] == bodies
    assert len(consumers) == len(bodies)
    for span, (_body, parent, current) in zip(consumers, seen):
        assert span.name == f"{queue} receive"
        assert span.attributes is not None
        assert span.attributes["messaging.system"] == "rabbitmq"
        assert span.attributes["messaging.operation"] == "receive"
        assert span.attributes["messaging.destination"] == destination(queue, tag)
        # Parent: the producer span whose context the message carried.
        assert parent in publishes
        assert span.parent is not None
        assert (span.context.trace_id, span.parent.span_id) == parent
        assert current.span_id == span.context.span_id
    assert [body for _span, body in exporter.hooks["consume"]] == bodies  # type: ignore[attr-defined]
    return consumers


def test_callback_consumer_span_continues_the_producer_trace(
    chan: BlockingChannel, exporter: InMemorySpanExporter, broker_url: str
) -> None:
    queue = private_queue(chan)
    bodies = [b"m0", b"m1", b"m2"]
    publishes = publish_traced(chan, exporter, queue, bodies)
    seen: list[Seen] = []

    def on_message(ch: BlockingChannel, method: Any, properties: Any, body: bytes) -> None:
        seen.append(seen_now(properties, body))
        ch.basic_ack(method.delivery_tag)
        if len(seen) == len(bodies):
            ch.stop_consuming()

    tag = chan.basic_consume(queue, on_message)
    # The instrumentation replaced the consumer's callback with a traced one.
    assert chan._consumer_infos[tag].on_message_callback._original_callback is on_message  # type: ignore[attr-defined]
    chan.start_consuming()

    for span in check_consumer_spans(exporter, seen, bodies, publishes, queue, tag):
        check_peer(span, broker_url)


@pytest.mark.skipif(not TRACES_GENERATOR, reason=f"release {RELEASE} does not trace it")
def test_consume_generator_opens_a_span_per_message(
    chan: BlockingChannel, exporter: InMemorySpanExporter
) -> None:
    queue = private_queue(chan)
    bodies = [b"g0", b"g1", b"g2"]
    publishes = publish_traced(chan, exporter, queue, bodies)
    seen: list[Seen] = []
    for method, properties, body in chan.consume(queue, inactivity_timeout=30):
        assert method is not None and properties is not None and body is not None
        seen.append(seen_now(properties, body))
        chan.basic_ack(method.delivery_tag)
        if len(seen) == len(bodies):
            break
    generator = chan._generator
    assert generator is not None
    assert type(generator.pending_events).__name__ == "ReadyMessagesDequeProxy"
    tag = generator.consumer_tag
    chan.cancel()

    check_consumer_spans(exporter, seen, bodies, publishes, queue, tag)


def test_uninstrumented_generator_keeps_plain_tuples(broker_url: str) -> None:
    # No instrumentation: the generator's deque is its own, holding tuples.
    connection = BlockingConnection(URLParameters(broker_url))
    try:
        chan = connection.channel()
        queue = private_queue(chan)
        chan.basic_publish("", queue, b"plain")
        for message in chan.consume(queue, auto_ack=True, inactivity_timeout=30):
            assert type(message) is tuple and message[2] == b"plain"
            break
        generator = chan._generator
        assert generator is not None and type(generator.pending_events).__name__ == "deque"
        chan.cancel()
    finally:
        connection.close()


@pytest.mark.skipif(
    not WRAPS_CALLBACK_CONNECTION, reason=f"release {RELEASE} instruments blocking channels only"
)
def test_select_connection_channel_publish_is_traced(
    broker_url: str, exporter: InMemorySpanExporter
) -> None:
    queue = f"pika-test-otel-{uuid.uuid4().hex[:10]}"
    received: list[Any] = []

    def on_open(connection: SelectConnection) -> None:
        connection.channel(on_open_callback=on_channel)

    def on_channel(channel: Any) -> None:
        def on_message(ch: Any, method: Any, properties: Any, body: bytes) -> None:
            received.append(properties)
            ch.basic_ack(method.delivery_tag)
            ch.connection.close()

        def declared(_frame: Any) -> None:
            channel.basic_publish("", queue, b"select")
            channel.basic_consume(queue, on_message)

        channel.queue_declare(queue, exclusive=True, callback=declared)

    connection = SelectConnection(
        URLParameters(broker_url),
        on_open_callback=on_open,
        on_open_error_callback=lambda conn, error: conn.ioloop.stop(),
        on_close_callback=lambda conn, reason: conn.ioloop.stop(),
    )
    timer = connection.ioloop.call_later(30, connection.ioloop.stop)
    connection.ioloop.start()
    connection.ioloop.remove_timeout(timer)

    assert len(received) == 1
    (producer,) = finished(exporter, SpanKind.PRODUCER)
    assert producer.name == f"{queue} send"
    check_peer(producer, broker_url)
    assert traceparent(received[0]) == (producer.context.trace_id, producer.context.span_id)
