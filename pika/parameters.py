"""Connection parameters: where the broker is, how to log in, how to tune.

`pika.connection` re-exports everything public here.

- `Parameters` holds every setting with its default and validates each value
  when it is assigned: a wrong type raises `TypeError`, a value out of range
  `ValueError`; both messages start with the parameter's name and never echo
  a password.
- `ConnectionParameters` takes the settings as keyword arguments.
- `URLParameters` reads them from an AMQP URI (RabbitMQ's URI specification)
  plus query options, e.g.
  ``amqps://user:secret@rabbit.example.com:5671/%2F?heartbeat=30``.
- `SSLOptions` pairs an `ssl.SSLContext` with the host name to check the
  broker's certificate against.
"""

from __future__ import annotations

import ast
import copy
import re
import ssl
from types import SimpleNamespace
from typing import Any, Callable, Dict, Optional, Tuple, Type, TypeVar, Union
from urllib.parse import unquote, urlsplit

from pika.credentials import VALID_TYPES, ExternalCredentials, PlainCredentials

# AMQP 0-9-1 "frame-min-size": every peer accepts frames this large.
FRAME_MIN_SIZE = 4096
# Largest frame_max this client proposes (fits a signed 32-bit length).
FRAME_MAX_LIMIT = 2**31 - 1
# channel-max and heartbeat are AMQP "short" (16-bit unsigned) fields.
SHORT_MAX = 65535
#: The AMQP versions a connection can speak, as ``amqp_version`` names them.
AMQP_VERSIONS = ("0-9-1", "0-8")

_T = TypeVar("_T")
DefaultT = Union[_T, "ConnectionParameters._DEFAULT", Type["ConnectionParameters._DEFAULT"]]
Credentials = Union[PlainCredentials, ExternalCredentials]
HeartbeatSetting = Union[int, Callable[[Any, int], int], None]
Number = Union[int, float]


class SSLOptions:
    """A TLS context and the host name sent in SNI and checked in the broker's certificate.

    ``server_hostname=None`` means "the host being connected to".

    Args:
        context: The `ssl.SSLContext` that makes the TLS session (certificates to trust, client
            certificate, ciphers).
        server_hostname: The name sent in SNI and checked in the broker's certificate; None for the
            host being connected to.

    Raises:
        TypeError: ``context`` is not an `ssl.SSLContext`.
    """

    __slots__ = ("context", "server_hostname")

    def __init__(self, context: ssl.SSLContext, server_hostname: Optional[str] = None) -> None:
        if not isinstance(context, ssl.SSLContext):
            raise TypeError(f"context must be an ssl.SSLContext, not {type(context).__name__}")
        self.context = context
        self.server_hostname = server_hostname

    def __repr__(self) -> str:
        return f"<SSLOptions server_hostname={self.server_hostname!r}>"


def _type_error(name: str, expected: str, value: object) -> TypeError:
    """A TypeError naming the parameter and the type received (never the value itself)."""
    return TypeError(f"{name} must be {expected}, not {type(value).__name__}")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_int(name: str, value: Any, low: int, high: Optional[int]) -> int:
    """Return ``value`` if it is an int in ``low..high`` (no upper bound when None)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(name, "an int", value)
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bounds}, not {value}")
    return value


def _check_timeout(name: str, value: Any) -> Optional[Number]:
    """Return ``value`` if it is None or a number > 0 (seconds)."""
    if value is None:
        return None
    if not _is_number(value):
        raise _type_error(name, "a number of seconds or None", value)
    if not value > 0:
        raise ValueError(f"{name} must be > 0 seconds or None, not {value}")
    result: Number = value
    return result


def _check_choice(name: str, value: Any, choices: Tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``."""
    if not isinstance(value, str):
        raise _type_error(name, "a str", value)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, not {value!r}")
    return value


