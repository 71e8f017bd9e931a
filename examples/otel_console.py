"""Trace and measure a publisher and a consumer, exporting to the console.

    pip install 'pika[otel]' opentelemetry-sdk
    python examples/otel_console.py [QUEUE] [COUNT]

Publishes COUNT messages (3 by default) to QUEUE ("otel-demo", declared
first) and consumes them with a callback consumer. `pika.otel.instrument`
makes a PRODUCER span per publish (its context travels in the message's
``traceparent`` header), a CONSUMER span per message around the callback,
child of the producer span, and the messaging metrics; the SDK's console
exporters print them as JSON. The broker is taken from the AMQP_URL
environment variable, by default amqp://guest:guest@localhost:5672/%2F.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

import pika
import pika.otel

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"


def set_up_opentelemetry() -> tuple[TracerProvider, MeterProvider]:
    """Console exporters for spans (each as it ends) and metrics (at shutdown)."""
    resource = Resource.create({"service.name": "pika-otel-example"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    reader = PeriodicExportingMetricReader(ConsoleMetricExporter(), export_interval_millis=60_000)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    return tracer_provider, meter_provider


def main() -> int:
    queue = sys.argv[1] if len(sys.argv) > 1 else "otel-demo"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    tracer_provider, meter_provider = set_up_opentelemetry()
    pika.otel.instrument()  # the global providers set above
    tracer = trace.get_tracer("otel-console-example")
    parameters = pika.URLParameters(os.environ.get("AMQP_URL", DEFAULT_URL))
    with pika.BlockingConnection(parameters) as connection:
        channel = connection.channel()
        channel.queue_declare(queue=queue)
        with tracer.start_as_current_span("send batch"):
            for number in range(count):
                channel.basic_publish("", queue, f"message {number}".encode())
        received = 0

        def on_message(ch: Any, method: Any, properties: Any, body: bytes) -> None:
            nonlocal received
            # The consumer span is current: spans started here are its children.
            with tracer.start_as_current_span("handle message"):
                print(f" [x] Received {body!r}", file=sys.stderr)
            ch.basic_ack(method.delivery_tag)
            received += 1
            if received == count:
                ch.stop_consuming()

        channel.basic_consume(queue, on_message)
        channel.start_consuming()
    pika.otel.uninstrument()
    tracer_provider.shutdown()
    meter_provider.shutdown()  # exports the metrics once more
    return 0


if __name__ == "__main__":
    sys.exit(main())
