"""The documentation of each AMQP channel operation, as data.

Every channel surface offers the same operations (``exchange_declare``,
``queue_bind``, ``basic_publish``...): the callback `pika.channel.Channel`,
`BlockingChannel`, the thread-safe ``Channel`` and `TwistedChannel`, and the
async/await channel. What an operation does, what each of its parameters
means, what it gives back on each surface and what it raises is written
once here, in `OPERATION_DOCS`, and each surface's docstring is assembled
from it (``codegen/generate_surfaces.py`` writes the generated methods).

``params`` names every parameter of every surface, so the ones only some
surfaces take (``callback`` and ``on_message_callback`` of the callback API,
``timeout`` of the thread-safe channel, ``on_publish``...) say which.
``returns`` is keyed by surface: ``"callback"``, ``"blocking"``,
``"thread_safe"``, ``"twisted"`` and ``"aio"`` (a coroutine returning what
the blocking surface returns), for every operation, so that a surface that
gains one finds its documentation ready.
``raises`` maps the name of an exception (of `pika.exceptions`, or a
builtin) to when it is raised.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

SURFACES = ("callback", "blocking", "thread_safe", "twisted", "aio")
"""The keys of `OperationDoc.returns`, one per channel surface."""


@dataclass(frozen=True)
class OperationDoc:
    """The documentation of one channel operation on every surface.

    Attributes:
        summary: One line: what the operation does.
        details: More text (may be empty), wrapped for a docstring: semantics,
            broker rules.
        params: Parameter name to its meaning, for every parameter of every
            surface.
        returns: Surface name (see `SURFACES`) to what the operation returns
            there.
        raises: Exception name (of `pika.exceptions`, or a builtin) to when
            it is raised.
    """

    summary: str
    details: str = ""
    params: dict[str, str] = field(default_factory=dict)
    returns: dict[str, str] = field(default_factory=dict)
    raises: dict[str, str] = field(default_factory=dict)


# Parameters and outcomes shared by many operations: each written once.
_CALLBACK = (
    "Callback API only: called with the broker's reply method frame ({reply}) once it "
    "arrives; None sends the request without asking for a reply (nowait) where the "
    "protocol allows it."
)
_TIMEOUT = "Thread-safe channel only: seconds to wait for the broker's reply (None: no limit)."
_ARGUMENTS = (
    "Optional arguments (an AMQP field table) for broker extensions, such as "
    "``x-queue-type`` or ``x-message-ttl``; None for none."
)
_BINDING_ARGUMENTS = _ARGUMENTS + " A headers exchange matches on them."
_NO_WAIT = "None: the request is sent and the method returns at once."

_WRONG_STATE = "The channel is not open (closing, closed, or reopening during a recovery)."
_BAD_ARG = "An argument has the wrong type."
_BROKER_REFUSED = (
    "Blocking and thread-safe channels: the broker refused the request and closed the "
    "channel (the reply code says why: 404 not found, 406 precondition failed, 403 access "
    "refused...). The callback API reports it to the channel's close callbacks instead; "
    "Twisted fails the Deferred with it."
)
_TIMED_OUT = (
    "Thread-safe channel: no reply within ``timeout`` (raised as ``ReplyTimeout``, "
    "which is also an `AMQPError`)."
)
_INTERRUPTED = (
    "Blocking and thread-safe channels with recovery on: the connection broke while "
    "waiting for the reply; the request may or may not have taken effect."
)
_CONNECTION_CLOSED = (
    "Blocking and thread-safe channels: the connection closed while waiting for the reply."
)


def _reply(name: str) -> dict[str, str]:
    """The return values of an operation whose reply is the ``name`` method."""
    frame = f"the broker's reply, a `pika.frame.Method` carrying `pika.spec.{name}`"
    return {
        "callback": f"None; the reply ({name}) goes to ``callback``.",
        "blocking": frame.capitalize() + ".",
        "thread_safe": frame.capitalize() + ".",
        "twisted": f"A Deferred that fires with {frame}.",
        "aio": frame.capitalize() + ".",
    }


def _sync_raises(**extra: str) -> dict[str, str]:
    """What every request that waits for a reply may raise, plus ``extra``."""
    raises = {
        "ChannelWrongStateError": _WRONG_STATE,
        "TypeError": _BAD_ARG,
        "ChannelClosedByBroker": _BROKER_REFUSED,
        "ConnectionClosed": _CONNECTION_CLOSED,
        "ConnectionInterrupted": _INTERRUPTED,
        "TimeoutError": _TIMED_OUT,
    }
    raises.update(extra)
    return raises


def _doc(
    summary: str,
    details: str,
    params: dict[str, str],
    returns: dict[str, str],
    raises: dict[str, str],
) -> OperationDoc:
    """An `OperationDoc`, its details wrapped to fit a generated method's docstring."""
    return OperationDoc(summary, textwrap.fill(details, 80), params, returns, raises)