def _check_optional_dict(name: str, value: Any) -> Optional[Dict[str, Any]]:
    if value is not None and not isinstance(value, dict):
        raise _type_error(name, "a dict or None", value)
    return value


def _check_str(name: str, value: Any, *, allow_empty: bool) -> str:
    if not isinstance(value, str):
        raise _type_error(name, "a str", value)
    if not value and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    return value


class Parameters:
    """Every connection setting, with its default, validated when assigned."""

    DEFAULT_USERNAME = "guest"
    DEFAULT_AMQP_VERSION = "0-9-1"
    DEFAULT_PASSWORD = "guest"

    DEFAULT_BLOCKED_CONNECTION_TIMEOUT: Optional[Number] = None
    DEFAULT_CHANNEL_MAX = SHORT_MAX
    DEFAULT_CLIENT_PROPERTIES: Optional[Dict[str, Any]] = None
    DEFAULT_CONNECTION_ATTEMPTS = 1
    DEFAULT_CREDENTIALS = PlainCredentials(DEFAULT_USERNAME, DEFAULT_PASSWORD)
    DEFAULT_FRAME_MAX = 131072
    DEFAULT_HEARTBEAT_TIMEOUT: HeartbeatSetting = None
    DEFAULT_HOST = "localhost"
    DEFAULT_LOCALE = "en_US"
    DEFAULT_MAX_MESSAGE_SIZE = 128 * 1024 * 1024
    DEFAULT_PORT = 5672
    DEFAULT_RETRY_DELAY = 2.0
    DEFAULT_SOCKET_TIMEOUT = 10.0
    DEFAULT_SSL = False
    DEFAULT_SSL_OPTIONS: Optional[SSLOptions] = None
    DEFAULT_SSL_PORT = 5671
    DEFAULT_STACK_TIMEOUT = 15.0
    DEFAULT_TCP_OPTIONS: Optional[Dict[str, Any]] = None
    DEFAULT_VIRTUAL_HOST = "/"

    # The settings compared by == (and so what makes two Parameters equal).
    _SETTINGS = (
        "host",
        "port",
        "virtual_host",
        "credentials",
        "ssl_options",
        "channel_max",
        "frame_max",
        "heartbeat",
        "connection_attempts",
        "retry_delay",
        "socket_timeout",
        "stack_timeout",
        "blocked_connection_timeout",
        "locale",
        "client_properties",
        "tcp_options",
        "max_message_size",
        "amqp_version",
    )

    def __init__(self) -> None:
        self._host: str = self.DEFAULT_HOST
        self._port: int = self.DEFAULT_PORT
        self._virtual_host: str = self.DEFAULT_VIRTUAL_HOST
        self._credentials: Credentials = copy.copy(self.DEFAULT_CREDENTIALS)
        self._ssl_options: Optional[SSLOptions] = self.DEFAULT_SSL_OPTIONS
        self._channel_max: int = self.DEFAULT_CHANNEL_MAX
        self._frame_max: int = self.DEFAULT_FRAME_MAX
        self._heartbeat: HeartbeatSetting = self.DEFAULT_HEARTBEAT_TIMEOUT
        self._connection_attempts: int = self.DEFAULT_CONNECTION_ATTEMPTS
        self._retry_delay: Number = self.DEFAULT_RETRY_DELAY
        self._socket_timeout: Optional[Number] = self.DEFAULT_SOCKET_TIMEOUT
        self._stack_timeout: Optional[Number] = self.DEFAULT_STACK_TIMEOUT
        self._blocked_connection_timeout: Optional[Number] = self.DEFAULT_BLOCKED_CONNECTION_TIMEOUT
        self._locale: str = self.DEFAULT_LOCALE
        self._client_properties: Optional[Dict[str, Any]] = self.DEFAULT_CLIENT_PROPERTIES
        self._tcp_options: Optional[Dict[str, Any]] = self.DEFAULT_TCP_OPTIONS
        self._max_message_size: int = self.DEFAULT_MAX_MESSAGE_SIZE
        self._amqp_version: str = self.DEFAULT_AMQP_VERSION

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Parameters):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self._SETTINGS)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} host={self.host!r} port={self.port} "
            f"virtual_host={self.virtual_host!r} ssl={self.ssl_options is not None} "
            f"credentials={self.credentials!r}>"
        )

    @property
    def host(self) -> str:
        """Host name or IP address of the broker."""
        return self._host

    @host.setter
    def host(self, value: str) -> None:
        self._host = _check_str("host", value, allow_empty=False)

    @property
    def port(self) -> int:
        """TCP port of the broker (5672, or 5671 for TLS, by default)."""
        return self._port

    @port.setter
    def port(self, value: int) -> None:
        self._port = _check_int("port", value, 1, SHORT_MAX)

    @property
    def virtual_host(self) -> str:
        """The RabbitMQ virtual host to open (default ``'/'``)."""
        return self._virtual_host

    @virtual_host.setter
    def virtual_host(self, value: str) -> None:
        self._virtual_host = _check_str("virtual_host", value, allow_empty=True)

    @property
    def credentials(self) -> Credentials:
        """`PlainCredentials` or `ExternalCredentials` to authenticate with."""
        return self._credentials

    @credentials.setter
    def credentials(self, value: Credentials) -> None:
        if not isinstance(value, tuple(VALID_TYPES)):
            raise _type_error("credentials", "PlainCredentials or ExternalCredentials", value)
        self._credentials = value

    @property
    def ssl_options(self) -> Optional[SSLOptions]:
        """`SSLOptions` to connect over TLS, or None for plain TCP."""
        return self._ssl_options

    @ssl_options.setter
    def ssl_options(self, value: Optional[SSLOptions]) -> None:
        if value is not None and not isinstance(value, SSLOptions):
            raise _type_error("ssl_options", "an SSLOptions or None", value)
        self._ssl_options = value

    @property
    def channel_max(self) -> int:
        """Most channels to ask for (1-65535); the broker's limit may lower it."""
        return self._channel_max

    @channel_max.setter
    def channel_max(self, value: int) -> None:
        self._channel_max = _check_int("channel_max", value, 1, SHORT_MAX)

    @property
    def frame_max(self) -> int:
        """Largest frame in bytes to ask for; the broker's limit may lower it."""
        return self._frame_max

    @frame_max.setter
    def frame_max(self, value: int) -> None:
        self._frame_max = _check_int("frame_max", value, FRAME_MIN_SIZE, FRAME_MAX_LIMIT)

    @property
    def heartbeat(self) -> HeartbeatSetting:
        """Heartbeat interval in seconds, 0 to disable, None to take the broker's proposal.

        A callable is called as ``heartbeat(connection, broker_proposal)`` during
        tuning and returns the interval to use.
        """
        return self._heartbeat

    @heartbeat.setter
    def heartbeat(self, value: HeartbeatSetting) -> None:
        if value is not None and not callable(value):
            if isinstance(value, bool) or not isinstance(value, int):
                raise _type_error("heartbeat", "an int, None or a callable", value)
            _check_int("heartbeat", value, 0, SHORT_MAX)
        self._heartbeat = value

    @property
    def connection_attempts(self) -> int:
        """How many times to try to connect before giving up (>= 1)."""
        return self._connection_attempts

    @connection_attempts.setter
    def connection_attempts(self, value: int) -> None:
        self._connection_attempts = _check_int("connection_attempts", value, 1, None)

    @property
    def retry_delay(self) -> Number:
        """Seconds to wait between connection attempts (>= 0)."""
        return self._retry_delay

    @retry_delay.setter
    def retry_delay(self, value: Number) -> None:
        if not _is_number(value):
            raise _type_error("retry_delay", "a number of seconds", value)
        if not value >= 0:
            raise ValueError(f"retry_delay must be >= 0 seconds, not {value}")
        self._retry_delay = value

    @property
    def socket_timeout(self) -> Optional[Number]:
        """Seconds allowed for the TCP connect and then the TLS handshake (each
        attempt), or None for no limit."""
        return self._socket_timeout

    @socket_timeout.setter
    def socket_timeout(self, value: Optional[Number]) -> None:
        self._socket_timeout = _check_timeout("socket_timeout", value)

    @property
    def stack_timeout(self) -> Optional[Number]:
        """Seconds allowed for TCP, TLS and AMQP handshakes together, or None for no limit."""
        return self._stack_timeout

    @stack_timeout.setter
    def stack_timeout(self, value: Optional[Number]) -> None:
        self._stack_timeout = _check_timeout("stack_timeout", value)

    @property
    def blocked_connection_timeout(self) -> Optional[Number]:
        """Seconds the broker may keep the connection blocked before it is dropped, or None."""
        return self._blocked_connection_timeout

    @blocked_connection_timeout.setter
    def blocked_connection_timeout(self, value: Optional[Number]) -> None:
        self._blocked_connection_timeout = _check_timeout("blocked_connection_timeout", value)

    @property
    def locale(self) -> str:
        """Locale for the broker's messages (RabbitMQ knows only ``en_US``)."""
        return self._locale

    @locale.setter
    def locale(self, value: str) -> None:
        self._locale = _check_str("locale", value, allow_empty=False)

    @property
    def client_properties(self) -> Optional[Dict[str, Any]]:
        """Extra client properties announced to the broker (shown in its management UI)."""
        return self._client_properties

    @client_properties.setter
    def client_properties(self, value: Optional[Dict[str, Any]]) -> None:
        self._client_properties = _check_optional_dict("client_properties", value)

    @property
    def tcp_options(self) -> Optional[Dict[str, Any]]:
        """Socket options such as ``TCP_KEEPIDLE`` to set on the connection's socket."""
        return self._tcp_options

    @tcp_options.setter
    def tcp_options(self, value: Optional[Dict[str, Any]]) -> None:
        self._tcp_options = _check_optional_dict("tcp_options", value)

    @property
    def max_message_size(self) -> int:
        """Largest message body in bytes this client accepts (default 128 MiB, 0 for no cap).

        A message whose content header declares more is not kept: its body
        is read and discarded, an unacknowledged delivery is rejected without
        requeue, and the channel reports a `MessageTooLargeError`.
        """
        return self._max_message_size

    @max_message_size.setter
    def max_message_size(self, value: int) -> None:
        self._max_message_size = _check_int("max_message_size", value, 0, None)

    @property
    def amqp_version(self) -> str:
        """Which AMQP version to speak, ``"0-9-1"`` (the default) or ``"0-8"``.

        RabbitMQ before 4.0, Qpid Broker-J and older brokers speak 0-8. A
        broker that answers with the other version's protocol header is
        connected to again once with that version.
        """
        return self._amqp_version

    @amqp_version.setter
    def amqp_version(self, value: str) -> None:
        self._amqp_version = _check_choice("amqp_version", value, AMQP_VERSIONS)


