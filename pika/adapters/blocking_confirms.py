"""Publisher confirms for the blocking API.

`_ConfirmTracker` numbers a confirm-mode channel's publishes and matches
the broker's Basic.Ack/Basic.Nack (through `pika.confirms.ConfirmTracker`,
as every surface does) and Basic.Return to them;
`PipelinedPublisher` keeps a window of unconfirmed messages in flight on
top of it. `ReturnedMessage` and `PublishedMessage` are what `UnroutableError`
and `NackError` list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pika import exceptions, frame, spec, validation
from pika.adapters.blocking_wait import BOUNDED
from pika.adapters.utils.closing_context import ClosingContext
from pika.confirms import ConfirmTracker
from pika.operations import Publication

if TYPE_CHECKING:
    from pika.adapters.blocking_channel import BlockingChannel

__all__ = ["DEFAULT_WINDOW", "PipelinedPublisher", "PublishedMessage", "ReturnedMessage"]

DEFAULT_WINDOW = 1000
"""Unconfirmed messages a `PipelinedPublisher` keeps in flight by default."""


class ReturnedMessage:
    """A message the broker handed back with Basic.Return.

    Args:
        method: The broker's `pika.spec.Basic.Return` (reply code and text, exchange, routing key).
        properties: The message's `pika.spec.BasicProperties`.
        body: The message body.
    """

    __slots__ = ("body", "method", "properties")

    def __init__(
        self, method: spec.Basic.Return, properties: spec.BasicProperties, body: bytes
    ) -> None:
        self.method = method
        self.properties = properties
        self.body = body

    def __repr__(self) -> str:
        return f"<ReturnedMessage {self.method!r} body={len(self.body)} bytes>"


class PublishedMessage:
    """A message as this client published it, kept until its confirm.

    `NackError.messages` lists these for the messages the broker nacked:
    ``method`` is the `spec.Basic.Publish` that was sent and
    ``delivery_tag`` its publish sequence number on the channel.

    Args:
        delivery_tag: Its publish sequence number on the channel.
        exchange: The exchange it was published to.
        routing_key: Its routing key.
        body: Its body (a str is kept as UTF-8 bytes).
        properties: Its properties; None for empty ones.
        mandatory: Whether it was mandatory.
    """

    __slots__ = ("body", "delivery_tag", "method", "properties")

    def __init__(
        self,
        delivery_tag: int,
        exchange: str,
        routing_key: str,
        body: bytes | str,
        properties: spec.BasicProperties | None,
        mandatory: bool,
    ) -> None:
        self.delivery_tag = delivery_tag
        self.method = spec.Basic.Publish(
            exchange=exchange, routing_key=routing_key, mandatory=mandatory
        )
        self.properties = properties if properties is not None else spec.BasicProperties()
        self.body = bytes(validation.message_body(body))

    def __repr__(self) -> str:
        return (
            f"<PublishedMessage tag={self.delivery_tag} exchange={self.method.exchange!r} "
            f"routing_key={self.method.routing_key!r} body={len(self.body)} bytes>"
        )


class _ConfirmTracker:
    """Publisher-confirm bookkeeping of one channel.

    Publishes are numbered from 1 in the order they were sent (the broker
    confirms with those numbers). ``unconfirmed`` maps each number still
    awaiting Basic.Ack/Nack to what was published; nacks and returns are
    collected until `raise_failures` reports them.
    """

    __slots__ = ("ignore_through", "nacked", "next_tag", "returned", "unconfirmed")

    def __init__(self) -> None:
        self.next_tag = 1
        self.ignore_through = 0
        self.unconfirmed: ConfirmTracker[Publication] = ConfirmTracker()
        self.nacked: list[PublishedMessage] = []
        self.returned: list[ReturnedMessage] = []

    def record(self, publication: Publication) -> int:
        tag = self.next_tag
        self.next_tag = tag + 1
        self.unconfirmed.add(tag, publication)
        return tag

    def on_ack_nack(self, method_frame: frame.Method) -> None:
        method = method_frame.method
        settled = self.unconfirmed.settle(method.delivery_tag, method.multiple)
        if type(method) is spec.Basic.Nack:
            self.nacked += [PublishedMessage(number, *message) for number, message in settled]

    def on_return(self, message: ReturnedMessage) -> None:
        if self.next_tag - 1 > self.ignore_through:
            self.returned.append(message)

    def abandon(self) -> None:
        """Forget every unconfirmed message and every unreported failure."""
        self.ignore_through = self.next_tag - 1
        self.unconfirmed.take_all()
        self.nacked = []
        self.returned = []

    def unconfirmed_messages(self) -> list[PublishedMessage]:
        return [PublishedMessage(tag, *message) for tag, message in self.unconfirmed.entries()]

    def raise_failures(self) -> None:
        """Raise NackError (nacked, then returned messages) or UnroutableError, and reset."""
        nacked, returned = self.nacked, self.returned
        if not nacked and not returned:
            return
        self.nacked, self.returned = [], []
        if nacked:
            raise exceptions.NackError([*nacked, *returned])
        raise exceptions.UnroutableError(returned)


class PipelinedPublisher(ClosingContext):
    """Publishes with confirms while keeping many messages in flight.

    `basic_publish` in confirm mode waits one round trip per message. A
    pipelined publisher sends without waiting until ``window`` messages are
    unconfirmed, then waits only for the oldest confirms to make room. No
    failure is lost: every nacked message and every returned (mandatory,
    unroutable) message is collected and raised by `flush` (also run by
    `close` and on leaving a ``with`` block)::

        with channel.publisher(window=1000) as publisher:
            for body in bodies:
                publisher.publish("", "tasks", body, mandatory=True)
        # here every message is confirmed, or NackError/UnroutableError was raised

    `flush` raises `NackError` if the broker nacked any message: its
    ``messages`` are the nacked ones as `PublishedMessage` (``delivery_tag``,
    ``method``, ``properties``, ``body``), followed by any returned ones as
    `ReturnedMessage`. Otherwise it raises `UnroutableError` listing the
    returned messages. Either way the failures are reported once and the
    publisher carries on.

    If the channel or connection fails, `publish`/`flush` raise that error;
    `unconfirmed()` then lists the messages whose fate is unknown. With
    automatic recovery, the messages unconfirmed at a connection loss are
    nacked (the next `flush` raises NackError listing them), or published
    again after the recovery with ``republish_unconfirmed``; a publish made
    during the recovery waits for it (see `pika.adapters.blocking_connection`). If the
    ``with`` block raises, the publisher stops without waiting and forgets
    its unconfirmed messages. While a publisher is open, `basic_publish` on
    its channel raises ChannelWrongStateError: a Basic.Return carries no
    sequence number, so returns could not be told apart.

    Args:
        channel: The `BlockingChannel` to publish on.
        tracker: The channel's confirm bookkeeping.
        window: Most messages awaiting their confirm at once.
    """

    def __init__(self, channel: BlockingChannel, tracker: _ConfirmTracker, window: int) -> None:
        self._channel = channel
        self._tracker = tracker
        self._window = window
        self._open = True

    def __repr__(self) -> str:
        return (
            f"<PipelinedPublisher channel={self._channel.channel_number} "
            f"window={self._window} outstanding={self.outstanding}>"
        )

    def _on_block_exit(self, raised: bool) -> None:
        if raised:
            self._detach(abandon=True)
        else:
            self.close()

    @property
    def window(self) -> int:
        """Most messages kept awaiting their confirm."""
        return self._window

    @property
    def outstanding(self) -> int:
        """Messages published and not yet confirmed."""
        return len(self._tracker.unconfirmed)

    def unconfirmed(self) -> list[PublishedMessage]:
        """The messages still awaiting their confirm, oldest first.

        Returns:
            `PublishedMessage` objects.
        """
        return self._tracker.unconfirmed_messages()

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes | str,
        properties: spec.BasicProperties | None = None,
        mandatory: bool = False,
    ) -> int:
        """Publish one message; returns its delivery tag (publish sequence
        number). Blocks only while ``window`` messages are unconfirmed.
        Nacks and returns are reported by `flush`, not here.

        Args:
            exchange: Name of the exchange (``''`` for the default exchange).
            routing_key: The routing key.
            body: The body: bytes, or a str sent as UTF-8.
            properties: The message properties; None for none.
            mandatory: Have the broker return the message if no queue takes it.

        Returns:
            The message's publish sequence number.

        Raises:
            ChannelWrongStateError: The publisher is closed.
            ChannelClosedByBroker: The broker closed the channel.
            ConnectionClosed: The connection closed.
        """
        if not self._open:
            raise exceptions.ChannelWrongStateError("publish() on a closed PipelinedPublisher")
        tracker = self._tracker
        tag = self._channel._send_confirmed(
            tracker, (exchange, routing_key, body, properties, mandatory)
        )
        unconfirmed = tracker.unconfirmed
        window = self._window
        if len(unconfirmed) >= window:
            self._channel._wait(lambda: len(unconfirmed) < window, how=BOUNDED)
        return tag

    def flush(self) -> None:
        """Wait until every published message is confirmed, then raise
        NackError/UnroutableError for the failures since the last flush."""
        tracker = self._tracker
        unconfirmed = tracker.unconfirmed
        if unconfirmed:
            self._channel._wait(lambda: not unconfirmed, how=BOUNDED)
        tracker.raise_failures()

    def close(self) -> None:
        """`flush`, then release the channel for `basic_publish` (once)."""
        if not self._open:
            return
        try:
            self.flush()
        finally:
            self._detach(abandon=False)

    def _detach(self, abandon: bool) -> None:
        if not self._open:
            return
        self._open = False
        if abandon:
            self._tracker.abandon()
        if self._channel._publisher is self:
            self._channel._publisher = None
