"""Publisher confirms for `pika.aio`: one future per unconfirmed publish.

`ConfirmWaiters` keeps the future of each unconfirmed publish in a
`pika.confirms.ConfirmTracker` (the one every surface uses to read the
broker's Basic.Ack and Basic.Nack, numbered by the callback channel across
recoveries), so many tasks can publish on one channel at once and each
awaits its own confirm.

A Basic.Return carries no publish number. RabbitMQ sends it before the
confirm of the same message, and routes one channel's publishes in order,
so a returned message is matched to the oldest unconfirmed mandatory
publish with the same exchange, routing key and body; its confirm then
raises `UnroutableError`.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, Optional

from pika import exceptions, frame, spec
from pika.adapters.blocking_confirms import PublishedMessage, ReturnedMessage
from pika.aio.waiting import fail, settle
from pika.confirms import ConfirmTracker

#: What a confirm-mode publish was: exchange, routing key, body, properties, mandatory.
_Published = tuple[str, str, Any, Optional[spec.BasicProperties], bool]


class ConfirmWaiters:
    """The futures of one confirm-mode channel's unconfirmed publishes."""

    __slots__ = ("_mandatory", "_returned", "_tracker")

    def __init__(self) -> None:
        self._tracker: ConfirmTracker[tuple[asyncio.Future[Any], _Published]] = ConfirmTracker()
        # Unconfirmed mandatory publishes (number, body) by (exchange,
        # routing key), oldest first.
        self._mandatory: dict[tuple[str, str], collections.deque[tuple[int, Any]]] = {}
        self._returned: dict[int, ReturnedMessage] = {}

    def __len__(self) -> int:
        return len(self._tracker)

    def add(self, tag: int, future: asyncio.Future[Any], published: _Published) -> None:
        """Await the confirm of publish number ``tag`` with ``future``.

        Args:
            tag: The publish sequence number.
            future: The future the publisher awaits.
            published: What was published (exchange, routing key, body, properties, mandatory).
        """
        self._tracker.add(tag, (future, published))
        if published[4]:
            key = (published[0], published[1])
            tags = self._mandatory.get(key)
            if tags is None:
                tags = self._mandatory[key] = collections.deque()
            tags.append((tag, published[2]))

    def on_ack_nack(self, method_frame: frame.Method) -> None:
        """The callback channel's confirm callback: settle the futures it confirms.

        Args:
            method_frame: The broker's ``Basic.Ack`` or ``Basic.Nack`` frame.
        """
        method = method_frame.method
        nack = type(method) is spec.Basic.Nack
        settled = self._tracker.settle(int(method.delivery_tag or 0), bool(method.multiple))
        for tag, (future, published) in settled:
            returned = self._returned.pop(tag, None) if self._returned else None
            if published[4]:
                self._forget_mandatory(published)
            if nack:
                message = PublishedMessage(tag, *published)
                listed: list[Any] = [message] if returned is None else [message, returned]
                fail(future, exceptions.NackError(listed))
            elif returned is not None:
                fail(future, exceptions.UnroutableError([returned]))
            else:
                settle(future)

    def _forget_mandatory(self, published: _Published) -> None:
        key = (published[0], published[1])
        tags = self._mandatory.get(key)
        if tags is None:
            return
        tracker = self._tracker
        while tags and tags[0][0] not in tracker:
            tags.popleft()
        if not tags:
            del self._mandatory[key]

    def on_return(self, returned: ReturnedMessage) -> None:
        """A mandatory message came back: note it for its publish's confirm.

        Args:
            returned: The returned message.
        """
        method = returned.method
        tags = self._mandatory.get((str(method.exchange), str(method.routing_key)))
        if not tags:
            return
        for tag, body in tags:
            if tag in self._tracker and tag not in self._returned and body == returned.body:
                self._returned[tag] = returned
                return

    def fail_all(self, error: BaseException) -> None:
        """The channel is gone: every awaiting publish raises ``error``.

        Args:
            error: The exception the awaiting publishers raise.
        """
        self._mandatory.clear()
        self._returned.clear()
        for _tag, (future, _published) in self._tracker.take_all():
            fail(future, error)
