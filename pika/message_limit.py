"""What a channel does with a message over ``max_message_size``.

The engine has already read and discarded the body (`events.ContentTooLarge`).
Here the callback `Channel` rejects the message without requeue when the
broker waits for its acknowledgement (so a dead-letter exchange receives
it), and builds the `MessageTooLargeError` it reports to the application.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from pika import exceptions, spec
from pika.engine import events

if TYPE_CHECKING:
    from pika.channel import Channel


class GetReply:
    """The handler of one Basic.Get, remembering whether it was ``auto_ack``
    (a Basic.GetOk does not say, and only a manual get may be rejected)."""

    __slots__ = ("auto_ack", "callback")

    def __init__(self, callback: Callable[..., Any], auto_ack: bool) -> None:
        self.callback = callback
        self.auto_ack = auto_ack

    def __call__(self, *args: Any) -> Any:
        """Run the application's Basic.GetOk callback."""
        return self.callback(*args)


def refuse(channel: Channel, event: events.ContentTooLarge) -> exceptions.MessageTooLargeError:
    """Settle a message the engine did not keep; returns the error to report.

    A Basic.Deliver to a manually acknowledging consumer (or to one the
    channel does not know, whose deliveries are otherwise requeued) and a
    Basic.GetOk of a manual `basic_get` are rejected with ``requeue=False``;
    the GetOk also answers its `basic_get`, whose callback does not run.
    """
    method = event.method
    kind = type(method)
    needs_ack = False
    if kind is spec.Basic.Deliver:
        channel._number_delivery(method)  # type: ignore[arg-type]
        tag = str(method.consumer_tag)  # type: ignore[attr-defined]
        auto_ack = channel._auto_ack.get(tag, channel._cancelled.get(tag, False))
        needs_ack = not auto_ack
    elif kind is spec.Basic.GetOk:
        channel._number_delivery(method)  # type: ignore[arg-type]
        handler = channel._pop_reply(method)
        needs_ack = not (isinstance(handler, GetReply) and handler.auto_ack)
    rejected = needs_ack and channel.is_open
    if rejected:
        channel.basic_reject(method.delivery_tag or 0, requeue=False)  # type: ignore[attr-defined]
    return exceptions.MessageTooLargeError(
        channel.channel_number,
        method,
        event.properties,
        event.body_size,
        channel.connection.params.max_message_size,
        rejected,
    )
