"""Native OpenTelemetry tracing and metrics (``pip install pika[otel]``).

    import pika.otel
    pika.otel.instrument()          # global tracer and meter providers
    ...
    pika.otel.uninstrument()

Once instrumented, every connection style (select, blocking, thread-safe,
asyncio, Tornado, Twisted, gevent, `pika.aio`) is observed through the callback layer
(`pika.telemetry`):

- ``basic_publish``: a PRODUCER span ``publish <exchange>`` whose context is
  injected into the message headers (``traceparent``; the application's
  properties object is copied, not changed).
- a delivery to a consumer: a CONSUMER span ``process <queue>`` around the
  consumer callback (for the blocking and thread-safe connections, around
  the application's callback when it is dispatched; for `pika.aio`, around
  the whole task of an ``async def`` callback), the child of the context
  the message carries, and current while the callback runs.
- ``basic_get``: a CLIENT span ``receive <exchange>`` linked to the
  message's context.
- metrics (`pika.otel.metrics`): messages sent, consumed, acknowledged,
  rejected, confirmed and returned, consumer callback, publish-to-confirm
  and synchronous operation (request to reply) durations, recoveries.

The messages of the blocking ``consume`` generator, of `pika.aio`'s
``consume()`` iterator and of Twisted's consumer queues are counted but get
no span (the code handling them is the application's loop):
`extract_context` gives the context a message carries, to start one.

With nothing instrumented, the library costs one attribute check per
message more than without this package.
"""

from __future__ import annotations

from typing import Optional

from opentelemetry import metrics, trace

from pika.otel.telemetry import PikaTelemetry, extract_context
from pika.telemetry import install, installed, uninstall

__all__ = ["PikaTelemetry", "extract_context", "instrument", "is_instrumented", "uninstrument"]


def instrument(
    tracer_provider: Optional[trace.TracerProvider] = None,
    meter_provider: Optional[metrics.MeterProvider] = None,
) -> PikaTelemetry:
    """Trace and measure every connection of the process from now on
    (channels that exist already included); returns the observer.

    ``tracer_provider`` and ``meter_provider`` default to OpenTelemetry's
    global ones. Instrumenting again replaces the previous observer.
    """
    telemetry = PikaTelemetry(tracer_provider, meter_provider)
    install(telemetry)
    return telemetry


def uninstrument() -> None:
    """Stop tracing and measuring."""
    uninstall()


def is_instrumented() -> bool:
    """Whether a `PikaTelemetry` observes the library."""
    return isinstance(installed(), PikaTelemetry)