def _sync(
    summary: str,
    details: str,
    reply: str,
    params: dict[str, str],
    returns: dict[str, str] | None = None,
    **raises: str,
) -> OperationDoc:
    """The documentation of a request whose answer is the ``reply`` method.

    ``params`` gains the ``callback`` and ``timeout`` of a synchronous request,
    the surfaces return the reply (or what ``returns`` says for a surface), and it
    raises what every synchronous request may, plus ``raises``.
    """
    return _doc(
        summary,
        details,
        {**params, "callback": _CALLBACK.format(reply=reply), "timeout": _TIMEOUT},
        _reply(reply) | (returns or {}),
        _sync_raises(**raises),
    )


_EXCHANGE_DECLARE = _sync(
    "Declare an exchange: create it, or check that it exists with the same settings.",
    "Declaring an existing exchange with other settings makes the broker close the "
    "channel with 406 PRECONDITION_FAILED. Names starting with ``amq.`` are reserved.",
    "Exchange.DeclareOk",
    {
        "exchange": "Name of the exchange (1 to 255 bytes of UTF-8).",
        "exchange_type": "How the exchange routes: ``direct``, ``fanout``, ``topic``, "
        "``headers`` (see `pika.exchange_type.ExchangeType`) or a plugin's type.",
        "passive": "Only check that the exchange exists (404 NOT_FOUND closes the "
        "channel when it does not); nothing is created.",
        "durable": "Keep the exchange across broker restarts.",
        "auto_delete": "Delete the exchange when its last binding is removed.",
        "internal": "Publishers may not publish to it; only other exchanges "
        "bound to it route to it.",
        "arguments": _ARGUMENTS,
    },
)

_EXCHANGE_DELETE = _sync(
    "Delete an exchange.",
    "Deleting an exchange that does not exist succeeds (RabbitMQ 3.x and later).",
    "Exchange.DeleteOk",
    {
        "exchange": "Name of the exchange.",
        "if_unused": "Delete only if no queue or exchange is bound to it "
        "(406 PRECONDITION_FAILED closes the channel otherwise).",
    },
)

_E2E_PARAMS = {
    "destination": "Name of the exchange that receives the routed messages.",
    "source": "Name of the exchange the messages are published to.",
    "routing_key": "The binding key the source exchange matches routing keys against.",
    "arguments": _BINDING_ARGUMENTS,
}

_EXCHANGE_BIND = _sync(
    "Bind an exchange to another: messages routed by ``source`` also go to ``destination``.",
    "A RabbitMQ extension to AMQP 0-9-1 (exchange-to-exchange bindings).",
    "Exchange.BindOk",
    _E2E_PARAMS,
)

_EXCHANGE_UNBIND = _sync(
    "Remove a binding between two exchanges.",
    "The binding is named by the same destination, source, routing key and arguments "
    "it was made with.",
    "Exchange.UnbindOk",
    _E2E_PARAMS,
)

