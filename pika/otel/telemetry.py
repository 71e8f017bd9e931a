"""`PikaTelemetry`: OpenTelemetry spans and metrics for every connection style.

It implements `pika.telemetry.TelemetryHooks`, so the callback layer calls
it for each publish, delivery, ``basic_get``, ack/nack/reject, confirm,
return, synchronous request and reply, and recovery (see `pika.otel` for what each produces).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional

from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import Link, SpanKind

from pika import __version__, amqp_object, spec
from pika.otel import attributes as attr
from pika.otel.metrics import MessagingMetrics
from pika.telemetry import ObservedMessage, ObservedPublish, is_hand_off

if TYPE_CHECKING:
    from pika.channel import Channel
    from pika.connection_recovery import RecoverableConnection

__all__ = ["PikaTelemetry"]

SCOPE = "pika"
SCHEMA_URL = "https://opentelemetry.io/schemas/1.26.0"

# Per channel in confirm mode: publish number -> (start, metric attributes).
_UNCONFIRMED = "_otel_unconfirmed"

_SETTLE_NAMES = {
    spec.Basic.Ack.INDEX: "ack",
    spec.Basic.Nack.INDEX: "nack",
    spec.Basic.Reject.INDEX: "reject",
}


class PikaTelemetry:
    """Spans and metrics for the messages of every channel.

    ``tracer_provider``/``meter_provider`` default to OpenTelemetry's global
    providers; the trace context travels in the message headers through the
    global propagator (W3C ``traceparent`` unless configured otherwise).
    """

    def __init__(
        self,
        tracer_provider: Optional[trace.TracerProvider] = None,
        meter_provider: Optional[metrics.MeterProvider] = None,
    ) -> None:
        self._tracer = trace.get_tracer(SCOPE, __version__, tracer_provider, schema_url=SCHEMA_URL)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider, schema_url=SCHEMA_URL)
        self.metrics = MessagingMetrics(meter)

    # ------------------------------------------------------------ publishing

    def on_publish(self, message: ObservedPublish) -> spec.BasicProperties:
        """A PRODUCER span ``publish <exchange>``; its context goes into a
        copy of the properties' headers (the caller's object is untouched)."""
        channel, exchange, properties = message.channel, message.exchange, message.properties
        where = attr.server(channel)
        counted = {
            attr.SYSTEM: attr.RABBITMQ,
            attr.OPERATION_NAME: "publish",
            attr.DESTINATION: exchange,
            **where,
        }
        span = self._tracer.start_span(
            f"publish {attr.destination_label(exchange)}",
            kind=SpanKind.PRODUCER,
            attributes={
                **counted,
                attr.OPERATION_TYPE: "send",
                **attr.without_none(
                    [
                        (attr.ROUTING_KEY, message.routing_key),
                        (attr.MESSAGE_ID, properties and properties.message_id),
                        (attr.CONVERSATION_ID, properties and properties.correlation_id),
                    ]
                ),
                attr.BODY_SIZE: len(message.body),
            },
        )
        sent = copy.copy(properties) if properties is not None else spec.BasicProperties()
        headers = dict(sent.headers) if sent.headers else {}
        propagate.inject(
            headers, context=trace.set_span_in_context(span), setter=attr.HEADER_SETTER
        )
        sent.headers = headers
        if channel._confirming:
            unconfirmed = channel.__dict__.setdefault(_UNCONFIRMED, {})
            unconfirmed[channel._publish_seq + 1] = (time.perf_counter(), counted)
        span.end()
        self.metrics.sent.add(1, counted)
        return sent

    def on_confirm(self, channel: Channel, method: spec.Basic.Ack | spec.Basic.Nack) -> None:
        """Count the confirmed publishes and how long each waited."""
        unconfirmed: dict[int, tuple[float, dict[str, Any]]] = channel.__dict__.get(
            _UNCONFIRMED, {}
        )
        outcome = "ack" if type(method) is spec.Basic.Ack else "nack"
        last = int(method.delivery_tag or 0)
        if method.multiple:
            numbers = [number for number in unconfirmed if number <= last]
        else:
            numbers = [last] if last in unconfirmed else []
        now = time.perf_counter()
        for number in numbers:
            started, counted = unconfirmed.pop(number)
            labelled = {**counted, attr.CONFIRM_OUTCOME: outcome}
            self.metrics.confirmed.add(1, labelled)
            self.metrics.confirm_duration.record(now - started, labelled)

    def on_return(self, message: ObservedMessage[spec.Basic.Return]) -> None:
        """Count a returned message."""
        method = message.method
        self.metrics.returned.add(
            1,
            {
                attr.SYSTEM: attr.RABBITMQ,
                attr.DESTINATION: str(method.exchange or ""),
                attr.REPLY_CODE: int(method.reply_code or 0),
                **attr.server(message.channel),
            },
        )

    # ------------------------------------------------------------- requests

    def on_request(self, channel: Channel, method: amqp_object.Method) -> tuple[float, str]:
        """Note when a synchronous request was sent (and which)."""
        return time.perf_counter(), method.NAME.lower()

    def on_reply(
        self, channel: Channel, request: tuple[float, str], reply: amqp_object.Method
    ) -> None:
        """Record how long the request waited for its reply."""
        started, name = request
        self.metrics.operation_duration.record(
            time.perf_counter() - started,
            {attr.SYSTEM: attr.RABBITMQ, attr.OPERATION_NAME: name, **attr.server(channel)},
        )

    # -------------------------------------------------------------- consuming

    def on_deliver(
        self, message: ObservedMessage[spec.Basic.Deliver], consumer: Callable[..., Any]
    ) -> None:
        """Count the delivery; run the consumer inside a ``process`` span
        unless it only queues the message for its surface's own dispatch."""
        channel, method = message.channel, message.method
        queue = _queue_of(channel, method)
        self.metrics.consumed.add(1, _consumed_attributes(channel, "process", method, queue))
        call = functools.partial(consumer, channel, method, message.properties, message.body)
        if is_hand_off(consumer):
            call()
            return
        self.process(message, call)

    def process(
        self, message: ObservedMessage[spec.Basic.Deliver], call: Callable[[], Any]
    ) -> None:
        """Run ``call()`` in a CONSUMER span ``process <queue>``, child of the
        trace context the message carries; record its duration."""
        with self._processing(message):
            call()

    async def process_async(
        self, message: ObservedMessage[spec.Basic.Deliver], call: Callable[[], Awaitable[Any]]
    ) -> None:
        """Await ``call()`` in a ``process`` span, as `process` runs a call."""
        with self._processing(message):
            await call()

    @contextlib.contextmanager
    def _processing(self, message: ObservedMessage[spec.Basic.Deliver]) -> Iterator[None]:
        """The ``process`` span, current within the block, and the duration
        recorded when it ends (an exception marks both)."""
        method = message.method
        queue = _queue_of(message.channel, method)
        counted = _consumed_attributes(message.channel, "process", method, queue)
        span_attributes = {
            **counted,
            attr.OPERATION_TYPE: "process",
            **_message_attributes(message),
        }
        parent = extract_context(message.properties)
        started = time.perf_counter()
        with self._tracer.start_as_current_span(
            f"process {queue or attr.destination_label(str(method.exchange or ''))}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=span_attributes,
            record_exception=True,
            set_status_on_exception=True,
        ) as span:
            try:
                yield
            except BaseException as error:
                counted[attr.ERROR_TYPE] = type(error).__qualname__
                span.set_attribute(attr.ERROR_TYPE, type(error).__qualname__)
                raise
            finally:
                self.metrics.process_duration.record(time.perf_counter() - started, counted)

    def on_get(self, message: ObservedMessage[spec.Basic.GetOk]) -> None:
        """A CLIENT span ``receive <exchange>`` linked to the message's trace
        context; count the message."""
        method = message.method
        counted = _consumed_attributes(message.channel, "receive", method, None)
        self.metrics.consumed.add(1, counted)
        carried = trace.get_current_span(extract_context(message.properties)).get_span_context()
        span = self._tracer.start_span(
            f"receive {attr.destination_label(str(method.exchange or ''))}",
            kind=SpanKind.CLIENT,
            attributes={
                **counted,
                attr.OPERATION_TYPE: "receive",
                **_message_attributes(message),
            },
            links=[Link(carried)] if carried.is_valid else None,
        )
        span.end()

    def on_settle(self, channel: Channel, method_index: int, delivery_tag: int, flags: int) -> None:
        """Count an ack, nack or reject the application sent."""
        name = _SETTLE_NAMES.get(method_index, str(method_index))
        counted: dict[str, Any] = {
            attr.SYSTEM: attr.RABBITMQ,
            attr.OPERATION_NAME: name,
            **attr.server(channel),
        }
        if name == "ack":
            self.metrics.acknowledged.add(1, counted)
            return
        requeue_bit = 2 if name == "nack" else 1
        counted[attr.REQUEUE] = bool(flags & requeue_bit)
        self.metrics.rejected.add(1, counted)

    # --------------------------------------------------------------- recovery

    def on_recovery(
        self, connection: RecoverableConnection, outcome: str, error: Optional[BaseException]
    ) -> None:
        """Count a recovery event."""
        counted: dict[str, Any] = {
            attr.SYSTEM: attr.RABBITMQ,
            attr.RECOVERY_OUTCOME: outcome,
            attr.SERVER_ADDRESS: connection.params.host,
            attr.SERVER_PORT: connection.params.port,
        }
        if error is not None:
            counted[attr.ERROR_TYPE] = type(error).__qualname__
        self.metrics.recoveries.add(1, counted)


