"""`ClosableDeferredQueue` and `ReceivedMessage` of the Twisted adapter (no broker)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("twisted")

from twisted.internet import defer

from pika import exceptions
from pika.adapters.twisted_connection import ClosableDeferredQueue, ReceivedMessage


def result_of(deferred: defer.Deferred[Any]) -> Any:
    outcome: list[Any] = []
    deferred.addBoth(outcome.append)
    assert outcome, "the Deferred has not fired"
    return outcome[0]


def test_items_put_before_and_after_a_get() -> None:
    queue = ClosableDeferredQueue()
    queue.put("early")
    assert queue.pending == ["early"]
    assert result_of(queue.get()) == "early"
    waiting = queue.get()
    assert queue.waiting == [waiting]
    assert queue.put("late") is None
    assert result_of(waiting) == "late" and not queue.waiting
    assert queue.closed is None


def test_close_fails_waiters_then_gets_after_draining() -> None:
    queue = ClosableDeferredQueue()
    waiting = queue.get()
    reason = exceptions.ConsumerCancelled("ctag")
    queue.close(reason)
    assert result_of(waiting).value is reason
    assert queue.closed is reason and not queue.waiting


def test_a_closed_queue_hands_out_what_it_holds_first() -> None:
    queue = ClosableDeferredQueue()
    queue.put(1)
    queue.put(2)
    reason = exceptions.ChannelClosedByBroker(406, "PRECONDITION_FAILED")
    queue.close(reason)
    queue.close(exceptions.ConsumerCancelled("later"))  # the first reason stays
    assert [result_of(queue.get()), result_of(queue.get())] == [1, 2]
    assert result_of(queue.get()).value is reason
    refused = queue.put(3)
    assert refused is not None and result_of(refused).value is reason
    assert queue.pending == []


def test_close_without_a_reason() -> None:
    queue = ClosableDeferredQueue()
    queue.close(None)
    assert isinstance(queue.closed, defer.CancelledError)
    assert result_of(queue.get()).check(defer.CancelledError)


def test_size_and_backlog_limits_still_apply() -> None:
    queue = ClosableDeferredQueue(size=1, backlog=1)
    queue.put("one")
    with pytest.raises(defer.QueueOverflow):
        queue.put("two")
    result_of(queue.get())
    queue.get()
    with pytest.raises(defer.QueueUnderflow):
        queue.get()


def test_received_message_fields() -> None:
    message = ReceivedMessage("chan", "method", "props", b"body")  # type: ignore[arg-type]
    assert message == ("chan", "method", "props", b"body")
    assert (message.channel, message.method, message.properties, message.body) == (
        "chan",
        "method",
        "props",
        b"body",
    )
