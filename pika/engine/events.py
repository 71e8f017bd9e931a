"""Events the engine hands to the layer above: small `__slots__` classes.

Every event the engine produces is one of these. The last event of a
connection's life is always `ConnectionClosed`.
"""

from __future__ import annotations

from typing import Any

from pika import amqp_object, spec


class Event:
    """Base class of engine events."""

    __slots__ = ()

    def __repr__(self) -> str:
        names: tuple[str, ...] = self.__slots__
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__name__}({fields})"


class ConnectionOpened(Event):
    """Connection.OpenOk arrived: the connection is ready for channels."""

    __slots__ = ("known_hosts", "server_properties")

    def __init__(self, server_properties: dict[str, Any], known_hosts: str) -> None:
        self.server_properties = server_properties
        self.known_hosts = known_hosts


class ConnectionClosed(Event):
    """The connection is over; ``error`` is the exception to report.

    ``error`` is a `pika.exceptions.AMQPConnectionError` subclass:
    ConnectionClosedByBroker, ConnectionClosedByClient, StreamLostError,
    AMQPHeartbeatTimeout, ProbableAuthenticationError, ...
    """

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


class ConnectionBlocked(Event):
    """The broker sent Connection.Blocked (resource alarm)."""

    __slots__ = ("method",)

    def __init__(self, method: spec.Connection.Blocked) -> None:
        self.method = method


class ConnectionUnblocked(Event):
    """The broker sent Connection.Unblocked."""

    __slots__ = ("method",)

    def __init__(self, method: spec.Connection.Unblocked) -> None:
        self.method = method


class ChannelOpened(Event):
    """Channel.OpenOk arrived for ``channel_number``."""

    __slots__ = ("channel_number",)

    def __init__(self, channel_number: int) -> None:
        self.channel_number = channel_number


class ChannelClosed(Event):
    """A channel is closed; its number may be reused from now on."""

    __slots__ = ("by_broker", "channel_number", "reply_code", "reply_text")

    def __init__(
        self, channel_number: int, reply_code: int, reply_text: str, by_broker: bool
    ) -> None:
        self.channel_number = channel_number
        self.reply_code = reply_code
        self.reply_text = reply_text
        self.by_broker = by_broker


class MethodReceived(Event):
    """A method without content that the layer above handles (replies,
    Basic.Ack/Nack confirms, Basic.Cancel, Channel.Flow, UpdateSecretOk)."""

    __slots__ = ("channel_number", "method")

    def __init__(self, channel_number: int, method: amqp_object.Method) -> None:
        self.channel_number = channel_number
        self.method = method


class ContentTooLarge(Event):
    """A message whose header declared more than ``max_message_size`` bytes;
    its body frames were read and discarded, none of it was kept."""

    __slots__ = ("body_size", "channel_number", "method", "properties")

    def __init__(
        self,
        channel_number: int,
        method: amqp_object.Method,
        properties: spec.BasicProperties,
        body_size: int,
    ) -> None:
        self.channel_number = channel_number
        self.method = method
        self.properties = properties
        self.body_size = body_size


class ContentReceived(Event):
    """A whole message: Basic.Deliver, Basic.Return or Basic.GetOk with its
    properties and body."""

    __slots__ = ("body", "channel_number", "method", "properties")

    def __init__(
        self,
        channel_number: int,
        method: amqp_object.Method,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        self.channel_number = channel_number
        self.method = method
        self.properties = properties
        self.body = body
