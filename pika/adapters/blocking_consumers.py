"""The consumer records of a `BlockingChannel`, shaped for the tools that read them.

A `BlockingChannel` keeps two kinds of consumers:

- `basic_consume` consumers: one `_ConsumerInfo` each in the channel's
  ``_consumer_infos`` dict (consumer tag -> record). Their messages wait in
  the connection's ready queue as `_Delivery` items, and each item calls
  the record's ``on_message_callback`` *as it is when the message is
  dispatched*, not as it was when the message arrived (through an observer
  of `pika.telemetry` when one is installed, which traces the call).
- the ``consume`` generator: one `_QueueConsumerGeneratorInfo`, whose
  ``pending_events`` deque holds the messages received and not yet yielded.
  The generator takes every message out of it with ``popleft()``.

Names kept for outside tools
----------------------------
These names are private, but Pika's are read and patched by OpenTelemetry's
``opentelemetry-instrumentation-pika`` (every release since 2021), which
made them a de-facto interface. They exist here, with the attributes below,
so that the instrumentation works over this library unchanged:

- ``pika.adapters.blocking_connection._QueueConsumerGeneratorInfo``: the
  instrumentation wraps its ``__init__`` and then replaces the new
  instance's ``pending_events`` with a proxy whose ``popleft()`` opens a
  span for each `_ConsumerDeliveryEvt` it returns; it reads
  ``consumer_tag``. The generator therefore looks ``pending_events`` up
  after construction and pops every message through it.
- ``pika.adapters.blocking_connection._ConsumerDeliveryEvt``: what such a
  proxy recognizes as a message (``method``, ``properties``, ``body``).
- ``BlockingChannel._consumer_infos``: consumer tag -> `_ConsumerInfo`; the
  instrumentation replaces each record's ``on_message_callback`` with a
  traced wrapper right after `BlockingChannel.basic_consume` returns, so
  dispatch reads the attribute at dispatch time.

The instrumentation also uses public or long-standing parts of the
surfaces, which need nothing here: it wraps `BlockingConnection.channel`,
`pika.connection.Connection.channel` and (per channel instance)
``basic_consume``, sets ``basic_publish`` as an instance attribute of the
channels, and reads ``channel.connection._impl.params.host``/``.port``
(``channel.connection.params`` for a callback channel).

Per-message cost: while ``pending_events`` is the generator's own deque,
messages go into it as plain ``(method, properties, body)`` tuples. Only
when something has replaced the deque are they stored as
`_ConsumerDeliveryEvt`, a named tuple the replacement can recognize; both
are the same 3-tuple to the generator, so it yields whichever it pops.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from pika import exceptions, spec, telemetry
from pika.telemetry import hand_off

if TYPE_CHECKING:
    from pika.adapters.blocking_channel import BlockingChannel
    from pika.channel import Channel

__all__: list[str] = []

OnMessage = Callable[["BlockingChannel", spec.Basic.Deliver, spec.BasicProperties, bytes], Any]
"""A `basic_consume` consumer's callback: ``(channel, method, properties, body)``."""

Message = tuple[spec.Basic.Deliver, spec.BasicProperties, bytes]
"""One message as the consume generator yields it."""

_Deliver = spec.Basic.Deliver
_Props = spec.BasicProperties

MessageSink = Callable[["Channel", _Deliver, _Props, bytes], None]
"""A consumer callback of the callback layer: ``(channel, method, properties, body)``."""


class _ConsumerInfo:
    """One `basic_consume` consumer of a `BlockingChannel`.

    ``on_message_callback`` may be replaced while the consumer runs (a
    tracing wrapper); every message is dispatched to the one set then.
    """

    __slots__ = ("auto_ack", "consumer_tag", "on_message_callback")

    def __init__(self, consumer_tag: str, on_message_callback: OnMessage, auto_ack: bool) -> None:
        self.consumer_tag = consumer_tag
        self.on_message_callback = on_message_callback
        self.auto_ack = auto_ack

    def __repr__(self) -> str:
        return f"<_ConsumerInfo tag={self.consumer_tag!r} auto_ack={self.auto_ack}>"


