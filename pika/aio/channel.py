"""`pika.aio.Channel`: the callback `pika.channel.Channel` with coroutines.

The request/reply operations (``exchange_*``, ``queue_*``, ``basic_qos``,
``basic_recover``, ``tx_*``) come from `pika.aio.operations`, generated from
`pika.operations`; each awaits `Channel._call`, the one "send and await the
reply" helper. What is the async surface's own is here: publishing (with
pipelined confirms and back-pressure), getting, consuming, acknowledging,
confirm mode, flow and closing.

Cancellation: a task cancelled while it awaits a reply leaves the channel
usable; the reply still arrives and is dropped (a message fetched by a
cancelled `basic_get` is rejected with requeue, a consumer started by a
cancelled `basic_consume` is cancelled). A cancelled confirmed
`basic_publish` was sent: its outcome is unknown to the application.
"""

from __future__ import annotations

import asyncio
import collections
import functools
from typing import TYPE_CHECKING, Any, Callable, Optional

from pika import exceptions, frame, spec, validation
from pika.aio.confirms import ConfirmWaiters
from pika.aio.consumer import CallbackConsumer, MessageIterator, OnMessage
from pika.aio.operations import AioOperations
from pika.aio.waiting import (
    ClosingOnExit,
    PendingWaits,
    close_and_wait,
    fail,
    outcome,
    report_error,
    settle,
)
from pika.callback_registrations import AioChannelRegistrations
from pika.wrapping import ReturnRouting

if TYPE_CHECKING:
    import pika.aio.connection
    import pika.channel
    from pika.channel import Channel as CallbackChannel

__all__ = ["Channel", "MessageIterator"]


OnReturn = Callable[["Channel", spec.Basic.Return, spec.BasicProperties, bytes], Any]
OnCancel = Callable[[frame.Method], Any]
OnTooLarge = Callable[["Channel", exceptions.MessageTooLargeError], Any]
GetResult = tuple[Optional[spec.Basic.GetOk], Optional[spec.BasicProperties], Optional[bytes]]


