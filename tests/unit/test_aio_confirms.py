"""`pika.aio.confirms.ConfirmWaiters` without a broker: which future each
Basic.Ack, Basic.Nack and Basic.Return settles, and how."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pika import exceptions, frame, spec
from pika.adapters.blocking_confirms import ReturnedMessage
from pika.aio.confirms import ConfirmWaiters
from pika.aio.waiting import outcome


@pytest.fixture
def loop() -> Any:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _published(waiters: ConfirmWaiters, loop: Any, count: int, **kwargs: Any) -> list[Any]:
    futures = []
    for tag in range(1, count + 1):
        future = loop.create_future()
        mandatory = kwargs.get("mandatory", False)
        waiters.add(tag, future, ("", kwargs.get("key", "q"), b"%d" % tag, None, mandatory))
        futures.append(future)
    return futures


def _confirm(waiters: ConfirmWaiters, method: Any) -> None:
    waiters.on_ack_nack(frame.Method(1, method))


def _raised(future: Any) -> BaseException | None:
    try:
        outcome(future.result())
    except BaseException as error:
        return error
    return None


def test_single_and_multiple_acks_settle_their_publishes(loop: Any) -> None:
    waiters = ConfirmWaiters()
    futures = _published(waiters, loop, 5)
    _confirm(waiters, spec.Basic.Ack(delivery_tag=2))
    assert [future.done() for future in futures] == [False, True, False, False, False]
    _confirm(waiters, spec.Basic.Ack(delivery_tag=4, multiple=True))
    assert [future.done() for future in futures] == [True, True, True, True, False]
    assert all(_raised(future) is None for future in futures[:4])
    _confirm(waiters, spec.Basic.Ack(delivery_tag=0, multiple=True))
    assert futures[4].done() and len(waiters) == 0


def test_a_nack_raises_nack_error_with_the_message(loop: Any) -> None:
    waiters = ConfirmWaiters()
    futures = _published(waiters, loop, 3)
    _confirm(waiters, spec.Basic.Nack(delivery_tag=2, multiple=True))
    for tag, future in enumerate(futures[:2], start=1):
        error = _raised(future)
        assert isinstance(error, exceptions.NackError)
        assert [message.body for message in error.messages] == [b"%d" % tag]
    assert not futures[2].done()


def test_a_return_goes_to_the_oldest_matching_mandatory_publish(loop: Any) -> None:
    waiters = ConfirmWaiters()
    futures = _published(waiters, loop, 3, mandatory=True, key="k")
    returned = ReturnedMessage(
        spec.Basic.Return(312, "NO_ROUTE", "", "k"), spec.BasicProperties(), b"2"
    )
    waiters.on_return(returned)
    _confirm(waiters, spec.Basic.Ack(delivery_tag=3, multiple=True))
    assert _raised(futures[0]) is None and _raised(futures[2]) is None
    error = _raised(futures[1])
    assert isinstance(error, exceptions.UnroutableError) and error.messages == [returned]


def test_a_cancelled_waiter_is_skipped_and_fail_all_reaches_the_rest(loop: Any) -> None:
    waiters = ConfirmWaiters()
    futures = _published(waiters, loop, 3)
    futures[0].cancel()
    _confirm(waiters, spec.Basic.Ack(delivery_tag=1))
    gone = exceptions.ChannelClosedByBroker(404, "NOT_FOUND")
    waiters.fail_all(gone)
    assert futures[0].cancelled()
    assert _raised(futures[1]) is gone and _raised(futures[2]) is gone
    assert len(waiters) == 0
