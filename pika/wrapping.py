"""What the surfaces that wrap a callback-API connection or channel share.

`pika.adapters.blocking_connection.BlockingConnection`, `pika.aio.Connection`
and `pika.adapters.twisted_connection.TwistedProtocolConnection` wrap a
callback-API `pika.connection.Connection`; `BlockingChannel`,
`pika.aio.Channel` and `TwistedChannel` wrap a `pika.channel.Channel`. Each
keeps the wrapped object as ``_impl``, and its open/closed state (and a
channel's number, consumers and stale delivery tags) is that object's: the
properties here say so once for all of them. `ReturnRouting` is where the
blocking and async/await channels send a returned message.
"""

from __future__ import annotations

import logging
from typing import Any, Generic, Optional, Protocol, TypeVar

from pika import spec
from pika.adapters.blocking_confirms import ReturnedMessage
from pika.adapters.utils.stale_tags import StaleDeliveryTags
from pika.channel import Channel


class _OpenState(Protocol):
    @property
    def is_open(self) -> bool: ...

    @property
    def is_closed(self) -> bool: ...


#: The type of the wrapped callback-API object.
_ImplT = TypeVar("_ImplT", bound=_OpenState)


class WrappedState(Generic[_ImplT]):
    """``is_open`` and ``is_closed`` of a surface, read from the callback-API
    connection or channel it wraps."""

    _impl: _ImplT

    @property
    def is_open(self) -> bool:
        """True while the connection (or channel) is open; False while a
        connection recovery reopens it."""
        return self._impl.is_open

    @property
    def is_closed(self) -> bool:
        """True once the connection (or channel) is closed for good."""
        return self._impl.is_closed


class WrappedChannelState(WrappedState[Channel], StaleDeliveryTags):
    """A channel surface's state, read from the `pika.channel.Channel` it wraps
    (its stale delivery tags as `StaleDeliveryTags` says)."""

    @property
    def channel_number(self) -> int:
        """The channel's number on its connection."""
        return self._impl.channel_number

    @property
    def consumer_tags(self) -> list[str]:
        """The tags of the channel's active consumers."""
        return self._impl.consumer_tags


class _ReturnTracker(Protocol):
    def on_return(self, returned: ReturnedMessage, /) -> None: ...


class ReturnRouting(WrappedChannelState):
    """Where a message the broker returns (``Basic.Return``) goes on a
    channel surface that keeps its own confirm tracker (``_confirms``, in
    confirm mode) and return callbacks (``_return_callbacks``).

    The tracker notes the return for its publish; the application's return
    callbacks get it (`_dispatch_return`, as the surface runs callbacks);
    with neither, it is logged as a warning on the surface's module logger.
    """

    _confirms: Optional[_ReturnTracker]
    _return_callbacks: list[Any]

    def _on_impl_return(
        self,
        _impl: Channel,
        method: spec.Basic.Return,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        if self._confirms is not None:
            self._confirms.on_return(ReturnedMessage(method, properties, body))
        elif not self._return_callbacks:
            logging.getLogger(type(self).__module__).warning(
                "channel %d: the broker returned a message (%s %s) and no return "
                "callback is registered",
                self.channel_number,
                method.reply_code,
                method.reply_text,
            )
        self._dispatch_return(method, properties, body)

    def _dispatch_return(
        self, method: spec.Basic.Return, properties: spec.BasicProperties, body: bytes
    ) -> None:
        """Run the application's return callbacks as
        ``callback(channel, method, properties, body)``."""
        raise NotImplementedError
