"""The channel operations, each declared once, as data.

One `Operation` per AMQP request an application makes on a channel: its
parameters with Pika's names, order and defaults (and where a surface of
Pika's interface gives one another default), how each is validated, the
AMQP method it sends and how the parameters fill that method's fields,
the replies it expects, whether the request may go with ``nowait``, and
whether automatic recovery records it.

Two things are made from this table:

* ``codegen/generate_surfaces.py`` writes the methods of every channel
  surface (the callback `pika.channel.Channel`, `BlockingChannel`, the
  thread-safe `Channel`, `TwistedChannel`, `pika.aio.Channel`) into
  committed modules, so a reader and mypy see plain typed methods; a test
  regenerates them and fails if the committed files differ.
* At run time the callback `Channel` turns a call into its AMQP method with
  `Operation.request`, the one place where parameters become fields.

Operations whose surfaces each do something of their own (consuming,
getting, acknowledging, confirm mode, flow, close) are written by hand in
each surface; this table holds the regular request/reply ones. Publishing
sits between the two (`OWN_OPERATIONS`): its parameters and documentation
are declared here and generated onto the wrapping surfaces, whose bodies
hand the call to each surface's own implementation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Optional, Union

from pika import amqp_object, spec, validation

#: The surfaces generated from the table, by the name used in overrides.
SURFACES = ("callback", "blocking", "thread_safe", "twisted", "aio")

#: Surfaces that take another surface's defaults where the table overrides
#: them: `pika.aio`'s channel mirrors `BlockingChannel`.
DEFAULTS_OF: dict[str, str] = {"aio": "blocking"}

#: Marks a parameter without a default (in `Param.default` and overrides).
REQUIRED = "<required>"

#: The checks a `Param` may name, from `pika.validation`.
CHECKS: dict[str, Callable[[Any, str], None]] = {
    "str": validation.require_str,
    "optional_str": lambda value, name: validation.require_str(value, name, optional=True),
    "non_negative": validation.require_non_negative,
    "exchange_type": validation.require_exchange_type,
}

_NOT_SET = object()


@dataclass(frozen=True)
class Param:
    """One parameter of an operation.

    Attributes:
        name: Pika's name for it.
        annotation: its type, as source text for the generated surfaces.
        default: its default as source text, or `REQUIRED`.
        check: the name of a check in `CHECKS` the value must pass.
        field: the AMQP method field it fills, when not its own name.
        none_as: the value the field takes when the parameter is None (an
            enum member goes as its value; a dict is copied).
        none_as_param: the parameter whose value the field takes when this
            one is None (``queue_bind``'s routing key defaults to the queue).
        overrides: surface name -> default for surfaces of Pika's interface
            that give this parameter another default (or none: `REQUIRED`).
    """

    name: str
    annotation: str
    default: str = REQUIRED
    check: Optional[str] = None
    field: Optional[str] = None
    none_as: Any = _NOT_SET
    none_as_param: Optional[str] = None
    overrides: dict[str, str] = dataclasses.field(default_factory=dict)

    def default_for(self, surface: str) -> str:
        """This parameter's default (source text, or `REQUIRED`) on ``surface``."""
        surface = DEFAULTS_OF.get(surface, surface)
        return self.overrides.get(surface, self.default)


@dataclass(frozen=True)
class Operation:
    """One channel operation.

    Attributes:
        name: the method name on every surface.
        method: the AMQP method class it sends.
        params: its parameters, in Pika's order.
        summary: one line saying what it does (the reference text is in
            `pika.operation_docs` where present).
        reply: the reply type a waiting surface returns, as source text.
        nowait: whether the callback API sends it with ``nowait`` when no
            ``callback`` is given (only for methods that have the field).
        recorded: whether automatic recovery records it (`TopologyRecord.apply`).
        blocking_returns_reply: whether `BlockingChannel` (and `pika.aio`'s
            channel, which mirrors it) returns the reply (Pika's blocking
            ``basic_qos`` and ``basic_recover`` return None).
    """

    name: str
    method: type[amqp_object.Method]
    params: tuple[Param, ...]
    summary: str
    reply: str
    nowait: bool = False
    recorded: bool = False
    blocking_returns_reply: bool = True

    @property
    def replies(self) -> tuple[type[amqp_object.Method], ...]:
        """The AMQP methods that answer this operation."""
        return spec.REPLIES[self.method]

    def request(self, args: tuple[Any, ...], has_callback: bool) -> amqp_object.Method:
        """Check ``args`` (the parameters in order) and build the method to send.

        ``has_callback`` says whether the application waits for the reply:
        without one, an operation that allows it goes with ``nowait`` (but
        a queue the broker names is always awaited: the name comes back in
        the reply).

        Raises:
            TypeError, ValueError: an argument fails its parameter's check.
        """
        values = dict(zip((param.name for param in self.params), args))
        fields: dict[str, Any] = {}
        for param in self.params:
            value = values[param.name]
            if param.check is not None:
                CHECKS[param.check](value, param.name)
            if value is None:
                if param.none_as_param is not None:
                    value = values[param.none_as_param]
                elif param.none_as is not _NOT_SET:
                    value = param.none_as
            elif isinstance(value, Enum):
                value = value.value
            if isinstance(value, dict):
                value = dict(value)
            fields[param.field or param.name] = value
        if self.nowait:
            fields["nowait"] = not has_callback and values.get("queue") != ""
        return self.method(**fields)


_ARGUMENTS = Param("arguments", "Optional[dict[str, Any]]", "None", none_as={})
_QUEUE = Param("queue", "str", check="str")
_IF_UNUSED = Param("if_unused", "bool", "False")
_NO_ARGS: tuple[Param, ...] = ()


def _unbound_exchange(name: str) -> Param:
    """``destination`` or ``source`` of ``exchange_unbind``: Pika's callback and
    blocking channels let it be omitted (None is sent as ""), its thread-safe
    and Twisted channels require it."""
    return Param(
        name,
        "Optional[str]",
        "None",
        check="optional_str",
        none_as="",
        overrides={"thread_safe": REQUIRED, "twisted": REQUIRED},
    )


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "exchange_declare",
        spec.Exchange.Declare,
        (
            Param("exchange", "str", check="str"),
            Param(
                "exchange_type",
                "Union[ExchangeType, str]",
                "ExchangeType.direct",
                check="exchange_type",
                field="type",
                overrides={"thread_safe": '"direct"'},
            ),
            Param("passive", "bool", "False"),
            Param("durable", "bool", "False"),
            Param("auto_delete", "bool", "False"),
            Param("internal", "bool", "False"),
            _ARGUMENTS,
        ),
        "Declare an exchange, or with ``passive`` check that it exists.",
        "frame.Method[spec.Exchange.DeclareOk]",
        nowait=True,
        recorded=True,
    ),
    Operation(
        "exchange_delete",
        spec.Exchange.Delete,
        (Param("exchange", "Optional[str]", "None", check="optional_str", none_as=""), _IF_UNUSED),
        "Delete an exchange.",
        "frame.Method[spec.Exchange.DeleteOk]",
        nowait=True,
        recorded=True,
    ),
    Operation(
        "exchange_bind",
        spec.Exchange.Bind,
        (
            Param("destination", "str", check="str"),
            Param("source", "str", check="str"),
            Param("routing_key", "str", '""'),
            _ARGUMENTS,
        ),
        "Bind exchange ``destination`` to exchange ``source``.",
        "frame.Method[spec.Exchange.BindOk]",
        nowait=True,
        recorded=True,
    ),
    Operation(
        "exchange_unbind",
        spec.Exchange.Unbind,
        (
            _unbound_exchange("destination"),
            _unbound_exchange("source"),
            Param("routing_key", "str", '""'),
            _ARGUMENTS,
        ),
        "Remove an exchange-to-exchange binding.",
        "frame.Method[spec.Exchange.UnbindOk]",
        nowait=True,
        recorded=True,
    ),
    Operation(
        "queue_declare",
        spec.Queue.Declare,
        (
            _QUEUE,
            Param("passive", "bool", "False"),
            Param("durable", "bool", "False"),
            Param("exclusive", "bool", "False"),
            Param("auto_delete", "bool", "False"),
            _ARGUMENTS,
        ),
        "Declare a queue (``''`` lets the broker name it), or with ``passive`` "
        "check that it exists.",
        "frame.Method[spec.Queue.DeclareOk]",
        nowait=True,
        recorded=True,
    ),
    Operation(
        "queue_bind",
        spec.Queue.Bind,
        (
            _QUEUE,
            Param("exchange", "str", check="str"),
            Param("routing_key", "Optional[str]", "None", none_as_param="queue"),
            _ARGUMENTS,
        ),
        "Bind a queue to an exchange (the routing key defaults to the queue's name).",
        "frame.Method[spec.Queue.BindOk]",
        nowait=True,
        recorded=True,
    ),
    Operation(
        "queue_unbind",
        spec.Queue.Unbind,
        (
            _QUEUE,
            Param(
                "exchange",
                "Optional[str]",
                "None",
                check="optional_str",
                none_as="",
                overrides={"blocking": REQUIRED, "twisted": REQUIRED},
            ),
            Param("routing_key", "Optional[str]", "None", none_as_param="queue"),
            _ARGUMENTS,
        ),
        "Remove a queue's binding to an exchange.",
        "frame.Method[spec.Queue.UnbindOk]",
        recorded=True,
    ),
    Operation(
        "queue_purge",
        spec.Queue.Purge,
        (_QUEUE,),
        "Remove a queue's ready messages.",
        "frame.Method[spec.Queue.PurgeOk]",
        nowait=True,
    ),
    Operation(
        "queue_delete",
        spec.Queue.Delete,
        (_QUEUE, _IF_UNUSED, Param("if_empty", "bool", "False")),
        "Delete a queue.",
        "frame.Method[spec.Queue.DeleteOk]",
        nowait=True,
        recorded=True,
    ),
    Operation(
        "basic_qos",
        spec.Basic.Qos,
        (
            Param("prefetch_size", "int", "0", check="non_negative"),
            Param("prefetch_count", "int", "0", check="non_negative"),
            Param("global_qos", "bool", "False"),
        ),
        "Limit the unacknowledged deliveries of each consumer, or with "
        "``global_qos`` of the whole channel.",
        "frame.Method[spec.Basic.QosOk]",
        blocking_returns_reply=False,
    ),
    Operation(
        "basic_recover",
        spec.Basic.Recover,
        (Param("requeue", "bool", "False"),),
        "Ask the broker to deliver this channel's unacknowledged messages again.",
        "frame.Method[spec.Basic.RecoverOk]",
        blocking_returns_reply=False,
    ),
    Operation(
        "tx_select",
        spec.Tx.Select,
        _NO_ARGS,
        "Put the channel in transaction mode.",
        "frame.Method[spec.Tx.SelectOk]",
    ),
    Operation(
        "tx_commit",
        spec.Tx.Commit,
        _NO_ARGS,
        "Commit the current transaction.",
        "frame.Method[spec.Tx.CommitOk]",
    ),
    Operation(
        "tx_rollback",
        spec.Tx.Rollback,
        _NO_ARGS,
        "Abandon the current transaction.",
        "frame.Method[spec.Tx.RollbackOk]",
    ),
)


