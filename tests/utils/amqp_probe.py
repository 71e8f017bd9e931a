"""Where the test broker is, and whether an endpoint really speaks AMQP 0-9-1.

Standard library only: ``scripts/ensure_broker.py`` imports this module with
the machine's python3, before the project's virtualenv exists.

The broker URL comes from ``PIKA_TEST_URL``, else ``AMQP_URL``, else
``amqp://guest:guest@127.0.0.1:5672/``. An endpoint "speaks AMQP" when, after
the client sends the 0-9-1 protocol header, the first thing it sends back is
a method frame on channel 0 carrying ``Connection.Start`` (class 10,
method 10).
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
import time
from dataclasses import dataclass
from typing import Optional
from urllib.parse import unquote, urlsplit, urlunsplit

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"
URL_ENV_VARS = ("PIKA_TEST_URL", "AMQP_URL")
PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "localhost.localdomain"})

# frame type (1 = method), channel, payload size, then class id and method id
_START_PREFIX = struct.Struct(">BHIHH")
_METHOD_FRAME = 1
_CONNECTION_START = (10, 10)


class BrokerProbeError(Exception):
    """The endpoint is not a usable AMQP 0-9-1 broker; the message says why."""


class BrokerUnreachable(BrokerProbeError):
    """Nothing accepted a TCP connection at the address."""


class NotAnAmqpBroker(BrokerProbeError):
    """Something accepted the connection but did not answer with Connection.Start."""


@dataclass(frozen=True)
class BrokerAddress:
    """The parts of a broker URL that discovery needs."""

    url: str
    host: str
    port: int
    tls: bool

    @property
    def is_local(self) -> bool:
        return self.host.lower() in LOCAL_HOSTS

    @property
    def redacted_url(self) -> str:
        return redact_url(self.url)


def broker_url() -> str:
    """The URL of the broker the tests use (see the module docstring)."""
    for name in URL_ENV_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return DEFAULT_URL


def parse_broker_url(url: str) -> BrokerAddress:
    """Split an ``amqp://`` or ``amqps://`` URL into host, port and TLS flag."""
    parts = urlsplit(url)
    if parts.scheme not in ("amqp", "amqps"):
        raise ValueError(f"not an AMQP URL (scheme must be amqp or amqps): {redact_url(url)}")
    tls = parts.scheme == "amqps"
    host = unquote(parts.hostname or "") or "localhost"
    port = parts.port or (5671 if tls else 5672)
    return BrokerAddress(url=url, host=host, port=port, tls=tls)


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (a malformed URL is not echoed)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<malformed URL>"
    if password is None:
        return url
    user, _, address = parts.netloc.rpartition("@")
    netloc = f"{user.partition(':')[0]}:***@{address}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def read_connection_start(sock: socket.socket, timeout: float) -> bytes:
    """Send the protocol header on ``sock`` and check the reply is Connection.Start.

    Works on plain and TLS sockets. Returns the first bytes received (the
    frame header and the class/method ids); raises ``NotAnAmqpBroker`` if the
    peer closes, stays silent past ``timeout`` or sends anything else.
    """
    deadline = time.monotonic() + timeout
    sock.settimeout(timeout)
    try:
        sock.sendall(PROTOCOL_HEADER)
    except OSError as exc:
        raise NotAnAmqpBroker(f"sending the protocol header failed: {exc}") from exc
    received = b""
    while len(received) < _START_PREFIX.size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise NotAnAmqpBroker(f"no Connection.Start within {timeout:g} s (got {received!r})")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(_START_PREFIX.size - len(received))
        except socket.timeout:
            continue
        except OSError as exc:
            raise NotAnAmqpBroker(f"connection failed after the protocol header: {exc}") from exc
        if not chunk:
            raise NotAnAmqpBroker(f"peer closed the connection after sending {received!r}")
        received += chunk
    frame_type, channel, _size, class_id, method_id = _START_PREFIX.unpack(received)
    if frame_type != _METHOD_FRAME or channel != 0 or (class_id, method_id) != _CONNECTION_START:
        raise NotAnAmqpBroker(f"the first bytes are not a Connection.Start frame: {received!r}")
    return received


def check_amqp(
    host: str,
    port: int,
    timeout: float = 5.0,
    ssl_context: Optional[ssl.SSLContext] = None,
    server_hostname: Optional[str] = None,
) -> bytes:
    """Connect to ``host:port`` (over TLS if ``ssl_context``) and expect Connection.Start.

    Returns what ``read_connection_start`` returns. Raises
    ``BrokerUnreachable`` if the TCP connection fails and ``NotAnAmqpBroker``
    if the endpoint answers with something else (TLS failures included).
    """
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise BrokerUnreachable(f"cannot connect to {host}:{port}: {exc}") from exc
    with raw:
        if ssl_context is None:
            return read_connection_start(raw, timeout)
        try:
            tls = ssl_context.wrap_socket(raw, server_hostname=server_hostname or host)
        except (OSError, ssl.SSLError) as exc:
            raise NotAnAmqpBroker(f"TLS handshake with {host}:{port} failed: {exc}") from exc
        with tls:
            return read_connection_start(tls, timeout)


def unverified_tls_context() -> ssl.SSLContext:
    """A client context that accepts any server certificate: for discovery only."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def check_broker(address: BrokerAddress, timeout: float = 5.0) -> None:
    """``check_amqp`` for a parsed broker URL (an amqps URL is probed without verification)."""
    context = unverified_tls_context() if address.tls else None
    check_amqp(address.host, address.port, timeout=timeout, ssl_context=context)
