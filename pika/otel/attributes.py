"""Attribute names (OpenTelemetry messaging semantic conventions, RabbitMQ
flavour) and the carriers that put trace context into message headers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Optional

from opentelemetry.propagators.textmap import Getter, Setter

if TYPE_CHECKING:
    from pika.channel import Channel

SYSTEM = "messaging.system"
OPERATION_NAME = "messaging.operation.name"
OPERATION_TYPE = "messaging.operation.type"
DESTINATION = "messaging.destination.name"
SUBSCRIPTION = "messaging.destination.subscription.name"
ROUTING_KEY = "messaging.rabbitmq.destination.routing_key"
DELIVERY_TAG = "messaging.rabbitmq.message.delivery_tag"
MESSAGE_ID = "messaging.message.id"
CONVERSATION_ID = "messaging.message.conversation_id"
BODY_SIZE = "messaging.message.body.size"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"
# Not in the conventions: this library's own.
REQUEUE = "rabbitmq.requeue"
CONFIRM_OUTCOME = "rabbitmq.confirm.outcome"
REPLY_CODE = "rabbitmq.return.reply_code"
RECOVERY_OUTCOME = "rabbitmq.recovery.outcome"

RABBITMQ = "rabbitmq"
DEFAULT_EXCHANGE = "amq.default"


def server(channel: Channel) -> dict[str, Any]:
    """``server.address`` and ``server.port`` of a channel's connection."""
    params = channel.connection.params
    return {SERVER_ADDRESS: params.host, SERVER_PORT: params.port}


def destination_label(exchange: str) -> str:
    """The exchange as span names show it (the default exchange has no name)."""
    return exchange or DEFAULT_EXCHANGE


class HeaderGetter(Getter[Mapping[str, Any]]):
    """Reads trace context from AMQP headers (str or bytes values)."""

    def get(self, carrier: Mapping[str, Any], key: str) -> Optional[list[str]]:
        value = carrier.get(key)
        if value is None:
            return None
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value).decode("utf-8", "replace")
        return [str(value)]

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return list(carrier)


class HeaderSetter(Setter[MutableMapping[str, Any]]):
    """Writes trace context into AMQP headers as strings."""

    def set(self, carrier: MutableMapping[str, Any], key: str, value: str) -> None:
        carrier[key] = value


HEADER_GETTER = HeaderGetter()
HEADER_SETTER = HeaderSetter()


def without_none(attributes: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """The attributes whose value is known."""
    return {key: value for key, value in attributes if value is not None and value != ""}
