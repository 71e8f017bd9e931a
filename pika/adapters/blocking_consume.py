"""`BlockingChannel.consume`: consuming a queue as a generator.

`ConsumeGenerator` is a part of `pika.adapters.blocking_channel.BlockingChannel`:
``consume`` starts one consumer whose messages wait in the deque of a
`_QueueConsumerGeneratorInfo` (a record OpenTelemetry's Pika instrumentation
patches, see `pika.adapters.blocking_consumers`) and yields them as the
application iterates; ``cancel`` ends it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Callable, Optional, overload

from pika import exceptions, spec
from pika.adapters.blocking_consumers import Message, _QueueConsumerGeneratorInfo
from pika.adapters.blocking_wait import DISPATCH, PLAIN, Turn

if TYPE_CHECKING:
    from pika.adapters.blocking_connection import BlockingConnection
    from pika.channel import Channel

# What the generator yields: a message, or three Nones after an inactivity timeout.
MessageOrNothing = tuple[
    Optional[spec.Basic.Deliver], Optional[spec.BasicProperties], Optional[bytes]
]
NO_MESSAGE: MessageOrNothing = (None, None, None)


class ConsumeGenerator:
    """The consume generator of `BlockingChannel` (see the module)."""

    if TYPE_CHECKING:
        _impl: Channel
        _connection: BlockingConnection
        _generator: _QueueConsumerGeneratorInfo | None

        def _entry_check(self) -> None: ...

        def _settle(self) -> None: ...

        def _sent(self) -> None: ...

        def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ...

        def _wait(
            self, done: Callable[[], Any], timeout: float | None = None, how: Turn = PLAIN
        ) -> bool: ...

    # Without an inactivity timeout every item is a message: typed so, a
    # strict type checker needs no None check before using it.
    @overload
    def consume(
        self,
        queue: str,
        auto_ack: bool = ...,
        exclusive: bool = ...,
        arguments: dict[str, Any] | None = ...,
        inactivity_timeout: None = ...,
        consumer_tag: str | None = ...,
    ) -> Generator[Message, None, None]: ...

    @overload
    def consume(
        self,
        queue: str,
        auto_ack: bool = ...,
        exclusive: bool = ...,
        arguments: dict[str, Any] | None = ...,
        inactivity_timeout: float | None = ...,
        consumer_tag: str | None = ...,
    ) -> Generator[MessageOrNothing, None, None]: ...

    def consume(
        self,
        queue: str,
        auto_ack: bool = False,
        exclusive: bool = False,
        arguments: dict[str, Any] | None = None,
        inactivity_timeout: float | None = None,
        consumer_tag: str | None = None,
    ) -> Generator[MessageOrNothing, None, None]:
        """Consume ``queue`` as a generator of ``(method, properties, body)``.

        With ``inactivity_timeout``, ``(None, None, None)`` is yielded after
        that many seconds without a message. Other ready callbacks run while
        it waits. The generator ends when `cancel` is called or the broker
        cancels the consumer. One consume generator per channel: calling
        `consume` again with the same arguments continues it, with other
        arguments raises ValueError (call `cancel` first).

        Args:
            queue: Name of the queue to consume from.
            auto_ack: The broker counts each message as acknowledged once sent.
            exclusive: Ask to be the queue's only consumer.
            arguments: Optional consumer arguments (an AMQP field table); None for none.
            inactivity_timeout: Seconds without a message after which ``(None, None, None)`` is
                yielded; None waits for ever.
            consumer_tag: The consumer's tag; None lets the client choose one.

        Yields:
            ``(method, properties, body)`` per message: a `pika.spec.Basic.Deliver`, a
            `pika.spec.BasicProperties` and the body bytes.

        Raises:
            ValueError: A generator with other arguments is already running on this channel.
            ChannelClosedByBroker: The broker refused the consumer or closed the channel.
        """
        if inactivity_timeout is not None and inactivity_timeout < 0:
            raise ValueError(f"inactivity_timeout must be >= 0, got {inactivity_timeout!r}")
        self._entry_check()
        params = (queue, auto_ack, exclusive, arguments)
        generator = self._generator
        if generator is not None and generator.cancelled and not generator.pending_events:
            self._generator = generator = None
        if generator is None:
            generator = self._start_generator(params, consumer_tag)
        elif generator.params != params:
            raise ValueError(
                "consume() called with other arguments than the active consume generator; "
                "call cancel() first"
            )
        # Looked up once started: a tracing wrapper may have replaced the deque.
        messages = generator.pending_events
        current = generator

        def waiting() -> bool:
            return bool(messages) or current.cancelled

        connection = self._connection
        while True:
            if messages:
                message = messages.popleft()
                if isinstance(message, exceptions.MessageTooLargeError):
                    raise message
                # What the caller sends while it holds the message (a reply,
                # its ack) goes out in one write when it is back (or stops).
                connection._defer_writes += 1
                resumed = False
                try:
                    yield message
                    resumed = True
                finally:
                    # Closed or thrown into: write now; resumed: maybe later.
                    connection._end_deferral(resumed and bool(messages))
                continue
            if generator.cancelled:
                return
            if not self._wait(waiting, inactivity_timeout, DISPATCH):
                yield NO_MESSAGE

    def _start_generator(
        self, params: tuple[Any, ...], consumer_tag: str | None
    ) -> _QueueConsumerGeneratorInfo:
        queue, auto_ack, exclusive, arguments = params
        generator = _QueueConsumerGeneratorInfo(params, auto_ack)
        generator.on_message = on_message = generator.message_sink()
        self._generator = generator
        try:
            tag = self._start_consumer(
                queue, on_message, auto_ack, exclusive, consumer_tag, arguments
            )
        except BaseException:
            self._generator = None
            raise
        generator.consumer_tag = tag
        return generator

    def _start_consumer(
        self,
        queue: str,
        on_message: Callable[..., Any],
        auto_ack: bool,
        exclusive: bool,
        consumer_tag: str | None,
        arguments: dict[str, Any] | None,
    ) -> str:
        """Start a consumer on the callback channel that hands its deliveries
        to ``on_message``; waits for ConsumeOk and returns the tag (for
        `basic_consume` and the `consume` generator)."""
        args = (queue, on_message, auto_ack, exclusive, consumer_tag, arguments)
        return str(self._call(self._impl.basic_consume, *args).method.consumer_tag)

    def cancel(self) -> int:
        """Cancel the `consume` generator's consumer; messages it received
        but did not yield are nacked with requeue (dropped for auto-ack).
        Returns how many were requeued.

        Returns:
            How many messages were requeued.
        """
        generator = self._generator
        if generator is None:
            return 0
        self._entry_check()
        self._settle()
        if not generator.cancelled and self._impl.is_open:
            self._call(self._impl.basic_cancel, generator.consumer_tag)
        self._generator = None
        generator.cancelled = True
        pending = generator.messages()
        generator.pending_events.clear()
        if generator.auto_ack or not pending or not self._impl.is_open:
            return 0
        for method, _properties, _body in pending:
            assert method is not None
            # Basic.Reject, which AMQP 0-8 has too (Basic.Nack is 0-9-1's).
            self._impl.basic_reject(method.delivery_tag or 0, requeue=True)
        self._sent()
        return len(pending)

    def get_waiting_message_count(self) -> int:
        """Messages the consume generator received and has not yielded yet.

        Returns:
            The count.
        """
        generator = self._generator
        return len(generator.pending_events) if generator is not None else 0
