"""Where an observer (tracing, metrics) plugs into the callback layer.

Every connection style sits on the callback `pika.channel.Channel` and
`pika.connection.Connection`, so one observer installed here sees the
messages of all of them: publishes, deliveries, ``basic_get`` replies,
acks/nacks/rejects, publisher confirms, returns and connection recoveries.
`pika.otel` is such an observer (OpenTelemetry spans and metrics, in the
``pika[otel]`` extra); this module itself needs nothing outside the
standard library.

Cost: with no observer installed, each message costs one check of this
module's `observer` (``telemetry.observer is None``) at each point below;
nothing else runs.

Points of observation (`TelemetryHooks` has one method each):

- ``basic_publish``: before the frames are queued; the observer may return
  other properties to send (e.g. with a trace context in the headers).
- a delivery for a consumer: the observer is handed the consumer callback
  and calls it. Surfaces that only queue the message at that point for a
  later dispatch (the blocking and thread-safe connections) mark their
  internal callbacks with `hand_off` and call `TelemetryHooks.process`
  around the application's callback when they dispatch it; `pika.aio`
  awaits an ``async def`` consumer callback through
  `TelemetryHooks.process_async`.
- a synchronous request (``queue_declare``, ``basic_qos``, ...: whatever
  awaits a reply) and its reply, for operation durations: one check of
  `observer` when the request is sent, one of the value the observer
  returned for it when the reply arrives.
- ``basic_get``'s Basic.GetOk, a Basic.Return, a publisher confirm
  (Basic.Ack/Nack, numbered as the application saw its publishes), an
  ack/nack/reject the application sends, and a recovery's start and end.

An observer must not raise: its errors would surface in the I/O loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Generic, Optional, Protocol, TypeVar

from pika import amqp_object, spec

if TYPE_CHECKING:
    from pika.channel import Channel
    from pika.connection_recovery import RecoverableConnection

__all__ = [
    "ObservedMessage",
    "ObservedPublish",
    "TelemetryHooks",
    "hand_off",
    "install",
    "installed",
    "is_hand_off",
    "uninstall",
]

_HAND_OFF = "_pika_hand_off"

observer: Optional[TelemetryHooks] = None
"""The installed observer (set with `install`); the callback layer checks it."""

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=amqp_object.Method)


@dataclass
class ObservedMessage(Generic[M]):
    """A message as an observer sees it: the callback-layer channel it came
    on, its ``method`` (a Basic.Deliver, Basic.GetOk or Basic.Return),
    ``properties`` and ``body``. Made only while an observer is installed.
    """

    __slots__ = ("body", "channel", "method", "properties")

    channel: Channel
    method: M
    properties: spec.BasicProperties
    body: bytes


@dataclass
class ObservedPublish:
    """A message about to be published, as an observer sees it: the
    callback-layer channel it goes out on, the ``exchange`` and
    ``routing_key`` it is sent to, its ``body`` and ``properties`` (None when
    the application gave none). Made only while an observer is installed.
    """

    __slots__ = ("body", "channel", "exchange", "properties", "routing_key")

    channel: Channel
    exchange: str
    routing_key: str
    body: bytes | bytearray | memoryview
    properties: Optional[spec.BasicProperties]


class TelemetryHooks(Protocol):
    """What an observer implements (see the module's documentation)."""

    def on_publish(self, message: ObservedPublish) -> Optional[spec.BasicProperties]:
        """``message`` is about to be published; returns the properties to
        send instead of its ``properties``."""

    def on_deliver(
        self, message: ObservedMessage[spec.Basic.Deliver], consumer: Callable[..., Any]
    ) -> None:
        """A delivery for ``consumer`` arrived: call ``consumer`` with the
        message's channel, method, properties and body, in that order."""

    def process(
        self, message: ObservedMessage[spec.Basic.Deliver], call: Callable[[], Any]
    ) -> None:
        """A surface dispatches a delivery it had queued: run ``call()``
        (the application's callback) and observe it."""

    async def process_async(
        self, message: ObservedMessage[spec.Basic.Deliver], call: Callable[[], Awaitable[Any]]
    ) -> None:
        """A surface runs an async consumer callback as a task: await
        ``call()`` (the application's coroutine) and observe it."""

    def on_request(self, channel: Channel, method: amqp_object.Method) -> Any:
        """``method``, a request that awaits a reply, was sent on
        ``channel``; returns what `on_reply` gets back with the reply (None:
        the request is not followed). Requests whose reply never comes (the
        channel or connection closed first) are not reported again."""

    def on_reply(self, channel: Channel, request: Any, reply: amqp_object.Method) -> None:
        """The reply to a request arrived; ``request`` is what `on_request`
        returned for it."""

    def on_get(self, message: ObservedMessage[spec.Basic.GetOk]) -> None:
        """``basic_get`` fetched a message."""

    def on_settle(self, channel: Channel, method_index: int, delivery_tag: int, flags: int) -> None:
        """The application acks, nacks or rejects (``method_index`` is the
        method's spec INDEX; ``flags`` its multiple/requeue bits)."""

    def on_confirm(self, channel: Channel, method: spec.Basic.Ack | spec.Basic.Nack) -> None:
        """The broker confirmed (Ack) or refused (Nack) publishes."""

    def on_return(self, message: ObservedMessage[spec.Basic.Return]) -> None:
        """The broker returned an unroutable mandatory message."""

    def on_recovery(
        self, connection: RecoverableConnection, outcome: str, error: Optional[BaseException]
    ) -> None:
        """A recovery ``"started"`` (``error`` is the loss), ``"succeeded"``
        or ``"failed"`` (``error`` ends the connection)."""


def install(hooks: TelemetryHooks) -> None:
    """Make ``hooks`` observe every connection and channel of the process
    (existing ones included), replacing any observer installed before."""
    global observer
    observer = hooks


def uninstall() -> None:
    """Remove the observer; messages cost nothing extra from now on."""
    global observer
    observer = None


def installed() -> Optional[TelemetryHooks]:
    """The installed observer, or None."""
    return observer


def hand_off(function: F) -> F:
    """Mark a surface's internal consumer callback as one that only queues
    the message for a later dispatch (returns ``function``)."""
    setattr(function, _HAND_OFF, True)
    return function


def is_hand_off(function: Callable[..., Any]) -> bool:
    """Whether `hand_off` marked ``function``."""
    return getattr(function, _HAND_OFF, False) is True
