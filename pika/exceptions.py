"""Every exception the library raises, in one hierarchy.

`AMQPError` is the root of everything about the protocol. Under it,
`AMQPConnectionError` covers every way a connection can fail to open or stop
working, `AMQPChannelError` every way a channel can, and `ProtocolSyntaxError`
every malformed byte sequence met while encoding or decoding. `ChannelError`
and `ReentrancyError` are usage errors of the client itself and so sit
directly under `Exception`.

``str()`` of an exception is the message a user reads; ``repr()`` prefixes it
with the class name, e.g.
``ConnectionClosedByBroker: (320) 'CONNECTION_FORCED - broker forced connection closure'``.
"""

from __future__ import annotations

from typing import Any, Optional, Protocol, Sequence, Union


class ReturnedMessageLike(Protocol):
    """A message the broker handed back: its method, properties and body."""

    @property
    def method(self) -> Any: ...

    @property
    def properties(self) -> Any: ...

    @property
    def body(self) -> bytes: ...


def _reply_as_text(reply_text: Union[str, bytes]) -> str:
    """Return a reply text as ``str``, decoding bytes leniently."""
    if isinstance(reply_text, bytes):
        return reply_text.decode("utf-8", errors="replace")
    return reply_text


def _describe_reply(reply_code: int, reply_text: str) -> str:
    """Render a close reason as ``(code) 'text'``."""
    return f"({reply_code}) {reply_text!r}"


def _count_messages(count: int, what: str) -> str:
    """Render ``count`` with the right plural of "message" followed by ``what``."""
    noun = "message" if count == 1 else "messages"
    return f"{count} {noun} {what}"


class _CloseReply:
    """Reads the reply code and text of a Connection.Close or Channel.Close from ``args``."""

    args: tuple[Any, ...]

    @property
    def reply_code(self) -> int:
        """The AMQP reply code of the close (200 for a normal shutdown, 404 not found...)."""
        code: int = self.args[0]
        return code

    @property
    def reply_text(self) -> str:
        """The human-readable reason given with the close."""
        text: str = self.args[1]
        return text


class AMQPError(Exception):
    """Base class of every AMQP-level error raised by this library."""

    def __repr__(self) -> str:
        text = str(self)
        name = type(self).__name__
        return f"{name}: {text}" if text else name


class AMQPConnectionError(AMQPError):
    """Raised when a connection cannot be opened or stops working."""

    def __init__(self, *args: Any, host: Optional[str] = None, port: Optional[int] = None) -> None:
        super().__init__(*args)
        self.host = host
        self.port = port

    def _message(self) -> str:
        """The message without the broker address; subclasses refine it."""
        return super().__str__()

    def __str__(self) -> str:
        text = self._message()
        if self.host is None:
            return text
        host = f"[{self.host}]" if ":" in self.host else self.host
        where = host if self.port is None else f"{host}:{self.port}"
        return f"{text} (broker {where})" if text else f"broker {where}"


class ConnectionOpenAborted(AMQPConnectionError):
    """Raised when a connection attempt is cancelled before it completes."""


class StreamLostError(AMQPConnectionError):
    """Raised when the transport to the broker is lost unexpectedly."""


class IncompatibleProtocolError(AMQPConnectionError):
    """Raised when the peer does not speak a protocol version this client can use."""


class AuthenticationError(AMQPConnectionError):
    """Raised when the broker offers no SASL mechanism the credentials can answer."""


class ProbableAuthenticationError(AMQPConnectionError):
    """Raised when the broker drops the connection during login (most likely bad credentials)."""


class ProbableAccessDeniedError(AMQPConnectionError):
    """Raised when the broker drops the connection while opening the virtual host."""


class NoFreeChannels(AMQPConnectionError):
    """Raised when every channel number up to channel_max is already in use."""


class ConnectionWrongStateError(AMQPConnectionError):
    """Raised when an operation is not allowed in the connection's current state."""


class ConnectionClosed(AMQPConnectionError, _CloseReply):
    """Raised when the connection has been closed, carrying the AMQP reply code and text."""

    def __init__(
        self,
        reply_code: int,
        reply_text: Union[str, bytes],
        host: Optional[str] = None,
        port: Optional[int] = None,
    ) -> None:
        super().__init__(reply_code, _reply_as_text(reply_text), host=host, port=port)

    def _message(self) -> str:
        return _describe_reply(self.reply_code, self.reply_text)


class ConnectionClosedByBroker(ConnectionClosed):
    """Raised when the broker closes the connection with Connection.Close."""


class ConnectionClosedByClient(ConnectionClosed):
    """Raised when the connection was closed at this client's request."""


class ConnectionBlockedTimeout(AMQPConnectionError):
    """Raised when the connection stays blocked longer than blocked_connection_timeout."""


class AMQPHeartbeatTimeout(AMQPConnectionError):
    """Raised when the broker stays silent for too many heartbeat intervals."""


class _LeavesAnyEventLoop(SystemExit):
    """Makes an exception leave every event loop it is raised in.

    asyncio's ``run_forever()`` (Tornado's ``IOLoop.start()`` runs it too)
    hands what a callback raises to the loop's exception handler, which logs
    it and carries on, unless it is a `SystemExit` or a `KeyboardInterrupt`.
    An exception meant for whoever runs the loop is therefore also a
    `SystemExit`; ``except Exception`` still catches it. Uncaught, it ends
    the program with its message on standard error and exit status 1.
    """

    code: str


class ConnectionOpenFailed(AMQPConnectionError, _LeavesAnyEventLoop):
    """Raised out of the event loop for a failed open when no open-error callback is set."""

    def __init__(self, error: BaseException) -> None:
        # ``error`` (also ``args[0]``) is the reason: the workflow's failure
        # listing every attempt, a refused login, a stack timeout...
        super().__init__(error)
        self.error = error
        self.__cause__ = error
        self.code = f"pika: {self!r}"

    def _message(self) -> str:
        return f"the connection could not open: {self.error!r}"