class ConnectionParameters(Parameters):
    """Parameters given as keyword arguments; any argument left out keeps its default.

    The defaults shown in the signature are the ``Parameters.DEFAULT_*``
    class attributes, read when the object is made.

    Args:
        host: Host name or IP address of the broker.
        port: TCP port of the broker; by default 5671 when ``ssl_options`` is
            given, else 5672.
        virtual_host: The RabbitMQ virtual host to open.
        credentials: `pika.credentials.PlainCredentials` or
            `pika.credentials.ExternalCredentials`; by default user ``guest``,
            password ``guest``.
        channel_max: Most channels to ask for (1-65535); the broker's limit may
            lower it.
        frame_max: Largest frame in bytes to ask for (4096 or more); the
            broker's limit may lower it.
        heartbeat: Heartbeat interval in seconds, 0 to turn heartbeats off,
            None to take the broker's proposal, or a callable
            ``heartbeat(connection, broker_proposal)`` returning the interval.
        ssl_options: `SSLOptions` to connect over TLS; None for plain TCP.
        connection_attempts: How many times to try to connect (1 or more).
        retry_delay: Seconds to wait between connection attempts.
        socket_timeout: Seconds allowed for the TCP connect; None for no limit.
        stack_timeout: Seconds allowed for the TCP, TLS and AMQP handshakes
            together; None for no limit.
        locale: Locale for the broker's messages.
        blocked_connection_timeout: Seconds the broker may keep the connection
            blocked (a resource alarm) before it is dropped; None for ever.
        client_properties: Extra client properties announced to the broker
            (shown in its management UI); None for none.
        tcp_options: Socket options such as ``TCP_KEEPIDLE``; None for none.
        max_message_size: Largest message body in bytes this client accepts
            (0: no cap); a larger one is discarded and reported as
            `pika.exceptions.MessageTooLargeError`.
        amqp_version: The protocol to speak, ``"0-9-1"`` or ``"0-8"``.

    Raises:
        TypeError: An argument has the wrong type, or is not one of the above.
        ValueError: A value is out of range.
    """

    class _DEFAULT:
        """Stands for an argument left out, so its ``Parameters.DEFAULT_*`` applies.

        Each argument's marker reads as the default it stands for, so
        ``help(ConnectionParameters)`` shows the real defaults. Passing the
        class itself (as Pika's code did) means "the default" too.

        Args:
            shown: What the marker's repr shows.
        """

        __slots__ = ("shown",)

        def __init__(self, shown: str) -> None:
            self.shown = shown

        def __repr__(self) -> str:
            return self.shown

    T = _T

    # The marker of each argument left out, reading as the default it stands for.
    _LEFT_OUT = SimpleNamespace(
        host=_DEFAULT(repr(Parameters.DEFAULT_HOST)),
        port=_DEFAULT(f"{Parameters.DEFAULT_PORT} (TLS: {Parameters.DEFAULT_SSL_PORT})"),
        virtual_host=_DEFAULT(repr(Parameters.DEFAULT_VIRTUAL_HOST)),
        credentials=_DEFAULT(repr(Parameters.DEFAULT_CREDENTIALS)),
        channel_max=_DEFAULT(repr(Parameters.DEFAULT_CHANNEL_MAX)),
        frame_max=_DEFAULT(repr(Parameters.DEFAULT_FRAME_MAX)),
        heartbeat=_DEFAULT(repr(Parameters.DEFAULT_HEARTBEAT_TIMEOUT)),
        ssl_options=_DEFAULT(repr(Parameters.DEFAULT_SSL_OPTIONS)),
        connection_attempts=_DEFAULT(repr(Parameters.DEFAULT_CONNECTION_ATTEMPTS)),
        retry_delay=_DEFAULT(repr(Parameters.DEFAULT_RETRY_DELAY)),
        socket_timeout=_DEFAULT(repr(Parameters.DEFAULT_SOCKET_TIMEOUT)),
        stack_timeout=_DEFAULT(repr(Parameters.DEFAULT_STACK_TIMEOUT)),
        locale=_DEFAULT(repr(Parameters.DEFAULT_LOCALE)),
        blocked_connection_timeout=_DEFAULT(repr(Parameters.DEFAULT_BLOCKED_CONNECTION_TIMEOUT)),
        client_properties=_DEFAULT(repr(Parameters.DEFAULT_CLIENT_PROPERTIES)),
        tcp_options=_DEFAULT(repr(Parameters.DEFAULT_TCP_OPTIONS)),
        max_message_size=_DEFAULT(repr(Parameters.DEFAULT_MAX_MESSAGE_SIZE)),
        amqp_version=_DEFAULT(repr(Parameters.DEFAULT_AMQP_VERSION)),
    )

    def __init__(
        self,
        host: DefaultT[str] = _LEFT_OUT.host,
        port: DefaultT[int] = _LEFT_OUT.port,
        virtual_host: DefaultT[str] = _LEFT_OUT.virtual_host,
        credentials: DefaultT[Credentials] = _LEFT_OUT.credentials,
        channel_max: DefaultT[int] = _LEFT_OUT.channel_max,
        frame_max: DefaultT[int] = _LEFT_OUT.frame_max,
        heartbeat: DefaultT[HeartbeatSetting] = _LEFT_OUT.heartbeat,
        ssl_options: DefaultT[Optional[SSLOptions]] = _LEFT_OUT.ssl_options,
        connection_attempts: DefaultT[int] = _LEFT_OUT.connection_attempts,
        retry_delay: DefaultT[Number] = _LEFT_OUT.retry_delay,
        socket_timeout: DefaultT[Optional[Number]] = _LEFT_OUT.socket_timeout,
        stack_timeout: DefaultT[Optional[Number]] = _LEFT_OUT.stack_timeout,
        locale: DefaultT[str] = _LEFT_OUT.locale,
        blocked_connection_timeout: DefaultT[
            Optional[Number]
        ] = _LEFT_OUT.blocked_connection_timeout,
        client_properties: DefaultT[Optional[Dict[str, Any]]] = _LEFT_OUT.client_properties,
        tcp_options: DefaultT[Optional[Dict[str, Any]]] = _LEFT_OUT.tcp_options,
        max_message_size: DefaultT[int] = _LEFT_OUT.max_message_size,
        amqp_version: DefaultT[str] = _LEFT_OUT.amqp_version,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            names = ", ".join(sorted(kwargs))
            raise TypeError(f"ConnectionParameters got unexpected keyword arguments: {names}")
        super().__init__()
        given = {
            "host": host,
            "ssl_options": ssl_options,
            "port": port,
            "virtual_host": virtual_host,
            "credentials": credentials,
            "channel_max": channel_max,
            "frame_max": frame_max,
            "heartbeat": heartbeat,
            "connection_attempts": connection_attempts,
            "retry_delay": retry_delay,
            "socket_timeout": socket_timeout,
            "stack_timeout": stack_timeout,
            "locale": locale,
            "blocked_connection_timeout": blocked_connection_timeout,
            "client_properties": client_properties,
            "tcp_options": tcp_options,
            "max_message_size": max_message_size,
            "amqp_version": amqp_version,
        }
        for name, value in given.items():
            if not self._left_out(value):
                setattr(self, name, value)
        if self._left_out(port) and self.ssl_options is not None:
            self.port = self.DEFAULT_SSL_PORT

    @classmethod
    def _left_out(cls, value: object) -> bool:
        """Whether ``value`` is a marker of an argument left out (or the marker class)."""
        return value is cls._DEFAULT or isinstance(value, cls._DEFAULT)


def _int_option(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"URL option {name} must be an integer") from None


def _float_option(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"URL option {name} must be a number") from None


def _text_option(name: str, raw: str) -> str:
    return raw


def _dict_option(name: str, raw: str) -> Dict[str, Any]:
    """Evaluate ``raw`` as a Python dict literal (``ast.literal_eval``: no code runs)."""
    try:
        value = ast.literal_eval(raw)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise ValueError(f"URL option {name} must be a Python dict literal such as {{'key': 1}}")
    return value


# Query option -> (Parameters attribute, converter from the decoded text).
_URL_OPTIONS: Dict[str, Tuple[str, Callable[[str, str], Any]]] = {
    "amqp_version": ("amqp_version", _text_option),
    "blocked_connection_timeout": ("blocked_connection_timeout", _float_option),
    "channel_max": ("channel_max", _int_option),
    "client_properties": ("client_properties", _dict_option),
    "connection_attempts": ("connection_attempts", _int_option),
    "frame_max": ("frame_max", _int_option),
    "heartbeat": ("heartbeat", _int_option),
    "heartbeat_interval": ("heartbeat", _int_option),
    "locale": ("locale", _text_option),
    "max_message_size": ("max_message_size", _int_option),
    "retry_delay": ("retry_delay", _float_option),
    "socket_timeout": ("socket_timeout", _float_option),
    "ssl_options": ("ssl_options", _dict_option),
    "stack_timeout": ("stack_timeout", _float_option),
    "tcp_options": ("tcp_options", _dict_option),
}

# Keys of the ssl_options dict; ca_certs is another name for cafile.
_SSL_KEYS = (
    "cafile",
    "ca_certs",
    "capath",
    "cadata",
    "certfile",
    "keyfile",
    "password",
    "server_hostname",
    "verify",
    "ciphers",
)
_VERIFY_WORDS = {"verify_peer": True, "verify_none": False}


def _printable_name(name: str) -> str:
    """Quote an option name for an error message, unless it looks like stray URL text."""
    return repr(name) if re.fullmatch(r"\w{1,64}", name) else "(a malformed option)"


def _split_query(query: str) -> Dict[str, Any]:
    """Decode ``a=1&b=2`` into {attribute: value} via `_URL_OPTIONS`.

    Values are percent-decoded; ``+`` stays ``+`` (RFC 3986 has no "+ is space").
    """
    settings: Dict[str, Any] = {}
    unknown = []
    for item in query.split("&"):
        if not item:
            continue
        raw_name, _, raw_value = item.partition("=")
        name = unquote(raw_name)
        if name not in _URL_OPTIONS:
            unknown.append(_printable_name(name))
            continue
        attribute, convert = _URL_OPTIONS[name]
        if attribute in settings:
            raise ValueError(f"URL option {name} is given more than once")
        settings[attribute] = convert(name, unquote(raw_value))
    if unknown:
        known = ", ".join(sorted(_URL_OPTIONS))
        raise ValueError(f"unknown URL options: {', '.join(unknown)} (known: {known})")
    return settings


def _verify_flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in _VERIFY_WORDS:
        return _VERIFY_WORDS[value]
    raise ValueError("ssl_options verify must be True, False, 'verify_peer' or 'verify_none'")


def ssl_options_from_dict(settings: Dict[str, Any], host: str) -> SSLOptions:
    """Build `SSLOptions` from the ``ssl_options`` dict of a URL.

    Starts from `ssl.create_default_context` (certificate and host name
    verification on), loading ``cafile``/``ca_certs``, ``capath`` and
    ``cadata`` as trusted CAs when given; ``certfile`` (+ ``keyfile``,
    ``password``) is the client certificate; ``verify=False`` (or
    ``'verify_none'``) turns verification off; ``ciphers`` is an OpenSSL
    cipher string; ``server_hostname`` defaults to ``host``.
    Raises `ValueError` naming the offending key; never shows the password.

    Args:
        settings: The dict from the URL's ``ssl_options`` option.
        host: The URL's host (the default ``server_hostname``).

    Returns:
        The `SSLOptions`.

    Raises:
        ValueError: A key is unknown or a file cannot be loaded.
    """
    unknown = sorted(str(key) for key in settings if key not in _SSL_KEYS)
    if unknown:
        raise ValueError(
            f"unknown ssl_options keys: {', '.join(unknown)} (known: {', '.join(_SSL_KEYS)})"
        )
    if "cafile" in settings and "ca_certs" in settings:
        raise ValueError("ssl_options: give cafile or ca_certs, not both")
    verify = _verify_flag(settings.get("verify", True))
    certfile = settings.get("certfile")
    if certfile is None and ("keyfile" in settings or "password" in settings):
        raise ValueError("ssl_options: keyfile and password need a certfile")
    try:
        context = ssl.create_default_context(
            cafile=settings.get("cafile", settings.get("ca_certs")),
            capath=settings.get("capath"),
            cadata=settings.get("cadata"),
        )
    except (OSError, ssl.SSLError, TypeError, ValueError) as exc:
        raise ValueError(f"ssl_options: cannot load the CA certificates: {exc}") from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if certfile is not None:
        try:
            context.load_cert_chain(certfile, settings.get("keyfile"), settings.get("password"))
        except (OSError, ssl.SSLError, TypeError, ValueError) as exc:
            raise ValueError(f"ssl_options: cannot load certfile {certfile!r}: {exc}") from None
    if "ciphers" in settings:
        try:
            context.set_ciphers(settings["ciphers"])
        except (ssl.SSLError, TypeError) as exc:
            raise ValueError(f"ssl_options: ciphers rejected: {exc}") from None
    server_hostname = settings.get("server_hostname", host)
    if not isinstance(server_hostname, str):
        raise ValueError("ssl_options: server_hostname must be a str")
    return SSLOptions(context, server_hostname)


class URLParameters(Parameters):
    """Parameters read from an AMQP URI: ``amqp[s]://user:password@host:port/vhost?options``.

    Every part is optional; user name, password, host and vhost are
    percent-decoded (``%2F`` is ``/``). An absent user name or password keeps
    the default (guest); an absent or empty vhost (``amqp://host`` or
    ``amqp://host/``) is ``/``. IPv6 hosts go in brackets: ``amqp://[::1]``.

    ``amqps`` turns TLS on with ``ssl.create_default_context()`` checking the
    broker's certificate against the host name, and makes the default port
    5671. Query options: heartbeat (alias heartbeat_interval), channel_max,
    frame_max, connection_attempts, retry_delay, socket_timeout,
    stack_timeout, blocked_connection_timeout, locale, max_message_size,
    amqp_version (``0-9-1`` or ``0-8``), and the dict literals
    client_properties, tcp_options and ssl_options (see
    `ssl_options_from_dict`; it also turns TLS on for an ``amqp`` URL).
    Anything malformed raises `ValueError` without quoting the password.

    Args:
        url: The AMQP URI, e.g. ``amqps://user:secret@rabbit.example.com:5671/%2F?heartbeat=30``.

    Raises:
        TypeError: ``url`` is not a str.
        ValueError: The URL or one of its options is malformed, unknown or out of range.
    """

    def __init__(self, url: str) -> None:
        super().__init__()
        if not isinstance(url, str):
            raise _type_error("url", "a str", url)
        if "#" in url:
            raise ValueError(
                "URL must not contain '#'; percent-encode it as %23 in a password or vhost"
            )
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ValueError(
                "URL authority is malformed (bad port or IPv6 brackets); percent-encode"
                " reserved characters such as @ : / ? # in the user name and password"
            ) from None
        if parts.scheme not in ("amqp", "amqps"):
            raise ValueError(f"URL scheme must be amqp or amqps, not {parts.scheme!r}")
        host = unquote(parts.hostname or "") or self.DEFAULT_HOST
        if parts.username is not None or parts.password is not None:
            self.credentials = PlainCredentials(
                unquote(parts.username or ""),
                self.DEFAULT_PASSWORD if parts.password is None else unquote(parts.password),
            )
        self.host = host
        if parts.path not in ("", "/"):
            self.virtual_host = unquote(parts.path[1:])
        options = _split_query(parts.query)
        ssl_settings = options.pop("ssl_options", None)
        if ssl_settings is not None:
            self.ssl_options = ssl_options_from_dict(ssl_settings, host)
        elif parts.scheme == "amqps":
            self.ssl_options = SSLOptions(ssl.create_default_context(), host)
        if port is not None:
            self.port = port
        elif self.ssl_options is not None:
            self.port = self.DEFAULT_SSL_PORT
        for attribute, value in options.items():
            setattr(self, attribute, value)
