"""The thread-safe `Channel`: every method callable from any thread.

Made by `pika.adapters.thread_safe_connection.Connection.channel` (see that
module for the threading model). Each method checks its arguments in the
calling thread, then hands the work to the I/O thread: synchronous
operations wait for the broker's reply within their ``timeout``
(`pika.adapters.thread_safe_calls.ReplyTimeout`), the fire-and-forget ones
(``basic_publish``, acknowledgements) return once the work is queued.
Consumer, return, cancel and confirm callbacks run on the channel's own
worker thread, one at a time. The request/reply operations come from
`pika.adapters.thread_safe_operations`, generated from `pika.operations`.
"""

from __future__ import annotations

import collections
import functools
import logging
import queue
from typing import Any, Callable, NamedTuple, Optional

# The module, not the class: it imports this one first (its Connection
# makes these channels), and the annotation below is only read later.
import pika.adapters.thread_safe_connection
from pika import channel as channel_mod
from pika import exceptions, frame, spec, telemetry, validation
from pika.adapters.thread_safe_calls import (
    DEFAULT_RPC_TIMEOUT,
    DEFAULT_WORK_QUEUE_MAXSIZE,
    DEFAULT_WORK_QUEUE_PUT_TIMEOUT,
    CallResult,
    Function,
)
from pika.adapters.thread_safe_operations import ThreadSafeOperations
from pika.adapters.utils.callback_worker import CallbackWorker
from pika.adapters.utils.stale_tags import StaleDeliveryTags
from pika.callback_registrations import ThreadSafeChannelRegistrations
from pika.confirms import ConfirmTracker
from pika.exceptions import ConnectionInterrupted
from pika.telemetry import hand_off

__all__ = ["Channel"]

LOGGER = logging.getLogger("pika.adapters.thread_safe_connection")


class _NackedMessage(NamedTuple):
    """A published message the broker refused (Basic.Nack), as `NackError` carries it."""

    method: frame.Method
    properties: Optional[spec.BasicProperties]
    body: bytes