class WorkQueueFullError(AMQPConnectionError):
    """Raised when a connection's internal work queue cannot accept more work."""


class ConnectionInterrupted(AMQPConnectionError):
    """Raised by a call that was awaiting a reply when recovery began; ``error`` is the loss."""

    def __init__(self, error: BaseException) -> None:
        # Whether the request took effect is unknown; calls made from now on
        # wait for the recovery instead.
        super().__init__(
            f"the connection was lost before the reply came ({error!r}); it is being recovered"
        )
        self.error = error
        self.__cause__ = error


class RecoveryWaitTimeout(AMQPConnectionError):
    """Raised by a call that waited its limit for a connection recovery, which goes on."""


class AMQPChannelError(AMQPError):
    """Raised when a channel cannot be used or an operation on it fails."""


class ChannelWrongStateError(AMQPChannelError):
    """Raised when an operation is not allowed in the channel's current state."""


class ChannelClosed(AMQPChannelError, _CloseReply):
    """Raised when the channel has been closed, carrying the AMQP reply code and text."""

    def __init__(self, reply_code: int, reply_text: Union[str, bytes]) -> None:
        super().__init__(reply_code, _reply_as_text(reply_text))

    def __str__(self) -> str:
        return _describe_reply(self.reply_code, self.reply_text)


class ChannelClosedByBroker(ChannelClosed):
    """Raised when the broker closes the channel with Channel.Close."""


class ChannelClosedByClient(ChannelClosed):
    """Raised when the channel was closed at this client's request."""


class DuplicateConsumerTag(AMQPChannelError):
    """Raised when a consumer tag is already in use on the channel."""


class ConsumerCancelled(AMQPChannelError):
    """Raised when the broker cancels a consumer (queue deleted, node failure...)."""


class UnroutableError(AMQPChannelError):
    """Raised when mandatory messages published with confirms came back as unroutable."""

    def __init__(self, messages: Sequence[ReturnedMessageLike]) -> None:
        super().__init__(messages)
        self.messages = list(messages)

    def __str__(self) -> str:
        return _count_messages(len(self.messages), "returned by the broker as unroutable")


class NackError(AMQPChannelError):
    """Raised when the broker negatively acknowledges (Basic.Nack) published messages."""

    def __init__(self, messages: Sequence[ReturnedMessageLike]) -> None:
        super().__init__(messages)
        self.messages = list(messages)

    def __str__(self) -> str:
        return _count_messages(len(self.messages), "rejected by the broker with Basic.Nack")


class MessageTooLargeError(AMQPChannelError):
    """Reported for a message whose header declared more than ``max_message_size`` bytes."""

    def __init__(
        self,
        channel_number: int,
        method: Any,
        properties: Any,
        body_size: int,
        max_message_size: int,
        rejected: bool,
    ) -> None:
        """The message's body was read and discarded without being kept; a
        delivery that needed an acknowledgement was rejected with
        ``requeue=False`` (so a dead-letter exchange receives it); the
        channel and the connection stay open.

        Attributes: ``channel_number``; ``method`` (the `Basic.Deliver`,
        `Basic.GetOk` or `Basic.Return` that carried the message);
        ``properties`` (its `BasicProperties`); ``body_size`` (the size its
        header declared); ``max_message_size`` (the cap); ``rejected``
        (whether this client rejected it).
        """
        super().__init__(channel_number, method, body_size, max_message_size)
        self.channel_number = channel_number
        self.method = method
        self.properties = properties
        self.body_size = body_size
        self.max_message_size = max_message_size
        self.rejected = rejected

    def __str__(self) -> str:
        tag = getattr(self.method, "delivery_tag", None)
        which = f" (delivery tag {tag})" if tag is not None else ""
        what = "rejected without requeue" if self.rejected else "not kept"
        return (
            f"channel {self.channel_number}: {self.method.NAME}{which} declared a body of "
            f"{self.body_size} bytes, over max_message_size {self.max_message_size}; "
            f"the body was discarded and the message {what}"
        )


class InvalidChannelNumber(AMQPError):
    """Raised when a channel number is outside 1..channel_max or otherwise unusable."""


class MethodNotImplemented(AMQPError):
    """Raised when an AMQP method is not supported by this client."""


class ShortStringTooLong(AMQPError):
    """Raised when a value encoded as an AMQP short string exceeds 255 bytes."""


class ProtocolSyntaxError(AMQPError):
    """Raised when bytes from the peer (or values to send) do not follow the AMQP grammar."""


class ProtocolVersionMismatch(ProtocolSyntaxError):
    """Raised when the peer answers with a different AMQP protocol version."""


class BodyTooLongError(ProtocolSyntaxError):
    """Raised when a message body is longer than its content header announced."""


class InvalidFrameError(ProtocolSyntaxError):
    """Raised when a frame is truncated, malformed or of an unknown type."""


class UnexpectedFrameError(ProtocolSyntaxError):
    """Raised when a well-formed frame arrives where the protocol does not allow it."""


class InvalidFieldTypeException(ProtocolSyntaxError):
    """Raised when a field table holds an unknown type code."""


class UnsupportedAMQPFieldException(ProtocolSyntaxError):
    """Raised when a Python value has no AMQP field type to encode it as."""


class ChannelError(Exception):
    """Raised when a channel is used in a way the client does not allow."""


class DuplicateGetOkCallback(ChannelError):
    """Raised when Basic.Get is called while a previous Basic.Get awaits its reply."""


class ReentrancyError(Exception):
    """Raised when a blocking call is made from inside a callback it would wait on."""