def extract_context(properties: Optional[spec.BasicProperties]) -> otel_context.Context:
    """The trace context a message's headers carry (an empty context if none)."""
    headers = properties.headers if properties is not None else None
    return propagate.extract(headers or {}, getter=attr.HEADER_GETTER)


def _queue_of(channel: Channel, method: spec.Basic.Deliver) -> Optional[str]:
    """The queue a consumer reads (None if unknown)."""
    consumer = channel._consumer_specs.get(str(method.consumer_tag))
    return consumer[0] if consumer is not None else None


def _consumed_attributes(
    channel: Channel,
    operation: str,
    method: spec.Basic.Deliver | spec.Basic.GetOk,
    queue: Optional[str],
) -> dict[str, Any]:
    counted = {
        attr.SYSTEM: attr.RABBITMQ,
        attr.OPERATION_NAME: operation,
        attr.DESTINATION: str(method.exchange or ""),
        **attr.server(channel),
    }
    if queue:
        counted[attr.SUBSCRIPTION] = queue
    return counted


def _message_attributes(
    message: ObservedMessage[spec.Basic.Deliver] | ObservedMessage[spec.Basic.GetOk],
) -> dict[str, Any]:
    method, properties = message.method, message.properties
    return {
        **attr.without_none(
            [
                (attr.ROUTING_KEY, method.routing_key),
                (attr.DELIVERY_TAG, method.delivery_tag),
                (attr.MESSAGE_ID, properties.message_id),
                (attr.CONVERSATION_ID, properties.correlation_id),
            ]
        ),
        attr.BODY_SIZE: len(message.body),
    }