_QUEUE_DECLARE = _sync(
    "Declare a queue: create it, or check that it exists with the same settings.",
    "An empty name asks the broker to name the queue; the reply's ``method.queue`` "
    "carries the name. Declaring an existing queue with other settings closes the "
    "channel with 406 PRECONDITION_FAILED.",
    "Queue.DeclareOk",
    {
        "queue": "Name of the queue; ``''`` for a name chosen by the broker.",
        "passive": "Only check that the queue exists (404 NOT_FOUND closes the "
        "channel when it does not); the reply still gives its counts.",
        "durable": "Keep the queue across broker restarts.",
        "exclusive": "Only this connection may use the queue; it is deleted when "
        "the connection closes.",
        "auto_delete": "Delete the queue once its last consumer is cancelled.",
        "arguments": _ARGUMENTS,
    },
    {
        "blocking": "The broker's reply, a `pika.frame.Method` carrying "
        "`pika.spec.Queue.DeclareOk` (``method.queue``, ``method.message_count``, "
        "``method.consumer_count``)."
    },
)

_QUEUE_BIND_PARAMS = {
    "queue": "Name of the queue.",
    "exchange": "Name of the exchange.",
    "routing_key": "The binding key; None means the queue's name.",
    "arguments": _BINDING_ARGUMENTS,
}

_QUEUE_BIND = _sync(
    "Bind a queue to an exchange, so the exchange routes matching messages to it.",
    "",
    "Queue.BindOk",
    _QUEUE_BIND_PARAMS,
)

_QUEUE_UNBIND = _sync(
    "Remove a binding between a queue and an exchange.",
    "The binding is named by the same exchange, routing key and arguments it was made with.",
    "Queue.UnbindOk",
    _QUEUE_BIND_PARAMS,
)

_QUEUE_PURGE = _sync(
    "Remove every message of a queue that is not awaiting an acknowledgement.",
    "",
    "Queue.PurgeOk",
    {"queue": "Name of the queue."},
)

_QUEUE_DELETE = _sync(
    "Delete a queue and the messages in it.",
    "Consumers of the queue are cancelled (they get a ``Basic.Cancel``).",
    "Queue.DeleteOk",
    {
        "queue": "Name of the queue.",
        "if_unused": "Delete only if the queue has no consumers (406 "
        "PRECONDITION_FAILED closes the channel otherwise).",
        "if_empty": "Delete only if the queue holds no messages.",
    },
)

_BASIC_QOS = _sync(
    "Set the prefetch limit: how many unacknowledged messages the broker sends ahead.",
    "RabbitMQ applies ``prefetch_count`` per consumer started afterwards, or with "
    "``global_qos`` to the channel as a whole; it does not implement ``prefetch_size``.",
    "Basic.QosOk",
    {
        "prefetch_size": "Most bytes of unacknowledged message bodies; 0 for no limit.",
        "prefetch_count": "Most unacknowledged messages; 0 for no limit.",
        "global_qos": "Apply the limit to the whole channel rather than to each consumer.",
    },
    {"blocking": "None.", "aio": "None."},
    ValueError="``prefetch_size`` or ``prefetch_count`` is negative.",
)

_BASIC_GET = _doc(
    "Fetch one message from a queue, if it has one (polling).",
    "Consuming (`basic_consume`) is much faster when more than a few messages are expected.",
    {
        "queue": "Name of the queue.",
        "callback": "Callback API only: called as ``callback(channel, method, properties, "
        "body)`` with the message (``method`` is a `pika.spec.Basic.GetOk`); not called "
        "when the queue is empty (``add_callback`` with `pika.spec.Basic.GetEmpty` "
        "reports that).",
        "auto_ack": "The broker counts the message as acknowledged once sent.",
        "timeout": _TIMEOUT,
    },
    {
        "callback": "None; the message goes to ``callback``.",
        "blocking": "``(method, properties, body)``: a `pika.spec.Basic.GetOk`, a "
        "`pika.spec.BasicProperties` and the body as bytes; ``(None, None, None)`` when "
        "the queue is empty.",
        "thread_safe": "``(method, properties, body)`` as on the blocking channel.",
        "twisted": "A Deferred that fires with a `ReceivedMessage` tuple, or None when "
        "the queue is empty.",
        "aio": "``(method, properties, body)`` as on the blocking channel.",
    },
    _sync_raises(
        DuplicateGetOkCallback="Callback API: another ``basic_get`` of this channel is "
        "still waiting for its message."
    ),
)

