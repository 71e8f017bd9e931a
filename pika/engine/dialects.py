"""The AMQP versions the engine speaks, and everything that sets them apart.

The layers above the engine build and receive `pika.spec` (0-9-1) method
objects whichever version the connection speaks. A `Dialect` says how the
wire differs: the protocol header, the version Connection.Start announces,
which class each incoming method index decodes to, how an outgoing method is
numbered and encoded, whether channels need an access ticket, and which
operations and broker capabilities the version lacks.

RabbitMQ's 0-8 (``pika.spec08``) shares most methods with 0-9-1 byte for
byte. The differences: Connection.Close/CloseOk are numbered 10.60/10.61
(0-9-1's Connection.Blocked/Unblocked), Connection.Open may be answered by
Connection.Redirect, Channel.OpenOk is empty, Basic.Consume has no
arguments table, a channel asks for an access ticket (Access.Request)
before use, and there is no Basic.Nack, Confirm, Exchange.Bind/Unbind,
Connection.Blocked or Connection.UpdateSecret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pika import amqp_object, exceptions, spec, spec08
from pika.engine.rules import SERVER_METHODS

MethodClass = type[amqp_object.Method]
#: Outgoing method class -> (the index to send, the class to encode it as).
Outgoing = dict[MethodClass, tuple[int, MethodClass]]


@dataclass(frozen=True)
class Dialect:
    """One AMQP version as the engine speaks it. See the module docstring."""

    #: The ``amqp_version`` value naming it.
    name: str
    #: The 8-byte protocol header that opens a connection.
    header: bytes
    #: (major, minor) as Connection.Start announces them.
    start_version: tuple[int, int]
    #: Incoming method index -> the class it decodes to (0-9-1's where the
    #: version's method is the same, so the layers above see one set).
    methods: dict[int, MethodClass]
    #: Indexes (of the decoded classes) a broker may send.
    server_methods: frozenset[int]
    #: Outgoing 0-9-1 classes numbered or encoded otherwise in this version.
    outgoing: Outgoing
    #: 0-9-1 method classes this version does not have.
    missing: frozenset[MethodClass]
    #: Whether a channel must get an access ticket before it is used.
    access_ticket: bool
    #: Broker capabilities (RabbitMQ's names) this version cannot offer.
    lacks_capabilities: frozenset[str]

    def require(self, method_class: MethodClass, operation: str) -> None:
        """Raise UnsupportedByAMQPVersion if this version lacks ``method_class``.

        Args:
            method_class: the `pika.spec` method an operation would send.
            operation: what the application called, for the message.
        """
        if method_class in self.missing:
            needs = "" if operation == method_class.NAME else f"{operation} needs "
            raise exceptions.UnsupportedByAMQPVersion(
                f"{needs}{method_class.NAME}, which AMQP {self.name} does not have; "
                f"connect with amqp_version='0-9-1' to use it"
            )

    def check(self, method: amqp_object.Method) -> None:
        """Raise UnsupportedByAMQPVersion if ``method`` cannot be sent in this
        version: the version lacks it, or it carries a value in a field the
        version's method does not have (0-8's Basic.Consume has no arguments).
        """
        method_class = type(method)
        self.require(method_class, method_class.NAME)
        target = self.outgoing.get(method_class)
        if target is None:
            return
        kept = {name for name, _type in target[1]._FIELD_TYPES}
        for name, _type in method_class._FIELD_TYPES:
            if name not in kept and getattr(method, name):
                raise exceptions.UnsupportedByAMQPVersion(
                    f"{method_class.NAME}.{name} has no place in AMQP {self.name}; "
                    f"leave it empty or connect with amqp_version='0-9-1'"
                )

    def offered_error(self, header: bytes) -> Exception:
        """Why a broker answering our protocol header with its own ``header``
        ends the opening: ProtocolVersionOffered when it names another
        version we speak, else IncompatibleProtocolError."""
        offered = by_header(header)
        if offered is not None and offered is not self:
            return exceptions.ProtocolVersionOffered(
                f"the broker does not speak AMQP {self.name}; it offers {offered.name}",
                offered.name,
            )
        return exceptions.IncompatibleProtocolError(
            f"the broker does not speak AMQP {self.name}; it offers {describe_header(header)}"
        )

    def capability(self, name: str, offered: bool) -> bool:
        """Whether the broker capability ``name`` holds: the broker offered
        it and this version can carry it."""
        return offered and name not in self.lacks_capabilities


def _same(ours: MethodClass, theirs: MethodClass) -> bool:
    return ours.NAME == theirs.NAME and ours._FIELD_TYPES == theirs._FIELD_TYPES


def _dialect_0_8() -> Dialect:
    by_name = {method.NAME: method for method in spec.methods.values()}
    methods: dict[int, MethodClass] = {}
    outgoing: Outgoing = {}
    for index, method_08 in spec08.methods.items():
        ours = by_name.get(method_08.NAME)
        if ours is not None and _same(ours, method_08):
            methods[index] = ours
            if index != ours.INDEX:
                outgoing[ours] = (index, ours)
        elif ours is not None:
            # Same method, other fields: decode as 0-8's, send as 0-8's.
            methods[index] = method_08
            outgoing[ours] = (index, method_08)
        else:
            methods[index] = method_08
    names_08 = {method.NAME for method in spec08.methods.values()}
    missing = frozenset(method for method in spec.methods.values() if method.NAME not in names_08)
    server = (SERVER_METHODS - {method.INDEX for method in missing}) | {
        spec08.Channel.Alert.INDEX,
        spec08.Connection.Redirect.INDEX,
    }
    return Dialect(
        name="0-8",
        header=b"AMQP\x01\x01\x08\x00",
        start_version=(8, 0),
        methods=methods,
        server_methods=frozenset(server),
        outgoing=outgoing,
        missing=missing,
        access_ticket=True,
        lacks_capabilities=frozenset(
            {
                "basic.nack",
                "connection.blocked",
                "consumer_cancel_notify",
                "exchange_exchange_bindings",
                "publisher_confirms",
            }
        ),
    )


AMQP_0_9_1 = Dialect(
    name="0-9-1",
    header=b"AMQP\x00\x00\x09\x01",
    start_version=(0, 9),
    methods=dict(spec.methods),
    server_methods=SERVER_METHODS,
    outgoing={},
    missing=frozenset(),
    access_ticket=False,
    lacks_capabilities=frozenset(),
)
AMQP_0_8 = _dialect_0_8()

#: Every version the engine speaks, by ``amqp_version`` name.
DIALECTS: dict[str, Dialect] = {dialect.name: dialect for dialect in (AMQP_0_9_1, AMQP_0_8)}


def by_header(header: bytes) -> Dialect | None:
    """The version whose protocol header is ``header`` (8 bytes), if we speak it."""
    for dialect in DIALECTS.values():
        if dialect.header == bytes(header):
            return dialect
    return None


def describe_header(header: Any) -> str:
    """A protocol header's version as text, e.g. ``0-9-1`` or ``8-0``."""
    data = bytes(header)
    if data[4:6] == b"\x01\x01":
        return f"{data[6]}-{data[7]}"
    return f"{data[5]}-{data[6]}-{data[7]}"


def redirect_error(redirect: Any) -> exceptions.ConnectionRedirected:
    """The error an AMQP 0-8 Connection.Redirect (``host[:port]``) ends the opening with."""
    host, _, port = str(redirect.host).rpartition(":")
    if not host or not port.isdigit():
        host, port = str(redirect.host), ""
    return exceptions.ConnectionRedirected(
        host, int(port) if port else None, str(redirect.known_hosts)
    )