@dataclass(frozen=True)
class OwnOperation:
    """An operation that each surface carries out its own way, declared once.

    The generator writes the method on the surfaces named in ``returns``:
    Pika's parameters (``params``) and that surface's own extra ones, the
    docstring from `pika.operation_docs`, and a body handing every argument
    to the surface's private ``helper`` method, which does the work.

    Attributes:
        name: the method name on every surface.
        params: the parameters every surface takes, in Pika's order.
        helper: the name of the private method each surface implements it in.
        returns: surface name -> return annotation (source text), for the
            surfaces the method is generated on.
        extras: surface name -> the parameters that surface adds after
            ``params``.
        bundles: surface name -> the one parameter that surface's helper
            takes instead of ``params`` (the generated method passes them as
            one tuple); the other surfaces' helpers take each argument
            positionally.
    """

    name: str
    params: tuple[Param, ...]
    helper: str
    returns: dict[str, str]
    extras: dict[str, tuple[Param, ...]] = dataclasses.field(default_factory=dict)
    bundles: dict[str, Param] = dataclasses.field(default_factory=dict)

    def params_of(self, surface: str) -> tuple[Param, ...]:
        """Every parameter of the method on ``surface``, in order."""
        return self.params + self.extras.get(surface, ())

    def helper_params_of(self, surface: str) -> tuple[Param, ...]:
        """The parameters of ``surface``'s helper: those of the method, or
        where ``surface`` is in ``bundles`` its bundle (``params`` as one
        tuple, in order) followed by the surface's extras."""
        bundle = self.bundles.get(surface)
        if bundle is None:
            return self.params_of(surface)
        return (bundle, *self.extras.get(surface, ()))