class _Delivery(
    tuple[
        "BlockingChannel",
        _ConsumerInfo,
        spec.Basic.Deliver,
        spec.BasicProperties,
        bytes,
    ]
):
    """A message for a `basic_consume` consumer, waiting in the ready queue:
    ``(channel, info, method, properties, body)``.

    A tuple, so that queueing one runs no Python code (it is made from the
    five values as ``_Delivery((channel, ...))``) and `BlockingConnection._dispatch`
    can unpack it to call the consumer's callback itself, which is what
    calling it does without an observer.
    """

    __slots__ = ()

    @property
    def channel(self) -> BlockingChannel:
        """The `BlockingChannel` the message arrived on."""
        return self[0]

    @property
    def info(self) -> _ConsumerInfo:
        """The consumer's record."""
        return self[1]

    @property
    def method(self) -> spec.Basic.Deliver:
        """The message's Basic.Deliver."""
        return self[2]

    @property
    def properties(self) -> spec.BasicProperties:
        """The message's properties."""
        return self[3]

    @property
    def body(self) -> bytes:
        """The message's body."""
        return self[4]

    def __call__(self) -> None:
        channel, info, method, properties, body = self
        observer = telemetry.observer
        if observer is None:
            info.on_message_callback(channel, method, properties, body)
        else:
            observer.process(
                telemetry.ObservedMessage(channel._impl, method, properties, body),
                lambda: info.on_message_callback(channel, method, properties, body),
            )


class _ConsumerDeliveryEvt(NamedTuple):
    """A message in the consume generator's ``pending_events`` once that
    deque has been replaced by a wrapper (see the module's notes)."""

    method: spec.Basic.Deliver
    properties: spec.BasicProperties
    body: bytes


class _QueueConsumerGeneratorInfo:
    """The consumer behind `BlockingChannel.consume` and its unyielded messages.

    ``params`` are the ``(queue, auto_ack, exclusive, arguments)`` it was
    started with; ``consumer_tag`` is set once the broker confirmed it;
    ``on_message`` is its callback in the callback layer; ``cancelled`` is
    set once it was cancelled (by the application or the broker);
    ``pending_events`` holds the received messages, oldest first, and a
    `MessageTooLargeError` for a message over ``max_message_size``, which
    the generator raises in its turn.
    """

    __slots__ = (
        "auto_ack",
        "cancelled",
        "consumer_tag",
        "on_message",
        "params",
        "pending_events",
    )

    def __init__(self, params: tuple[Any, ...], auto_ack: bool) -> None:
        self.params = params
        self.auto_ack = auto_ack
        self.consumer_tag = ""
        self.on_message: Callable[..., None] | None = None
        self.cancelled = False
        self.pending_events: collections.deque[Message | exceptions.MessageTooLargeError] = (
            collections.deque()
        )

    def __repr__(self) -> str:
        return (
            f"<_QueueConsumerGeneratorInfo tag={self.consumer_tag!r} "
            f"pending={len(self.pending_events)} cancelled={self.cancelled}>"
        )

    def messages(self) -> list[Message]:
        """The messages waiting in ``pending_events`` (those over
        max_message_size were settled already)."""
        return [item for item in self.pending_events if isinstance(item, tuple)]

    def message_sink(self) -> MessageSink:
        """The callback-layer consumer callback that queues each message in
        ``pending_events`` (as it is now: call this after construction)."""
        pending = self.pending_events
        append = pending.append
        if type(pending) is collections.deque:

            def put(_impl: Channel, method: _Deliver, properties: _Props, body: bytes) -> None:
                append((method, properties, body))

            return hand_off(put)

        def put_event(_impl: Channel, method: _Deliver, properties: _Props, body: bytes) -> None:
            append(_ConsumerDeliveryEvt(method, properties, body))

        return hand_off(put_event)


def _delivery_sink(channel: BlockingChannel, info: _ConsumerInfo) -> MessageSink:
    """The callback-layer consumer callback of a `basic_consume` consumer:
    it queues each message in the connection's ready queue for dispatch to
    ``info``'s callback."""
    ready = channel._connection._ready

    def put_delivery(_impl: Channel, method: _Deliver, properties: _Props, body: bytes) -> None:
        # (mypy does not take a tuple subclass with a __call__ for a callable)
        ready.append(_Delivery((channel, info, method, properties, body)))  # type: ignore[arg-type]

    return hand_off(put_delivery)