_BASIC_CONSUME = _sync(
    "Start a consumer: the broker pushes the queue's messages to it as they arrive.",
    "Unless ``auto_ack``, each message must be acknowledged (`basic_ack`), rejected or "
    "nacked on the same channel; the prefetch limit (`basic_qos`) caps how many wait "
    "for that.",
    "Basic.ConsumeOk",
    {
        "queue": "Name of the queue to consume from.",
        "on_message_callback": "Called as ``on_message_callback(channel, method, "
        "properties, body)`` for each message (``method`` is a "
        "`pika.spec.Basic.Deliver`). Not taken by the Twisted channel, whose "
        "Deferred gives a queue of messages instead.",
        "auto_ack": "The broker counts each message as acknowledged once sent.",
        "exclusive": "Ask to be the queue's only consumer (403 ACCESS_REFUSED if it has another).",
        "consumer_tag": "The consumer's tag; None lets the client choose a unique one.",
        "arguments": _ARGUMENTS + " E.g. ``x-priority`` or a stream's ``x-stream-offset``.",
    },
    {
        "callback": "The consumer tag; the broker's ConsumeOk goes to ``callback``.",
        "blocking": "The consumer tag (the broker confirmed the consumer).",
        "thread_safe": "The consumer tag (the broker confirmed the consumer).",
        "twisted": "A Deferred that fires with ``(queue, consumer_tag)``: a "
        "`ClosableDeferredQueue` of `ReceivedMessage` tuples, and the tag.",
        "aio": "The consumer tag.",
    },
    DuplicateConsumerTag="``consumer_tag`` is in use on this channel.",
    TypeError="An argument has the wrong type, or ``on_message_callback`` is not callable.",
)

_BASIC_CANCEL = _doc(
    "Cancel a consumer: the broker stops delivering to it.",
    "Messages already delivered and not acknowledged stay unacknowledged until "
    "acknowledged or the channel closes.",
    {
        "consumer_tag": "The tag `basic_consume` returned.",
        "callback": "Callback API only: called with the broker's CancelOk method frame; "
        + _NO_WAIT,
        "timeout": _TIMEOUT,
    },
    {
        "callback": "None.",
        "blocking": "The messages that had arrived for the consumer but were not "
        "dispatched, as ``(method, properties, body)`` tuples (for an auto-ack consumer; "
        "a manual-ack consumer's are rejected back to the queue and the list is empty).",
        "thread_safe": "The broker's reply, a `pika.frame.Method` carrying "
        "`pika.spec.Basic.CancelOk`.",
        "twisted": "A Deferred that fires with the broker's CancelOk method frame.",
        "aio": "What the blocking channel returns.",
    },
    _sync_raises(),
)

_BASIC_RECOVER = _sync(
    "Ask the broker to redeliver the channel's unacknowledged messages.",
    "RabbitMQ supports only ``requeue=True``.",
    "Basic.RecoverOk",
    {
        "requeue": "Requeue the messages (possibly to other consumers) rather than "
        "redelivering them to the same consumer."
    },
    {"blocking": "None.", "aio": "None."},
)

