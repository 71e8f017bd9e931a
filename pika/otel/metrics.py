"""The metrics `pika.otel` records (one `MessagingMetrics` per meter).

OpenTelemetry's messaging metrics:

- ``messaging.client.sent.messages`` (counter): messages published;
- ``messaging.client.consumed.messages`` (counter): deliveries and
  ``basic_get`` messages;
- ``messaging.process.duration`` (histogram, s): consumer callbacks.

This library's own (RabbitMQ's Java and .NET clients count the same):

- ``rabbitmq.client.acknowledged.messages`` (counter): acks sent, one per call;
- ``rabbitmq.client.rejected.messages`` (counter): nacks and rejects sent,
  with ``rabbitmq.requeue``;
- ``rabbitmq.client.confirmed.messages`` (counter): publishes the broker
  confirmed, with ``rabbitmq.confirm.outcome`` (ack or nack);
- ``rabbitmq.client.publish_confirm.duration`` (histogram, s): from the
  publish to its confirm;
- ``rabbitmq.client.operation.duration`` (histogram, s): from a
  synchronous request (``queue_declare``, ``basic_qos``, ...) to its reply,
  with ``messaging.operation.name`` the AMQP method (``queue.declare``);
- ``rabbitmq.client.returned.messages`` (counter): unroutable mandatory
  messages returned, with ``rabbitmq.return.reply_code``;
- ``rabbitmq.client.recoveries`` (counter): recoveries started, succeeded
  and failed (``rabbitmq.recovery.outcome``).
"""

from __future__ import annotations

from opentelemetry.metrics import Counter, Histogram, Meter

# attribute -> (instrument name, unit, description); histograms when unit is "s".
_INSTRUMENTS = {
    "sent": ("messaging.client.sent.messages", "{message}", "Messages published"),
    "consumed": ("messaging.client.consumed.messages", "{message}", "Messages received"),
    "process_duration": ("messaging.process.duration", "s", "Duration of consumer callbacks"),
    "acknowledged": ("rabbitmq.client.acknowledged.messages", "{message}", "Acks sent"),
    "rejected": ("rabbitmq.client.rejected.messages", "{message}", "Nacks and rejects sent"),
    "confirmed": (
        "rabbitmq.client.confirmed.messages",
        "{message}",
        "Publishes confirmed by the broker",
    ),
    "confirm_duration": (
        "rabbitmq.client.publish_confirm.duration",
        "s",
        "Time from publish to confirm",
    ),
    "operation_duration": (
        "rabbitmq.client.operation.duration",
        "s",
        "Time from a synchronous request to its reply",
    ),
    "returned": ("rabbitmq.client.returned.messages", "{message}", "Messages returned"),
    "recoveries": ("rabbitmq.client.recoveries", "{recovery}", "Connection recovery events"),
}


class MessagingMetrics:
    """The instruments, created once from ``meter`` (see the module's list)."""

    sent: Counter
    consumed: Counter
    process_duration: Histogram
    acknowledged: Counter
    rejected: Counter
    confirmed: Counter
    confirm_duration: Histogram
    operation_duration: Histogram
    returned: Counter
    recoveries: Counter

    def __init__(self, meter: Meter) -> None:
        for attribute, (name, unit, description) in _INSTRUMENTS.items():
            create = meter.create_histogram if unit == "s" else meter.create_counter
            setattr(self, attribute, create(name, unit, description))