class Channel(ThreadSafeOperations, ThreadSafeChannelRegistrations, StaleDeliveryTags):
    """A channel usable from any number of threads; made by `Connection.channel`.

    The constructor wraps a callback-API channel and must run on the I/O
    thread. Synchronous methods wait up to ``timeout`` seconds for the
    broker's reply and return its method frame; the fire-and-forget ones
    (``basic_publish``, ``basic_ack``, ``basic_nack``, ``basic_reject``)
    return once the work is queued for the I/O thread.

    Args:
        channel: The callback-API `pika.channel.Channel` it drives (on the I/O thread).
        wrapper: The thread-safe `Connection` it belongs to.
        work_queue_maxsize: Size of the channel's callback queue; 0 or less for unbounded.
        work_queue_put_timeout: Seconds the I/O thread waits for room in the full queue before it
            closes the channel.
    """

    def __init__(
        self,
        channel: channel_mod.Channel,
        wrapper: pika.adapters.thread_safe_connection.Connection,
        work_queue_maxsize: int = DEFAULT_WORK_QUEUE_MAXSIZE,
        work_queue_put_timeout: float = DEFAULT_WORK_QUEUE_PUT_TIMEOUT,
    ) -> None:
        self._impl = channel
        self._connection = wrapper
        self._worker = wrapper._workers.add(
            CallbackWorker(
                f"pika-channel-{channel.channel_number}",
                work_queue_maxsize,
                work_queue_put_timeout,
                wrapper._calls.exempt,
            )
        )
        self._work_queue_maxsize = work_queue_maxsize
        self._work_queue_put_timeout = work_queue_put_timeout
        # Touched on the I/O thread only:
        self._pending: set[CallResult] = set()
        self._closing: list[CallResult] = []
        self._gets: collections.deque[Callable[[Any], None]] = collections.deque()
        self._confirming = False
        self._ack_nack_callback: Optional[Callable[[frame.Method], Any]] = None
        self._unconfirmed: ConfirmTracker[tuple[Function, Any, Any]] = ConfirmTracker()
        # Whether channel() returned this channel to its caller.
        self._delivered = False
        self._closed_by: Optional[BaseException] = None
        # Read from any thread:
        self._failure: Optional[exceptions.WorkQueueFullError] = None
        self._return_callbacks: list[Function] = []
        self._cancel_callbacks: list[Function] = []
        self._too_large_callbacks: list[Function] = []
        channel.add_on_close_callback(self._on_closed)
        channel.add_on_return_callback(self._on_return)
        channel.add_on_cancel_callback(self._on_cancel)
        channel.add_on_message_too_large_callback(self._on_too_large)
        channel.add_callback(self._on_get_empty, [spec.Basic.GetEmpty], one_shot=False)
        wrapper._channels.add(self)

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed" if self.is_closed else "closing"
        return f"<{type(self).__name__} number={self.channel_number} {state}>"

    # ----------------------------------------------------------------- state

    @property
    def channel_number(self) -> int:
        """The channel's number on its connection."""
        return self._impl.channel_number

    @property
    def is_open(self) -> bool:
        """True while the channel is open (False while the connection is being recovered)."""
        return self._impl.is_open and not self._connection.is_recovering

    @property
    def is_closed(self) -> bool:
        """True once the channel is closed."""
        return self._impl.is_closed

    @property
    def next_publish_seq_no(self) -> int:
        """The delivery tag the broker will confirm this thread's next publish with
        (exact when no other thread publishes on the channel meanwhile)."""
        if self._connection._on_loop_thread():
            return self._impl.next_publish_seq_no
        number: int = self._connection._call(
            "next_publish_seq_no",
            DEFAULT_RPC_TIMEOUT,
            lambda reply: reply.resolve(self._impl.next_publish_seq_no),
        )
        return number

    def _check_usable(self) -> None:
        """Fail fast in the calling thread on a channel that cannot be used."""
        failure = self._failure
        if failure is not None:
            raise exceptions.WorkQueueFullError(str(failure))
        impl = self._impl
        if not impl.is_open and not (impl.is_opening and self._connection.is_recovering):
            raise exceptions.ChannelWrongStateError(
                f"channel {self._impl.channel_number} is not open"
            )

    # ---------------------------------------------- synchronous request path

    def _rpc(self, what: str, timeout: Optional[float], method: Function, *args: Any) -> Any:
        """Call ``method(*args, callback=...)`` on the I/O thread and wait for the callback.

        The one generic path of every synchronous channel method: the reply
        is failed with the close reason if the channel closes first.
        """
        validation.require_timeout(timeout)
        self._check_usable()

        def operation(reply: CallResult) -> None:
            def on_reply(result: Any) -> None:
                self._pending.discard(reply)
                reply.resolve(result)

            self._pending.add(reply)
            try:
                method(*args, callback=on_reply)
            except BaseException:
                self._pending.discard(reply)
                raise

        return self._connection._call(
            f"{what} on channel {self._impl.channel_number}", timeout, operation
        )

    def _submit(self, function: Function, *args: Any) -> None:
        """Queue a fire-and-forget call for the I/O thread."""
        self._check_usable()
        self._connection._calls.submit(function, args)

    # ------------------------------------------------------------- publishing

    def _publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes | str,
        properties: Optional[spec.BasicProperties],
        mandatory: bool,
        on_publish: Optional[Callable[[Optional[BaseException]], Any]],
    ) -> None:
        # The work of basic_publish (generated from pika.operations, documented there):
        # checked here, sent by the I/O thread. ``on_publish``: see the module's documentation.
        data = validation.message_body(body)
        validation.require_properties(properties)
        validation.require_callable(on_publish, "on_publish", optional=True)
        self._submit(
            self._publish_on_loop, exchange, routing_key, data, properties, mandatory, on_publish
        )

    def _publish_on_loop(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: Optional[spec.BasicProperties],
        mandatory: bool,
        on_publish: Optional[Function],
    ) -> None:
        if on_publish is None:
            self._impl.basic_publish(exchange, routing_key, body, properties, mandatory)
            return
        try:
            self._impl.basic_publish(exchange, routing_key, body, properties, mandatory)
        except Exception as error:
            closed_by = self._closed_by if self._impl.is_closed else None
            self._hand_over(on_publish, (error if closed_by is None else closed_by,))
            return
        if self._confirming:
            tag = self._impl.next_publish_seq_no - 1
            self._unconfirmed.add(tag, (on_publish, properties, body))
        else:
            self._hand_over(on_publish, (None,))

    def confirm_delivery(
        self,
        ack_nack_callback: Callable[[frame.Method], Any],
        timeout: Optional[float] = DEFAULT_RPC_TIMEOUT,
    ) -> frame.Method:
        """Turn on publisher confirms; ``ack_nack_callback(method_frame)`` gets
        every Basic.Ack and Basic.Nack, on the channel's worker thread."""
        validation.require_callable(ack_nack_callback, "ack_nack_callback")
        return self._rpc("confirm_delivery", timeout, self._confirm_on_loop, ack_nack_callback)

    def _confirm_on_loop(
        self, ack_nack_callback: Callable[[frame.Method], Any], callback: Function
    ) -> None:
        self._impl.confirm_delivery(self._on_confirmation, callback)
        self._ack_nack_callback = ack_nack_callback
        self._confirming = True

    def _on_confirmation(self, method_frame: frame.Method) -> None:
        method = method_frame.method
        if self._unconfirmed:
            nack = method_frame if isinstance(method, spec.Basic.Nack) else None
            settled = self._unconfirmed.settle(method.delivery_tag, bool(method.multiple))
            for _number, entry in settled:
                self._report_publish(entry, nack)
        if self._ack_nack_callback is not None:
            self._hand_over(self._ack_nack_callback, (method_frame,))

    def _report_publish(
        self, entry: tuple[Function, Any, Any], nack: Optional[frame.Method]
    ) -> None:
        on_publish, properties, body = entry
        error = (
            None if nack is None else exceptions.NackError([_NackedMessage(nack, properties, body)])
        )
        self._hand_over(on_publish, (error,))

    # ----------------------------------------------------- acknowledgements

    def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
        """Acknowledge a delivery (or all up to it with ``multiple``); does not wait."""
        validation.require_delivery_tag(delivery_tag)
        self._submit(self._impl.basic_ack, delivery_tag, multiple)

    def basic_nack(
        self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True
    ) -> None:
        """Reject one or (``multiple``) several deliveries; does not wait.
        UnsupportedByAMQPVersion over AMQP 0-8, which has no Basic.Nack."""
        validation.require_delivery_tag(delivery_tag)
        self._impl._engine.dialect.require(spec.Basic.Nack, "basic_nack")
        self._submit(self._impl.basic_nack, delivery_tag, multiple, requeue)

    def basic_reject(self, delivery_tag: int = 0, requeue: bool = True) -> None:
        """Reject one delivery; does not wait."""
        validation.require_delivery_tag(delivery_tag)
        self._submit(self._impl.basic_reject, delivery_tag, requeue)

    # ------------------------------------------------------------- consuming

    def basic_consume(
        self,
        queue: str,
        on_message_callback: Callable[
            [Channel, spec.Basic.Deliver, spec.BasicProperties, bytes], Any
        ],
        auto_ack: bool = False,
        exclusive: bool = False,
        consumer_tag: Optional[str] = None,
        arguments: Optional[dict[str, Any]] = None,
        timeout: Optional[float] = DEFAULT_RPC_TIMEOUT,
    ) -> str:
        """Start a consumer and return its tag.

        ``on_message_callback(channel, method, properties, body)`` runs on the
        channel's worker thread, one message at a time.
        """
        validation.require_callable(on_message_callback, "on_message_callback")

        def on_message(
            _impl: channel_mod.Channel,
            method: spec.Basic.Deliver,
            properties: spec.BasicProperties,
            body: bytes,
        ) -> None:
            self._hand_over(
                self._deliver, (on_message_callback, auto_ack, method, properties, body)
            )

        hand_off(on_message)
        reply = self._rpc(
            "basic_consume",
            timeout,
            self._impl.basic_consume,
            queue,
            on_message,
            auto_ack,
            exclusive,
            consumer_tag,
            arguments,
        )
        tag: str = reply.method.consumer_tag
        return tag

    def _deliver(
        self,
        callback: Function,
        auto_ack: bool,
        method: spec.Basic.Deliver,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        """Run a consumer callback (worker thread)."""
        impl = self._impl
        if not auto_ack and (
            not impl.is_open or impl.is_stale_delivery_tag(method.delivery_tag or 0)
        ):
            LOGGER.debug(
                "channel %d closing or recovered: delivery %s not handed to the consumer "
                "(the broker delivers it again)",
                impl.channel_number,
                method.delivery_tag,
            )
            return
        observer = telemetry.observer
        if observer is None:
            callback(self, method, properties, body)
        else:
            call = functools.partial(callback, self, method, properties, body)
            observer.process(telemetry.ObservedMessage(impl, method, properties, body), call)

    def basic_cancel(
        self, consumer_tag: str, timeout: Optional[float] = DEFAULT_RPC_TIMEOUT
    ) -> frame.Method:
        """Cancel a consumer and wait for Basic.CancelOk."""
        return self._rpc("basic_cancel", timeout, self._impl.basic_cancel, consumer_tag)

    def basic_get(
        self, queue: str, auto_ack: bool = False, timeout: Optional[float] = DEFAULT_RPC_TIMEOUT
    ) -> tuple[Any, Any, Any]:
        """Fetch one message: ``(method, properties, body)``, or
        ``(None, None, None)`` when the queue is empty. Raises
        `MessageTooLargeError` for a message over ``max_message_size``."""
        result: Any = self._rpc("basic_get", timeout, self._get_on_loop, queue, auto_ack)
        if isinstance(result, exceptions.MessageTooLargeError):
            raise result
        return result

    def _get_on_loop(self, queue: str, auto_ack: bool, callback: Callable[[Any], None]) -> None:
        # Basic.Get replies come back in request order: the head of _gets is
        # always the request the next GetOk or GetEmpty answers.
        self._impl.basic_get(queue, self._on_get_ok, auto_ack)
        self._gets.append(callback)

    def _on_get_ok(
        self,
        _impl: channel_mod.Channel,
        method: spec.Basic.GetOk,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        self._gets.popleft()((method, properties, body))

    def _on_get_empty(self, _method_frame: frame.Method) -> None:
        if self._gets:
            self._gets.popleft()((None, None, None))

    def _on_too_large(
        self, _impl: channel_mod.Channel, error: exceptions.MessageTooLargeError
    ) -> None:
        if type(error.method) is spec.Basic.GetOk:
            if self._gets:
                self._gets.popleft()(error)
            return
        if not self._too_large_callbacks:
            LOGGER.error("%s (no on_message_too_large callback is registered)", error)
        for callback in list(self._too_large_callbacks):
            self._hand_over(callback, (self, error))

    # --------------------------------------------------- exchanges and queues

    # --------------------------------------------------------------- closing

    def close(
        self,
        reply_code: int = 0,
        reply_text: str = "Normal shutdown",
        timeout: Optional[float] = DEFAULT_RPC_TIMEOUT,
    ) -> None:
        """Close the channel and wait until it is closed.

        Several threads may close at once; they all wait for the same close.
        Raises ChannelWrongStateError on a channel that is already closed.
        """
        self._connection._call(
            f"close() of channel {self._impl.channel_number}",
            timeout,
            lambda reply: self._close_on_loop(reply, reply_code, reply_text, strict=True),
        )

    def abort(
        self,
        reply_code: int = 0,
        reply_text: str = "Normal shutdown",
        timeout: Optional[float] = DEFAULT_RPC_TIMEOUT,
    ) -> None:
        """Like `close`, but never raises AMQP errors: harmless on a closed
        channel or connection, and gives up silently after ``timeout`` s.

        Args:
            reply_code: The reason code sent to the broker.
            reply_text: The reason text sent to the broker.
            timeout: Seconds to wait; None for no limit.
        """
        try:
            self._connection._call(
                f"abort() of channel {self._impl.channel_number}",
                timeout,
                lambda reply: self._close_on_loop(reply, reply_code, reply_text, strict=False),
            )
        except exceptions.AMQPError as error:
            LOGGER.debug("abort() of channel %d: %r", self._impl.channel_number, error)

    def _close_on_loop(
        self, reply: CallResult, reply_code: int, reply_text: str, strict: bool
    ) -> None:
        impl = self._impl
        if impl.is_closed:
            if strict:
                raise exceptions.ChannelWrongStateError(
                    f"channel {impl.channel_number} is already closed"
                )
            reply.resolve(None)
            return
        self._closing.append(reply)
        if not impl.is_closing:
            impl.close(reply_code, reply_text)

    # --------------------------------------------- I/O-thread event handlers

    def _hand_over(self, function: Function, args: tuple[Any, ...]) -> None:
        """Queue a user callback for the worker thread (I/O thread).

        Waits up to work_queue_put_timeout for room; if there is none, the
        channel is closed with a WorkQueueFullError (see `_work_queue_full`).
        """
        if self._failure is not None:
            try:
                self._worker.put_nowait(function, args)
            except queue.Full:
                LOGGER.error(
                    "channel %d: work queue still full, %r%s not run",
                    self._impl.channel_number,
                    function,
                    _describe_delivery(args),
                )
            return
        try:
            queued = self._worker.put(function, args)
        except queue.Full:
            self._work_queue_full(function, args)
            return
        if not queued:
            LOGGER.warning(
                "channel %d: the connection is closing and the work queue is full: %r%s not run",
                self._impl.channel_number,
                function,
                _describe_delivery(args),
            )

    def _work_queue_full(self, function: Function, args: tuple[Any, ...]) -> None:
        number = self._impl.channel_number
        self._failure = exceptions.WorkQueueFullError(
            f"channel {number}: callbacks did not keep up, its work queue "
            f"(work_queue_maxsize={self._work_queue_maxsize}) stayed full for "
            f"work_queue_put_timeout={self._work_queue_put_timeout} s; the connection "
            f"was closed and its unacknowledged messages returned to their queues"
        )
        LOGGER.error("%s; %r%s not run", self._failure, function, _describe_delivery(args))
        self._connection._close_for(self._failure)

    def _connection_interrupted(self, error: ConnectionInterrupted) -> None:
        """The connection broke and is being recovered (I/O thread).

        The replies this channel waited for will never come: their callers
        get ``error``. A channel that `Connection.channel` has not returned
        yet (its caller gets ``error`` too) is closed, so the recovery drops it.
        """
        pending, self._pending = self._pending, set()
        self._gets.clear()
        for reply in pending:
            reply.fail(error)
        if not self._delivered and self._impl.is_opening:
            self._impl.close(0, "channel() was interrupted by a connection loss")

    def _on_closed(self, _impl: channel_mod.Channel, reason: BaseException) -> None:
        self._closed_by = reason
        self._connection._channels.discard(self)
        error = self._failure or self._connection._failure or reason
        pending, self._pending = self._pending, set()
        for reply in pending:
            reply.fail(error)
        self._gets.clear()
        closing, self._closing = self._closing, []
        for reply in closing:
            reply.resolve(None)
        for _number, (on_publish, _properties, _body) in self._unconfirmed.take_all():
            self._hand_over(on_publish, (error,))
        self._ack_nack_callback = None
        self._worker.close()

    def _on_return(
        self,
        _impl: channel_mod.Channel,
        method: spec.Basic.Return,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        if not self._return_callbacks:
            LOGGER.warning(
                "channel %d: message returned by the broker (%s %s) and no "
                "on_return callback is registered",
                self._impl.channel_number,
                method.reply_code,
                method.reply_text,
            )
        for callback in list(self._return_callbacks):
            self._hand_over(callback, (self, method, properties, body))

    def _on_cancel(self, method_frame: frame.Method) -> None:
        for callback in list(self._cancel_callbacks):
            self._hand_over(callback, (method_frame,))


def _describe_delivery(args: tuple[Any, ...]) -> str:
    """`` for delivery N`` when ``args`` are those of `Channel._deliver`, else ``''``."""
    for arg in args:
        if isinstance(arg, spec.Basic.Deliver):
            return f" for delivery {arg.delivery_tag}"
    return ""