_BASIC_PUBLISH = _doc(
    "Publish a message to an exchange.",
    "Without publisher confirms this returns once the message is handed to the "
    "connection; the broker acknowledges nothing. With confirms (`confirm_delivery`) the "
    "blocking channel waits for the broker's confirm; the others report it to their "
    "confirm callback. A mandatory message that no queue takes comes back as a "
    "``Basic.Return`` (to the return callbacks).",
    {
        "exchange": "Name of the exchange; ``''`` is the default exchange, which routes "
        "to the queue named by the routing key.",
        "routing_key": "The routing key the exchange routes by.",
        "body": "The message body: bytes, or a str sent as its UTF-8 encoding.",
        "properties": "The message's `pika.spec.BasicProperties` (content type, "
        "delivery mode, headers...); None for none.",
        "mandatory": "Have the broker return the message if no queue takes it.",
        "on_publish": "Thread-safe channel only: called as ``on_publish(error)`` on the "
        "channel's worker thread once the message's fate is known: None when confirmed "
        "(or, without confirms, sent), else the exception (`NackError`, or the close "
        "reason of the channel or connection).",
        "block_on_flow_control": "Blocking channel only: while the broker has stopped "
        "the channel's flow (Channel.Flow), wait until it allows publishing again "
        "instead of raising `ContentTransmissionForbidden`.",
        "flow_control_timeout": "Blocking channel only, with ``block_on_flow_control``: "
        "the longest wait in seconds (None: no limit); past it `FlowControlTimeout` "
        "is raised.",
    },
    {
        "callback": "None.",
        "blocking": "None.",
        "thread_safe": "None.",
        "twisted": "A Deferred that fires when the message is sent (in confirm mode: "
        "when the broker confirms it).",
        "aio": "None, once sent (in confirm mode: once confirmed).",
    },
    {
        "ChannelWrongStateError": _WRONG_STATE,
        "TypeError": "``body`` is neither bytes nor str, or ``properties`` is not a "
        "`pika.spec.BasicProperties`.",
        "NackError": "Blocking channel in confirm mode: the broker refused the message.",
        "UnroutableError": "Blocking channel in confirm mode: the message was mandatory "
        "and no queue took it.",
        "ContentTransmissionForbidden": "The broker has stopped the channel's flow "
        "(Channel.Flow) and the call does not wait for it.",
        "FlowControlTimeout": "Blocking channel: the flow stayed stopped for "
        "``flow_control_timeout`` seconds.",
        "ConnectionClosed": _CONNECTION_CLOSED,
    },
)

_DELIVERY_TAG = (
    "The delivery tag of the message (``method.delivery_tag``); 0 with ``multiple`` "
    "means every outstanding message."
)
_ACK_RAISES = {
    "ChannelWrongStateError": _WRONG_STATE,
    "TypeError": "``delivery_tag`` is not an int.",
}
_NOTHING = {surface: "None." for surface in SURFACES}

_BASIC_ACK = _doc(
    "Acknowledge a message (or, with ``multiple``, every one up to it).",
    "The tag must come from this channel and be outstanding, else the broker closes the "
    "channel with 406 PRECONDITION_FAILED. After a recovery, tags from before it are "
    "dropped instead of sent.",
    {
        "delivery_tag": _DELIVERY_TAG,
        "multiple": "Acknowledge every outstanding message up to and including ``delivery_tag``.",
    },
    _NOTHING,
    _ACK_RAISES,
)

_BASIC_NACK = _doc(
    "Reject a message (or, with ``multiple``, every one up to it), requeueing it or not.",
    "A RabbitMQ extension; a rejected message that is not requeued goes to the queue's "
    "dead-letter exchange, if it has one.",
    {
        "delivery_tag": _DELIVERY_TAG,
        "multiple": "Reject every outstanding message up to and including ``delivery_tag``.",
        "requeue": "Put the messages back in the queue; False discards or dead-letters them.",
    },
    _NOTHING,
    _ACK_RAISES,
)

_BASIC_REJECT = _doc(
    "Reject one message, requeueing it or not.",
    "A rejected message that is not requeued goes to the queue's dead-letter exchange, "
    "if it has one.",
    {
        "delivery_tag": "The delivery tag of the message (``method.delivery_tag``).",
        "requeue": "Put the message back in the queue; False discards or dead-letters it.",
    },
    _NOTHING,
    _ACK_RAISES,
)

_CONFIRM_DELIVERY = _sync(
    "Turn on publisher confirms: the broker acknowledges (or nacks) each published message.",
    "Messages are numbered from 1 in publish order on the channel; an ack or nack with "
    "``multiple`` covers every number up to its ``delivery_tag``. Confirm mode cannot be "
    "turned off, nor combined with transactions.",
    "Confirm.SelectOk",
    {
        "ack_nack_callback": "Callback API and thread-safe channel: called with each "
        "``Basic.Ack`` or ``Basic.Nack`` method frame from the broker.",
    },
    {"blocking": "None.", "aio": "None."},
    MethodNotImplemented="The broker does not support publisher confirms.",
)


