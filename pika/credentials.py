"""SASL credentials a client presents in Connection.StartOk.

The broker lists the mechanisms it accepts in ``Connection.Start.mechanisms``,
a space-separated byte string such as ``b"AMQPLAIN PLAIN"``. Each credentials
class answers `response_for` with ``(mechanism, response)`` when the broker
offers its mechanism, and ``(None, None)`` when it does not.

- `PlainCredentials`: SASL PLAIN (RFC 4616), a username and password.
- `ExternalCredentials`: SASL EXTERNAL, identity taken from the TLS client
  certificate (RabbitMQ's ``rabbitmq_auth_mechanism_ssl`` plugin).

Passwords never appear in ``repr()``.
"""

from __future__ import annotations

import abc
from typing import Any, Optional, Tuple, Union

MechanismResponse = Tuple[Optional[str], Optional[bytes]]


class _SaslCredentials(abc.ABC):
    """Credentials for one SASL mechanism, `TYPE`: the answer to
    ``Connection.Start`` that each credentials class gives."""

    TYPE: str

    def response_for(self, start: Any) -> MechanismResponse:
        """Answer ``Connection.Start``: ``(TYPE, response)``, or ``(None, None)`` when the
        broker does not offer the mechanism.

        Args:
            start: The broker's `pika.spec.Connection.Start` (its ``mechanisms``, bytes or str,
                space separated, list what the broker accepts).

        Returns:
            ``(mechanism, response)`` to send in ``Connection.StartOk``, or ``(None, None)`` when
            the broker does not offer this mechanism.
        """
        offered: Union[bytes, str] = start.mechanisms
        if isinstance(offered, (bytes, bytearray, memoryview)):
            offered = bytes(offered).decode("ascii", errors="replace")
        if self.TYPE not in offered.upper().split():
            return None, None
        return self.TYPE, self._response()

    @abc.abstractmethod
    def _response(self) -> bytes:
        """The mechanism's response bytes for ``Connection.StartOk``."""


class PlainCredentials(_SaslCredentials):
    """A username and password for the SASL PLAIN mechanism.

    With ``erase_on_connect=True`` the connection calls `erase_credentials`
    once the broker has accepted them, so the password does not stay in
    memory longer than needed (a reconnect then needs new credentials).
    The response to the broker is ``\\0username\\0password`` in UTF-8.

    Args:
        username: The user name.
        password: The password (never shown in reprs or logs).
        erase_on_connect: Forget the password once the broker has accepted it.
    """

    TYPE = "PLAIN"

    def __init__(self, username: str, password: str, erase_on_connect: bool = False) -> None:
        self.username = username
        self.password = password
        self.erase_on_connect = erase_on_connect

    def _response(self) -> bytes:
        return b"\0" + self.username.encode("utf-8") + b"\0" + self.password.encode("utf-8")

    def erase_credentials(self) -> None:
        """Forget the password if ``erase_on_connect`` was requested."""
        if self.erase_on_connect:
            self.password = ""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PlainCredentials):
            return NotImplemented
        return (self.username, self.password, self.erase_on_connect) == (
            other.username,
            other.password,
            other.erase_on_connect,
        )

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} username={self.username!r} "
            f"erase_on_connect={self.erase_on_connect}>"
        )


class ExternalCredentials(_SaslCredentials):
    """Authenticate with SASL EXTERNAL: the broker takes the identity from the TLS session
    (the response to the broker is empty)."""

    TYPE = "EXTERNAL"

    def __init__(self) -> None:
        self.erase_on_connect = False

    def _response(self) -> bytes:
        return b""

    def erase_credentials(self) -> None:
        """Nothing to forget: EXTERNAL carries no secret."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExternalCredentials):
            return NotImplemented
        return True

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


VALID_TYPES = [PlainCredentials, ExternalCredentials]