class Channel(AioOperations, AioChannelRegistrations, ReturnRouting, PendingWaits, ClosingOnExit):
    """An AMQP channel whose operations are coroutines.

    Open one with ``await connection.channel()`` (or ``async with
    connection.channel() as channel:``, which closes it on exit). Every
    method of `BlockingChannel` that talks to the broker is here, with the
    same name, parameters and return value, as a coroutine.

    Errors: when the broker closes the channel (say 404 on a passive
    declare), the awaiting call and every later call raise the
    `ChannelClosedByBroker`; after the application closed it, calls raise
    `ChannelWrongStateError`; after the connection is lost for good, they
    raise the connection's error. With recovery (on by default), a call
    that awaited a reply at a connection loss raises `ConnectionInterrupted`
    (its request may or may not have taken effect) and calls made during
    the recovery wait for it (see `pika.aio.connect`).

    Args:
        impl: The callback-API `pika.channel.Channel` it drives.
        connection: The `Connection` it belongs to.
    """

    def __init__(
        self, impl: pika.channel.Channel, connection: pika.aio.connection.Connection
    ) -> None:
        self._impl = impl
        self._connection = connection
        self._loop = connection._loop
        self._waiting: set[asyncio.Future[Any]] = set()
        self._gets: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._close_reason: Optional[BaseException] = None
        self._closed = asyncio.Event()
        self._confirms: Optional[ConfirmWaiters] = None
        self._iterators: dict[str, MessageIterator] = {}
        self._return_callbacks: list[OnReturn] = []
        self._cancel_callbacks: list[OnCancel] = []
        self._too_large_callbacks: list[OnTooLarge] = []
        impl.add_on_close_callback(self._on_impl_closed)
        impl.add_on_message_too_large_callback(self._on_impl_too_large)
        impl.add_on_return_callback(self._on_impl_return)
        impl.add_on_cancel_callback(self._on_impl_cancel)
        impl.add_callback(self._on_get_empty, [spec.Basic.GetEmpty], one_shot=False)

    def __repr__(self) -> str:
        return f"<pika.aio.Channel impl={self._impl!r}>"

    # ------------------------------------------------------------ properties

    @property
    def connection(self) -> pika.aio.connection.Connection:
        """The `pika.aio.Connection` this channel belongs to."""
        return self._connection

    # --------------------------------------------------------------- waiting

    def _raise_if_closed(self) -> None:
        """Raise why the channel is closed, if it is."""
        reason = self._close_reason
        if reason is None:
            return
        if isinstance(reason, exceptions.ChannelClosedByClient):
            raise exceptions.ChannelWrongStateError(f"channel {self.channel_number} is closed")
        raise reason.with_traceback(None)

    async def _ready(self) -> None:
        """Return once the channel can take a request: raise if it is
        closed; wait for a recovery under way (see `Connection._ready`)."""
        self._raise_if_closed()
        await self._connection._ready()
        self._raise_if_closed()

    async def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        """The one "send and await the reply" helper: call a callback-channel
        method with ``callback=`` and return the first argument its reply
        callback gets (the reply's method frame)."""
        if not self._impl.is_open:
            await self._ready()
        future = self._loop.create_future()
        method(*args, callback=functools.partial(settle, future))
        return (await self._wait(future))[0]

    # ----------------------------------------------- callback-channel events

    def _on_impl_closed(self, _impl: CallbackChannel, reason: BaseException) -> None:
        self._close_reason = reason
        by_client = isinstance(reason, exceptions.ChannelClosedByClient)
        self._fail_waiting(reason)
        self._gets.clear()
        if self._confirms is not None:
            self._confirms.fail_all(reason)
        for iterator in list(self._iterators.values()):
            iterator._channel_closed(by_client)
        self._closed.set()
        self._connection._channel_closed(self)

    def _interrupted(self, error: exceptions.ConnectionInterrupted) -> None:
        """The connection was lost and is being recovered."""
        self._fail_waiting(error)
        self._gets.clear()
        for iterator in self._iterators.values():
            iterator._connection_lost()

    def _dispatch_return(
        self, method: spec.Basic.Return, properties: spec.BasicProperties, body: bytes
    ) -> None:
        for callback in list(self._return_callbacks):
            try:
                callback(self, method, properties, body)
            except Exception as error:
                report_error(error, "return callback raised")

    def _on_impl_cancel(self, method_frame: frame.Method) -> None:
        iterator = self._iterators.get(str(method_frame.method.consumer_tag))
        if iterator is not None:
            iterator._end()
        for callback in list(self._cancel_callbacks):
            try:
                callback(method_frame)
            except Exception as error:
                report_error(error, "cancel callback raised")

    def _on_impl_too_large(
        self, _impl: CallbackChannel, error: exceptions.MessageTooLargeError
    ) -> None:
        """A message over ``max_message_size`` was discarded (and rejected if
        it needed an ack): the `basic_get` it answers or the ``consume()``
        iterator it was for raises the error; for other consumers it goes
        to the message-too-large callbacks (or the loop's exception handler)."""
        method = error.method
        if type(method) is spec.Basic.GetOk:
            if self._gets:
                fail(self._gets.popleft(), error)
            return
        iterator = self._iterators.get(str(getattr(method, "consumer_tag", "")))
        if iterator is not None:
            iterator._too_large(error)
            return
        if not self._too_large_callbacks:
            report_error(error, "a message over max_message_size was discarded")
        for callback in list(self._too_large_callbacks):
            try:
                callback(self, error)
            except Exception as failure:
                report_error(failure, "message-too-large callback raised")

    # ---------------------------------------------------------------- close

    async def close(self, reply_code: int = 0, reply_text: str = "Normal shutdown") -> None:
        """Close the channel and wait until it is closed (nothing happens if
        it already is). Messages received for its consumers and not yet
        handed out are dropped; the broker requeues unacknowledged ones."""
        await close_and_wait(self._impl, self._closed, reply_code, reply_text)

    # ---------------------------------------------------------------- publish

    async def basic_publish(
        self,
        exchange: str,
        routing_key: str,
        body: validation.Body,
        properties: Optional[spec.BasicProperties] = None,
        mandatory: bool = False,
    ) -> None:
        """Publish a message (a str body is sent as UTF-8).

        Without confirm mode this returns once the message is queued for the
        connection's transport (written at once after a quiet spell, else at
        the end of the loop's turn with the messages published meanwhile), and
        waits first while the broker blocks the connection or the
        transport's buffer is above its high-water mark; it also yields to
        the loop every few dozen messages, so a publishing loop lets others
        run. In confirm mode (`confirm_delivery`) it returns when the broker
        confirms the message, and raises `NackError` when the broker nacks
        it, `UnroutableError` when a mandatory message came back. Many tasks
        may publish on one channel at once: their messages are pipelined,
        each awaiting its own confirm. If the awaiting task is cancelled,
        the message was sent and its outcome is unknown.

        Raises:
            ChannelClosedByBroker, ChannelWrongStateError: the channel is closed.
            ConnectionInterrupted: never here; a confirm lost with the
                connection is a `NackError` (or, with the policy's
                ``republish_unconfirmed``, the message is published again).
            RecoveryWaitTimeout: called during a recovery that lasted
                longer than ``recovery_wait_timeout``.
        """
        impl = self._impl
        connection = self._connection
        if not (connection._writable and impl.is_open):
            await self._publish_ready()
        confirms = self._confirms
        if confirms is None:
            impl.basic_publish(exchange, routing_key, body, properties, mandatory)
            if connection._published(len(body)):
                await asyncio.sleep(0)
            return
        data = validation.message_body(body)
        tag = impl.next_publish_seq_no
        impl.basic_publish(exchange, routing_key, data, properties, mandatory)
        future = self._loop.create_future()
        confirms.add(tag, future, (exchange, routing_key, data, properties, mandatory))
        outcome(await future)

    async def _publish_ready(self) -> None:
        while True:
            await self._ready()
            if self._connection._writable:
                return
            await self._connection._writable_again()

    # ------------------------------------------------------------------ get

    async def basic_get(self, queue: str, auto_ack: bool = False) -> GetResult:
        """Fetch one message: ``(method, properties, body)``, or
        ``(None, None, None)`` when the queue is empty."""
        impl = self._impl
        if not impl.is_open:
            await self._ready()
        future = self._loop.create_future()
        impl.basic_get(queue, functools.partial(self._got, future, auto_ack), auto_ack)
        self._gets.append(future)
        reply = await self._wait(future)
        if not reply:
            return None, None, None
        method, properties, body = reply
        return method, properties, body

    def _got(
        self,
        future: asyncio.Future[Any],
        auto_ack: bool,
        impl: CallbackChannel,
        method: spec.Basic.GetOk,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        gets = self._gets
        if gets and gets[0] is future:
            gets.popleft()
        elif future in gets:
            gets.remove(future)
        if future.done():
            # Its task was cancelled: nobody takes the message.
            if not auto_ack and impl.is_open:
                impl.basic_reject(method.delivery_tag or 0, requeue=True)
            return
        settle(future, method, properties, body)

    def _on_get_empty(self, _method_frame: frame.Method) -> None:
        if self._gets:
            settle(self._gets.popleft())

    # -------------------------------------------------------------- consume

    def consume(
        self,
        queue: str,
        auto_ack: bool = False,
        exclusive: bool = False,
        arguments: Optional[dict[str, Any]] = None,
        inactivity_timeout: Optional[float] = None,
        consumer_tag: Optional[str] = None,
    ) -> MessageIterator:
        """Consume ``queue`` as an async iterator of ``(method, properties,
        body)`` (see `MessageIterator`)::

            async with channel.consume("tasks") as messages:
                async for method, properties, body in messages:
                    await channel.basic_ack(method.delivery_tag)

        Args:
            queue: Name of the queue to consume from.
            auto_ack: The broker counts each message as acknowledged once sent.
            exclusive: Ask to be the queue's only consumer.
            arguments: Optional consumer arguments (an AMQP field table); None for none.
            inactivity_timeout: Seconds without a message after which ``(None, None, None)``
                is yielded; None waits for ever.
            consumer_tag: The consumer's tag; None lets the client choose one.

        Returns:
            The `MessageIterator`; the consumer starts when it is entered or first iterated.

        Raises:
            ChannelClosedByBroker, ChannelWrongStateError: the channel is closed.
            ValueError: ``inactivity_timeout`` is negative.
        """
        validation.require_timeout(inactivity_timeout, "inactivity_timeout")
        validation.require_str(queue, "queue")
        self._raise_if_closed()
        params = (queue, auto_ack, exclusive, arguments)
        return MessageIterator(self, params, inactivity_timeout, consumer_tag)

    async def basic_consume(
        self,
        queue: str,
        on_message_callback: OnMessage,
        auto_ack: bool = False,
        exclusive: bool = False,
        consumer_tag: Optional[str] = None,
        arguments: Optional[dict[str, Any]] = None,
    ) -> str:
        """Start a consumer; returns its tag once the broker confirmed it.

        ``on_message_callback(channel, method, properties, body)`` runs for
        each message: a plain function is called at once, an ``async def``
        runs as a task (messages are then handled concurrently, up to the
        channel's prefetch). Its exceptions go to the event loop's
        exception handler. After a connection recovery the consumer goes on
        with the same tag.
        """
        consumer = CallbackConsumer(self, on_message_callback)
        return await self._start_consumer(
            queue, consumer, auto_ack, exclusive, consumer_tag, arguments
        )

    async def _start_consumer(
        self,
        queue: str,
        on_message: Callable[..., Any],
        auto_ack: bool,
        exclusive: bool,
        consumer_tag: Optional[str],
        arguments: Optional[dict[str, Any]],
        iterator: Optional[MessageIterator] = None,
    ) -> str:
        """Start a consumer and await its ConsumeOk; returns its tag. An
        ``iterator`` is registered under the tag at once, so it hears of
        what arrives right after the ConsumeOk."""
        impl = self._impl
        if not impl.is_open:
            await self._ready()
        future = self._loop.create_future()

        def started(method_frame: frame.Method) -> None:
            if not future.done():
                settle(future, method_frame)
            elif impl.is_open and tag in impl.consumer_tags:
                # The caller was cancelled and never learns the tag: stop the
                # consumer, now that the broker has it (a Basic.Cancel sent
                # before its ConsumeOk can crash RabbitMQ's channel).
                impl.basic_cancel(tag)

        tag = impl.basic_consume(
            queue, on_message, auto_ack, exclusive, consumer_tag, arguments, callback=started
        )
        if iterator is not None:
            iterator.consumer_tag = tag
            self._iterators[tag] = iterator
        try:
            await self._wait(future)
        except BaseException:
            if iterator is not None and self._iterators.get(tag) is iterator:
                del self._iterators[tag]
            raise
        return tag

    async def basic_cancel(
        self, consumer_tag: str
    ) -> list[tuple[spec.Basic.Deliver, spec.BasicProperties, bytes]]:
        """Cancel a consumer and wait for the broker's CancelOk.

        For a ``consume()`` iterator's consumer, the messages it received
        and had not handed out are returned if it acknowledged
        automatically, else nacked with requeue (and ``[]`` returned). A
        `basic_consume` consumer's messages are handed to its callback as
        they arrive, so ``[]`` is returned.
        """
        iterator = self._iterators.get(consumer_tag)
        if iterator is not None:
            unsent = iterator._take() if iterator.auto_ack else []
            await iterator.cancel()
            return unsent
        await self._cancel_consumer(consumer_tag)
        return []

    async def _cancel_consumer(self, consumer_tag: str) -> None:
        impl = self._impl
        if impl.is_closed:
            return
        if not impl.is_open:
            await self._ready()
        if consumer_tag in impl.consumer_tags:
            await self._call(impl.basic_cancel, consumer_tag)

    def _requeue(self, methods: list[spec.Basic.Deliver], auto_ack: bool) -> int:
        """Nack ``methods`` with requeue (nothing for auto-ack); how many."""
        impl = self._impl
        if auto_ack or not methods or not impl.is_open:
            return 0
        for method in methods:
            impl.basic_nack(method.delivery_tag or 0, False, True)
        return len(methods)

    # -------------------------------------------------------------- acks

    async def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
        """Acknowledge one message (or, with ``multiple``, every one up to
        ``delivery_tag``; 0 with ``multiple`` means all)."""
        impl = self._impl
        if not impl.is_open:
            await self._ack_ready(delivery_tag)
        impl.basic_ack(delivery_tag, multiple)

    async def basic_nack(
        self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True
    ) -> None:
        """Reject one or (with ``multiple``) several messages, requeueing
        them unless ``requeue`` is False."""
        impl = self._impl
        if not impl.is_open:
            await self._ack_ready(delivery_tag)
        impl.basic_nack(delivery_tag, multiple, requeue)

    async def basic_reject(self, delivery_tag: int = 0, requeue: bool = True) -> None:
        """Reject one message, requeueing it unless ``requeue`` is False."""
        impl = self._impl
        if not impl.is_open:
            await self._ack_ready(delivery_tag)
        impl.basic_reject(delivery_tag, requeue)

    async def _ack_ready(self, delivery_tag: int) -> None:
        """During a recovery, a tag from before the loss is dropped at once
        by the callback channel (counted in `stale_tags_dropped`); anything
        else waits for the recovery."""
        self._raise_if_closed()
        if not self._impl.is_stale_delivery_tag(delivery_tag):
            await self._ready()

    # ----------------------------------------------------- confirms, flow

    async def confirm_delivery(self) -> None:
        """Turn publisher confirms on: from now on `basic_publish` returns
        when the broker confirms the message. Calling it again does nothing."""
        if self._confirms is not None:
            self._raise_if_closed()
            return
        impl = self._impl
        if not impl.is_open:
            await self._ready()
        confirms = ConfirmWaiters()
        future = self._loop.create_future()
        impl.confirm_delivery(confirms.on_ack_nack, callback=functools.partial(settle, future))
        self._confirms = confirms
        await self._wait(future)

    async def flow(self, active: bool) -> bool:
        """Ask the broker to pause (False) or resume (True) deliveries;
        returns the state it confirmed."""
        return bool(await self._call(self._impl.flow, active))