Publication = tuple[str, str, Union[bytes, str], Optional[spec.BasicProperties], bool]
"""One publish's own arguments, as ``(exchange, routing_key, body, properties, mandatory)``
(what the blocking channel keeps until a confirm, and what the Twisted channel's
generated ``basic_publish`` hands to its helper)."""

OWN_OPERATIONS: tuple[OwnOperation, ...] = (
    OwnOperation(
        "basic_publish",
        (
            Param("exchange", "str"),
            Param("routing_key", "str"),
            Param("body", "Union[bytes, str]"),
            Param("properties", "Optional[spec.BasicProperties]", "None"),
            Param("mandatory", "bool", "False"),
        ),
        "_publish",
        {"blocking": "None", "thread_safe": "None", "twisted": "defer.Deferred[Any]"},
        {
            "blocking": (
                Param("block_on_flow_control", "bool", "False"),
                Param("flow_control_timeout", "Optional[float]", "None"),
            ),
            "thread_safe": (
                Param("on_publish", "Optional[Callable[[Optional[BaseException]], Any]]", "None"),
            ),
        },
        # The blocking one keeps five positional arguments: no tuple per publish there.
        {"twisted": Param("publication", "Publication")},
    ),
)

#: The operations by name.
BY_NAME: dict[str, Operation] = {operation.name: operation for operation in OPERATIONS}
