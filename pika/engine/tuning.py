"""What the client tells the broker about itself, and how limits are agreed.

`EngineConfig` is the engine's whole input about the connection;
`negotiate_*` implement Connection.Tune/TuneOk.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Any, Callable, Union

from pika import __version__

PRODUCT = "Pika Python Client Library"

#: What the client announces it understands (RabbitMQ's extensions).
CLIENT_CAPABILITIES: dict[str, Any] = {
    "authentication_failure_close": True,
    "basic.nack": True,
    "connection.blocked": True,
    "consumer_cancel_notify": True,
    "direct_reply_to": True,
    "exchange_exchange_bindings": True,
    "per_consumer_qos": True,
    "publisher_confirms": True,
}

HeartbeatSetting = Union[int, None, Callable[[int], int]]


@dataclass
class EngineConfig:
    """Everything the engine needs to open a connection.

    ``heartbeat``: None accepts the broker's proposal; 0 turns heartbeats off
    (Pika's meaning); a positive number is negotiated (the smaller non-zero
    value wins); a callable is given the broker's proposal and its answer is
    used as is.

    ``max_message_size``: a content header declaring a larger body makes
    the engine discard that body as it arrives and report `ContentTooLarge`
    instead of `ContentReceived`; 0 means no cap.

    ``tls``: the stream is a TLS session (only used to explain a stream
    that ends before Connection.Start).
    """

    credentials: Any
    virtual_host: str = "/"
    client_properties: dict[str, Any] | None = None
    locale: str = "en_US"
    channel_max: int = 65535
    frame_max: int = 131072
    heartbeat: HeartbeatSetting = None
    max_message_size: int = 0
    tls: bool = False
    #: The AMQP version to speak (`pika.engine.dialects.DIALECTS`).
    amqp_version: str = "0-9-1"


def client_properties(
    overrides: dict[str, Any] | None, lacks: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The Connection.StartOk client-properties table, with the user's
    ``overrides`` applied on top (their ``capabilities`` are merged);
    capabilities in ``lacks`` (those the AMQP version cannot carry) are not
    announced."""
    props: dict[str, Any] = {
        "product": PRODUCT,
        "platform": f"Python {platform.python_version()}",
        "version": __version__,
        "information": "A pure-Python AMQP 0-9-1 client with Pika's interface",
        "capabilities": {
            name: value for name, value in CLIENT_CAPABILITIES.items() if name not in lacks
        },
    }
    if overrides:
        for key, value in overrides.items():
            if key == "capabilities" and isinstance(value, dict):
                props["capabilities"].update(value)
            else:
                props[key] = value
    return props


def negotiate_limit(client: int, server: int) -> int:
    """channel_max/frame_max: the smaller non-zero value; 0 only if both are 0."""
    if client and server:
        return min(client, server)
    return client or server


def negotiate_heartbeat(setting: HeartbeatSetting, server: int) -> int:
    """The heartbeat interval in seconds to send in TuneOk (0 disables)."""
    if setting is None:
        return server
    if callable(setting):
        value = setting(server)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(
                f"the heartbeat callable returned {value!r}; it must return an int >= 0"
            )
        return value
    if setting == 0:
        return 0
    return negotiate_limit(setting, server)
