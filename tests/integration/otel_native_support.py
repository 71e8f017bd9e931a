"""What the tests of native OpenTelemetry support (`pika.otel`) share: the
SDK's in-memory span exporter and metric reader of one test (the ``otel``
fixture instruments the library with them, through `instrumented`), and checks of the publish and
process spans. A test module importing it is skipped (failed under CI)
when the SDK is not installed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pika.connection import URLParameters
from tests.conftest import skip_or_fail

try:
    from opentelemetry import trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    import pika.otel
except ImportError as missing:  # pragma: no cover - the dev extra installs them
    skip_or_fail(f"OpenTelemetry is not installed: {missing}")

__all__ = [
    "ReadableSpan",
    "SpanKind",
    "Telemetry",
    "check_process_span",
    "check_publish_span",
    "instrumented",
    "trace",
]


class Telemetry:
    """The in-memory exporter and metric reader of one test."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def finished(self, kind: SpanKind) -> list[ReadableSpan]:
        return [span for span in self.spans.get_finished_spans() if span.kind is kind]

    def metric(self, name: str, **labels: Any) -> float:
        """A counter's sum (a histogram's count) over the points matching ``labels``."""
        total = 0.0
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data is not None else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name != name:
                        continue
                    for point in metric.data.data_points:
                        attributes = dict(point.attributes or {})
                        if all(attributes.get(key) == value for key, value in labels.items()):
                            total += getattr(point, "value", None) or getattr(point, "count", 0)
        return total


@contextmanager
def instrumented() -> Iterator[Telemetry]:
    """The library instrumented with a new `Telemetry` (the ``otel``
    fixture of the integration tests), uninstrumented afterwards."""
    recorded = Telemetry()
    pika.otel.instrument(recorded.tracer_provider, recorded.meter_provider)
    try:
        yield recorded
    finally:
        pika.otel.uninstrument()
        recorded.tracer_provider.shutdown()
        recorded.meter_provider.shutdown()


def check_publish_span(span: ReadableSpan, queue: str, broker_url: str) -> None:
    params = URLParameters(broker_url)
    assert span.name == "publish amq.default"
    assert span.kind is SpanKind.PRODUCER
    assert span.attributes is not None
    assert span.attributes["messaging.system"] == "rabbitmq"
    assert span.attributes["messaging.operation.type"] == "send"
    assert span.attributes["messaging.destination.name"] == ""
    assert span.attributes["messaging.rabbitmq.destination.routing_key"] == queue
    assert span.attributes["server.address"] == params.host
    assert span.attributes["server.port"] == params.port


def check_process_span(
    span: ReadableSpan, queue: str, producer: ReadableSpan, current: Any, body_size: int
) -> None:
    assert span.name == f"process {queue}"
    assert span.kind is SpanKind.CONSUMER
    assert span.attributes is not None
    assert span.attributes["messaging.operation.type"] == "process"
    assert span.attributes["messaging.destination.subscription.name"] == queue
    assert span.attributes["messaging.message.body.size"] == body_size
    assert span.parent is not None
    assert span.parent.span_id == producer.context.span_id
    assert span.context.trace_id == producer.context.trace_id
    # The consumer callback ran with the process span current.
    assert current.span_id == span.context.span_id
