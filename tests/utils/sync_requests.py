"""Synchronous channel requests that the blocking and the thread-safe
channels both offer with the same arguments, each with the method it sends
and the reply it returns: one table for the tests of both surfaces."""

from __future__ import annotations

from typing import Any, Callable

from pika import spec
from tests.utils.memory_transport import ScriptedBroker

#: ``(call on a channel, request class, reply class)``.
SYNC_REQUESTS: list[tuple[Callable[[Any], Any], type, type]] = [
    (lambda c: c.exchange_declare("x", "topic"), spec.Exchange.Declare, spec.Exchange.DeclareOk),
    (lambda c: c.exchange_delete("x"), spec.Exchange.Delete, spec.Exchange.DeleteOk),
    (lambda c: c.exchange_bind("d", "s", "k"), spec.Exchange.Bind, spec.Exchange.BindOk),
    (lambda c: c.exchange_unbind("d", "s", "k"), spec.Exchange.Unbind, spec.Exchange.UnbindOk),
    (lambda c: c.queue_declare("q", durable=True), spec.Queue.Declare, spec.Queue.DeclareOk),
    (lambda c: c.queue_bind("q", "x", "k"), spec.Queue.Bind, spec.Queue.BindOk),
    (lambda c: c.queue_unbind("q", "x", "k"), spec.Queue.Unbind, spec.Queue.UnbindOk),
    (lambda c: c.queue_purge("q"), spec.Queue.Purge, spec.Queue.PurgeOk),
    (lambda c: c.queue_delete("q"), spec.Queue.Delete, spec.Queue.DeleteOk),
]


def check_request(
    broker: ScriptedBroker, chan: Any, call: Callable[[Any], Any], request: type, reply: type
) -> None:
    """``call(chan)`` sends one ``request`` (waiting for its answer) on
    ``chan`` and returns the broker's ``reply`` method frame."""
    answer = call(chan)
    assert isinstance(answer.method, reply)
    ((number, sent),) = broker.received(request)
    assert number == chan.channel_number
    assert getattr(sent, "nowait", False) is False
