"""Consumers of `pika.aio`: the ``consume()`` iterator and callback consumers.

`MessageIterator` is what `Channel.consume` returns: an async iterator of
``(method, properties, body)`` and an async context manager that cancels
its consumer on exit. `CallbackConsumer` hands each delivery of a
`Channel.basic_consume` consumer to the application's plain or async
callback.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import inspect
import logging
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional, Union

from pika import spec, telemetry, validation
from pika.aio.waiting import ClosingOnExit, report_error, settle
from pika.exceptions import MessageTooLargeError
from pika.telemetry import hand_off

if TYPE_CHECKING:
    import pika.aio.channel
    from pika.channel import Channel as CallbackChannel

LOGGER = logging.getLogger(__name__)

#: What the iterator yields (``(None, None, None)`` after an inactivity timeout).
MessageTuple = tuple[Optional[spec.Basic.Deliver], Optional[spec.BasicProperties], Optional[bytes]]
_Message = tuple[spec.Basic.Deliver, spec.BasicProperties, bytes]
_NO_MESSAGE: MessageTuple = (None, None, None)
_TIMED_OUT = object()

#: A `basic_consume` callback: ``(channel, method, properties, body)``, plain
#: or returning an awaitable (an ``async def``), which is run as a task.
OnMessage = Callable[
    ["pika.aio.channel.Channel", spec.Basic.Deliver, spec.BasicProperties, bytes],
    Union[Awaitable[Any], None],
]


class MessageIterator(ClosingOnExit):
    """The messages of one consumer, as ``async for`` gives them.

    The consumer starts when the iterator is entered (``async with``) or
    first iterated. Iteration ends when the consumer is cancelled (by
    `cancel`, leaving the ``async with`` block, `Channel.basic_cancel`, the
    broker, or the application closing the channel); it raises the reason
    when the broker closes the channel or the connection is lost for good.
    With ``inactivity_timeout``, ``(None, None, None)`` is yielded after
    that many seconds without a message. After a connection recovery the
    consumer goes on with the same tag; messages received before the loss
    and not yet yielded are dropped if they need an ack (the broker
    redelivers them).

    Args:
        channel: The `Channel` to consume on.
        params: ``(queue, auto_ack, exclusive, arguments)`` of the consumer.
        inactivity_timeout: Seconds without a message after which ``(None, None, None)`` is yielded;
            None waits for ever.
        consumer_tag: The consumer's tag; None lets the client choose one.
    """

    def __init__(
        self,
        channel: pika.aio.channel.Channel,
        params: tuple[str, bool, bool, Optional[dict[str, Any]]],
        inactivity_timeout: Optional[float],
        consumer_tag: Optional[str],
    ) -> None:
        self._channel = channel
        self._params = params
        self._timeout = inactivity_timeout
        self._requested_tag = consumer_tag
        # Messages, and errors for messages over max_message_size.
        self._messages: collections.deque[Union[_Message, MessageTooLargeError]] = (
            collections.deque()
        )
        self._waiter: Optional[asyncio.Future[Any]] = None
        self._starting: Optional[asyncio.Future[Any]] = None
        self._started = False
        self._ended = False
        # Whether the application holds the message last yielded, and with
        # it the connection's writes (see `_hold_writes`).
        self._holding = False
        #: The consumer tag, once the consumer has started.
        self.consumer_tag = ""

    def __repr__(self) -> str:
        return f"<MessageIterator queue={self._params[0]!r} tag={self.consumer_tag!r}>"

    @property
    def auto_ack(self) -> bool:
        """Whether the broker considers the messages acknowledged on delivery."""
        return self._params[1]

    async def _start(self) -> None:
        while self._starting is not None:
            # Another task is starting it: wait for that (and start it here
            # if that task was cancelled or failed).
            await asyncio.shield(self._starting)
        if self._started:
            return
        self._starting = asyncio.get_running_loop().create_future()
        try:
            queue, auto_ack, exclusive, arguments = self._params
            self.consumer_tag = await self._channel._start_consumer(
                queue,
                self._on_message,
                auto_ack,
                exclusive,
                self._requested_tag,
                arguments,
                iterator=self,
            )
            self._started = True
        finally:
            settle(self._starting)
            self._starting = None

    @hand_off  # the application's loop takes the messages from the queue
    def _on_message(
        self,
        _impl: CallbackChannel,
        method: spec.Basic.Deliver,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        self._messages.append((method, properties, body))
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            settle(waiter)

    def _end(self) -> None:
        """The consumer is gone: iteration stops once the queue is drained."""
        self._ended = True
        self._channel._iterators.pop(self.consumer_tag, None)
        self._wake()

    def _too_large(self, error: MessageTooLargeError) -> None:
        """A message for this consumer was over ``max_message_size``: the
        iteration raises ``error`` in its place."""
        self._messages.append(error)
        self._wake()

    def _channel_closed(self, by_client: bool) -> None:
        """The channel is gone: unyielded messages that need an ack are
        dropped; iteration ends (closed by the application) or raises the
        reason once the rest is yielded."""
        if not self.auto_ack:
            self._messages.clear()
        if by_client:
            self._ended = True
        self._wake()

    def _connection_lost(self) -> None:
        if not self.auto_ack and self._messages:
            LOGGER.info(
                "consumer %r: %d unyielded messages dropped at a connection loss",
                self.consumer_tag,
                len(self._messages),
            )
            self._messages.clear()

    def __aiter__(self) -> MessageIterator:
        return self

    async def __anext__(self) -> MessageTuple:
        if self._holding:
            self._release_writes()
        if not self._started:
            if self._ended:
                raise StopAsyncIteration
            await self._start()
        messages = self._messages
        while True:
            if messages:
                message = messages.popleft()
                if type(message) is MessageTooLargeError:
                    raise message
                self._hold_writes()
                return message  # type: ignore[return-value]
            if self._ended:
                raise StopAsyncIteration
            self._channel._raise_if_closed()
            if await self._wait() is _TIMED_OUT:
                return _NO_MESSAGE

    def _hold_writes(self) -> None:
        """The application gets a message: what it sends while it handles
        it (a reply, the ack) is written at the end of the loop's turn, or
        before the iterator waits for the next message, in one write rather
        than the reply at once and the ack after it."""
        self._holding = True
        self._channel._connection._impl._hold_writes += 1

    def _release_writes(self) -> None:
        """The application is done with the message."""
        self._holding = False
        self._channel._connection._impl._hold_writes -= 1

    async def _wait(self) -> Any:
        impl = self._channel._connection._impl
        if impl.connection_state == impl.CONNECTION_OPEN:
            # What the application sent goes now rather than after this turn.
            impl._flush()
        loop = self._channel._loop
        waiter = self._waiter = loop.create_future()
        timer = None
        if self._timeout is not None:
            timer = loop.call_later(self._timeout, _time_out, waiter)
        try:
            return await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    async def __aenter__(self) -> MessageIterator:
        await self._start()
        return self

    async def close(self) -> None:
        """`cancel`, without its count (run on leaving ``async with``)."""
        await self.cancel()

    #: For `contextlib.aclosing`.
    aclose = close

    async def cancel(self) -> int:
        """Cancel the consumer and end the iteration; messages received but
        not yielded are nacked with requeue (dropped for auto-ack). Returns
        how many were requeued.

        Returns:
            How many messages were requeued.
        """
        if self._holding:
            self._release_writes()
        if self._ended or not self._started:
            self._ended = True
            return 0
        self._ended = True
        channel = self._channel
        await channel._cancel_consumer(self.consumer_tag)
        channel._iterators.pop(self.consumer_tag, None)
        self._wake()
        return channel._requeue([method for method, _p, _b in self._take()], self.auto_ack)

    def _take(self) -> list[_Message]:
        messages = [item for item in self._messages if type(item) is tuple]
        self._messages.clear()
        return messages


@hand_off  # it observes the callback itself (see `__call__`)
class CallbackConsumer:
    """Runs a `basic_consume` callback for each delivery, on the loop.

    A plain callback is called at once; an async one (whatever returns an
    awaitable) becomes a task, so deliveries are handled concurrently, up
    to the channel's prefetch. An exception from either goes to the event
    loop's exception handler (logged by default) and the consumer goes on.

    With an observer installed (`pika.telemetry`), a plain callback runs
    within `TelemetryHooks.process <pika.telemetry.TelemetryHooks.process>`
    and the task of an ``async def`` one awaits it within
    `TelemetryHooks.process_async <pika.telemetry.TelemetryHooks.process_async>`,
    so a tracing span covers the whole coroutine.

    Args:
        channel: The `Channel` whose deliveries it handles.
        callback: Called as ``callback(channel, method, properties, body)``; may be a coroutine
            function.

    Raises:
        TypeError: ``callback`` is not callable.
    """

    __slots__ = ("_callback", "_channel", "_is_async", "_tasks")

    def __init__(self, channel: pika.aio.channel.Channel, callback: OnMessage) -> None:
        validation.require_callable(callback, "on_message_callback")
        self._channel = channel
        self._callback = callback
        self._is_async = inspect.iscoroutinefunction(callback)
        self._tasks: set[asyncio.Future[Any]] = set()

    def __call__(
        self,
        _impl: CallbackChannel,
        method: spec.Basic.Deliver,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        observer = telemetry.observer
        try:
            if observer is None:
                result = self._callback(self._channel, method, properties, body)
            else:
                observed = telemetry.ObservedMessage(_impl, method, properties, body)
                result = self._observed(observer, observed)
        except Exception as error:
            report_error(error, f"consumer callback raised (delivery {method.delivery_tag})")
            return
        if result is not None and inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._finished)

    def _observed(
        self,
        observer: telemetry.TelemetryHooks,
        observed: telemetry.ObservedMessage[spec.Basic.Deliver],
    ) -> Any:
        """Call the callback through ``observer``; returns what to run as a
        task (None for a plain callback that returned nothing awaitable)."""
        call: Callable[[], Any] = functools.partial(
            self._callback, self._channel, observed.method, observed.properties, observed.body
        )
        if self._is_async:
            return observer.process_async(observed, call)
        returned: list[Any] = []
        observer.process(observed, lambda: returned.append(call()))
        return returned[0]

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            error = task.exception()
            if error is not None:
                report_error(error, "async consumer callback raised")


def _time_out(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_result(_TIMED_OUT)