_TX_SELECT = _sync(
    "Put the channel in transaction mode.",
    "Publishes and acknowledgements then take effect only at `tx_commit`.",
    "Tx.SelectOk",
    {},
)
_TX_COMMIT = _sync(
    "Commit the current transaction; a new one starts at once.",
    "",
    "Tx.CommitOk",
    {},
)
_TX_ROLLBACK = _sync(
    "Abandon the current transaction's publishes and acknowledgements.",
    "Messages whose acknowledgement is rolled back are not redelivered by that alone "
    "(see `basic_recover`).",
    "Tx.RollbackOk",
    {},
)

_FLOW = _doc(
    "Ask the broker to pause or resume deliveries on the channel.",
    "RabbitMQ does not implement pausing (``active=False``) and closes the connection "
    "with 540 NOT_IMPLEMENTED.",
    {
        "active": "True to resume deliveries, False to pause them.",
        "callback": "Callback API only: called with the state the broker confirmed (a bool).",
        "timeout": _TIMEOUT,
    },
    {
        "callback": "None; the confirmed state goes to ``callback``.",
        "blocking": "The state the broker confirmed (a bool).",
        "thread_safe": "The state the broker confirmed (a bool).",
        "twisted": "A Deferred that fires with the state the broker confirmed.",
        "aio": "The state the broker confirmed (a bool).",
    },
    _sync_raises(),
)

_CLOSE = _doc(
    "Close the channel.",
    "Messages delivered to it and not acknowledged go back to their queues. Closing a "
    "channel that is closing or closed raises `ChannelWrongStateError`.",
    {
        "reply_code": "The reason code sent to the broker (0 or 200 for a normal close).",
        "reply_text": "The reason text sent to the broker.",
        "timeout": "Thread-safe channel only: seconds to wait for the broker's CloseOk "
        "(None: no limit).",
    },
    {
        "callback": "None; the close callbacks run once the broker confirms.",
        "blocking": "None, once the broker confirmed.",
        "thread_safe": "None, once the broker confirmed.",
        "twisted": "None; the channel's Deferreds fail with `ChannelClosedByClient`.",
        "aio": "None, once the broker confirmed.",
    },
    {
        "ChannelWrongStateError": "The channel is already closing or closed.",
        "TimeoutError": _TIMED_OUT,
    },
)

OPERATION_DOCS: dict[str, OperationDoc] = {
    "exchange_declare": _EXCHANGE_DECLARE,
    "exchange_delete": _EXCHANGE_DELETE,
    "exchange_bind": _EXCHANGE_BIND,
    "exchange_unbind": _EXCHANGE_UNBIND,
    "queue_declare": _QUEUE_DECLARE,
    "queue_bind": _QUEUE_BIND,
    "queue_unbind": _QUEUE_UNBIND,
    "queue_purge": _QUEUE_PURGE,
    "queue_delete": _QUEUE_DELETE,
    "basic_qos": _BASIC_QOS,
    "basic_get": _BASIC_GET,
    "basic_consume": _BASIC_CONSUME,
    "basic_cancel": _BASIC_CANCEL,
    "basic_recover": _BASIC_RECOVER,
    "basic_publish": _BASIC_PUBLISH,
    "basic_ack": _BASIC_ACK,
    "basic_nack": _BASIC_NACK,
    "basic_reject": _BASIC_REJECT,
    "confirm_delivery": _CONFIRM_DELIVERY,
    "tx_select": _TX_SELECT,
    "tx_commit": _TX_COMMIT,
    "tx_rollback": _TX_ROLLBACK,
    "flow": _FLOW,
    "close": _CLOSE,
}
"""Method name to its `OperationDoc`, for every per-operation channel method."""
