"""Protocol facts the engine checks incoming frames against.

These are data, not code: which methods a broker may send, which of them
carry content, and the reply code a violation is closed with.
"""

from __future__ import annotations

from pika import spec

#: Methods a broker may send to a client (AMQP 0-9-1 plus RabbitMQ's
#: extensions). Anything else from the broker is COMMAND_INVALID.
SERVER_METHODS: frozenset[int] = frozenset(
    m.INDEX
    for m in (
        spec.Connection.Start,
        spec.Connection.Secure,
        spec.Connection.Tune,
        spec.Connection.OpenOk,
        spec.Connection.Close,
        spec.Connection.CloseOk,
        spec.Connection.Blocked,
        spec.Connection.Unblocked,
        spec.Connection.UpdateSecretOk,
        spec.Channel.OpenOk,
        spec.Channel.Flow,
        spec.Channel.FlowOk,
        spec.Channel.Close,
        spec.Channel.CloseOk,
        spec.Access.RequestOk,
        spec.Exchange.DeclareOk,
        spec.Exchange.DeleteOk,
        spec.Exchange.BindOk,
        spec.Exchange.UnbindOk,
        spec.Queue.DeclareOk,
        spec.Queue.BindOk,
        spec.Queue.PurgeOk,
        spec.Queue.DeleteOk,
        spec.Queue.UnbindOk,
        spec.Basic.QosOk,
        spec.Basic.ConsumeOk,
        spec.Basic.CancelOk,
        spec.Basic.Cancel,
        spec.Basic.Return,
        spec.Basic.Deliver,
        spec.Basic.GetOk,
        spec.Basic.GetEmpty,
        spec.Basic.Ack,
        spec.Basic.Nack,
        spec.Basic.RecoverOk,
        spec.Tx.SelectOk,
        spec.Tx.CommitOk,
        spec.Tx.RollbackOk,
        spec.Confirm.SelectOk,
    )
)

#: Method indexes that are followed by a content header and body frames.
CONTENT_METHODS: frozenset[int] = frozenset(
    index for index, method in spec.methods.items() if spec.has_content(index)
)

CONNECTION_CLASS = spec.Connection.INDEX

REPLY_NAMES: dict[int, str] = {
    spec.REPLY_SUCCESS: "REPLY_SUCCESS",
    spec.CONNECTION_FORCED: "CONNECTION_FORCED",
    spec.FRAME_ERROR: "FRAME_ERROR",
    spec.SYNTAX_ERROR: "SYNTAX_ERROR",
    spec.COMMAND_INVALID: "COMMAND_INVALID",
    spec.CHANNEL_ERROR: "CHANNEL_ERROR",
    spec.UNEXPECTED_FRAME: "UNEXPECTED_FRAME",
    spec.RESOURCE_ERROR: "RESOURCE_ERROR",
    spec.NOT_ALLOWED: "NOT_ALLOWED",
    spec.NOT_IMPLEMENTED: "NOT_IMPLEMENTED",
    spec.INTERNAL_ERROR: "INTERNAL_ERROR",
}


class ProtocolViolation(Exception):
    """Raised inside the engine when the peer breaks the protocol; carries
    the reply code the connection is closed with."""

    def __init__(self, reply_code: int, text: str, method_index: int = 0) -> None:
        super().__init__(text)
        self.reply_code = reply_code
        self.text = text
        self.method_index = method_index

    @property
    def reply_text(self) -> str:
        return f"{REPLY_NAMES.get(self.reply_code, self.reply_code)} - {self.text}"
